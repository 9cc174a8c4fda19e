// Command surfaces is the Surfaces bot: Matrix users talking to agents.
//
//	surfaces run [-config FILE]              run the bot
//	surfaces config validate [-config FILE]  check the configuration and exit
//	surfaces version                         print the version
//
// Configuration comes from an optional YAML file (-config or
// SURFACES_CONFIG), then the environment (see config/surfaces.example.yaml).
// This package only wires the other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/surfaces-bot/surfaces/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the bot could not start or stopped on an error
	exitUsage  = 2 // bad command line or configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: testable with its own args and env.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], env, stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "validate" {
			usage(stderr)
			return exitUsage
		}
		return cmdValidate(args[2:], env, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "surfaces", versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "surfaces: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  surfaces run [-config FILE]              run the bot
  surfaces config validate [-config FILE]  check the configuration and exit
  surfaces version                         print the version
`)
}

func versionString() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return "dev-" + s.Value
			}
		}
	}
	return version
}

// loadConfig parses -config and loads the configuration.
func loadConfig(name string, args, env []string, stderr io.Writer) (*config.Config, bool) {
	fs := flag.NewFlagSet("surfaces "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (default: $SURFACES_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	cfg, err := config.Load(config.LoadOptions{ConfigPath: *path, Env: env})
	if err != nil {
		fmt.Fprintln(stderr, "surfaces:", err)
		return nil, false
	}
	return cfg, true
}

func cmdValidate(args, env []string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig("config validate", args, env, stderr)
	if !ok {
		return exitUsage
	}
	if _, err := loadRegistry(cfg); err != nil {
		fmt.Fprintln(stderr, "surfaces:", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "configuration OK")
	return exitOK
}

// errConfig marks start-up errors that are the operator's configuration.
var errConfig = errors.New("configuration")
