// Command surfaces is the Surfaces bot: Matrix users talking to agents.
//
//	surfaces run [-config FILE]              run the bot
//	surfaces reconcile [-config FILE] [--dry-run]
//	                                         bring the local state and the homeserver in step
//	surfaces reset --mode local-only|server-leave-forget [-config FILE] [--dry-run] [--yes]
//	                                         delete the local state (and leave every room)
//	surfaces check-agents [-config FILE] [--agent ID] [--message TEXT] [--timeout D] [--json]
//	                                         open every agent's WebSocket, wait for STATUS
//	                                         (and with --message one turn); exit 0 if all pass
//	surfaces healthcheck [-config FILE] [--url URL]
//	                                         exit 0 if the running bot's /readyz answers 200
//	surfaces appservice register [-config FILE] [--url URL] [--out FILE] [--force]
//	                                         write the bot's appservice registration
//	surfaces cluster status [-config FILE]   list the members of a cluster (cluster.enabled)
//	surfaces cluster retire [-config FILE] MEMBER
//	                                         delete a retired member's device and keys
//	surfaces config validate [-config FILE]  check the configuration and exit
//	surfaces version                         print the version
//
// Configuration comes from an optional YAML file (-config or
// SURFACES_CONFIG), then the environment (see config/surfaces.example.yaml).
// reconcile and reset are for a stopped bot: they open its state directory
// (refused while the bot holds it), log in as the bot, do their one job and
// exit, without syncing. reset changes nothing without --yes.
// check-agents and healthcheck run beside a running bot: check-agents
// needs the configuration and the registry, healthcheck only http.listen
// (it is the container's HEALTHCHECK).
// This package only wires the other packages together.
package main

import (
	"context"
	"errors"
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
	exitFailed = 1 // the bot could not start or stopped on an error, or a tool failed
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
	case "reconcile":
		return cmdReconcile(ctx, args[1:], env, stdout, stderr)
	case "reset":
		return cmdReset(ctx, args[1:], env, stdout, stderr)
	case "check-agents":
		return cmdCheckAgents(ctx, args[1:], env, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, args[1:], env, stdout, stderr)
	case "appservice":
		return cmdAppservice(args[1:], env, stdout, stderr)
	case "cluster":
		return cmdCluster(ctx, args[1:], env, stdout, stderr)
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
  surfaces reconcile [-config FILE] [--dry-run]
                                           bring the local state and the homeserver in step
                                           (--dry-run: print what would change)
  surfaces reset --mode MODE [-config FILE] [--dry-run] [--yes]
                                           MODE local-only: delete the state directory
                                           MODE server-leave-forget: leave and forget every
                                           room the bot is in, then delete the state directory
                                           (--dry-run: print what would go; --yes: do it)
  surfaces check-agents [-config FILE] [--agent ID] [--message TEXT] [--timeout D] [--json]
                                           open every agent's WebSocket (or only ID's) as the
                                           bot would and wait for STATUS; with --message also
                                           run one turn until its END (--timeout per agent,
                                           default 10s); exit 0 only if every agent passed
  surfaces healthcheck [-config FILE] [--url URL]
                                           GET the running bot's /readyz (http.listen, 127.0.0.1
                                           for a wildcard host); exit 0 on 200, else 1
  surfaces appservice register [-config FILE] [--url URL] [--out FILE] [--force]
                                           write the bot's application service registration
                                           (random tokens, the bot's user only, no rate limit)
                                           and print how to load it into the homeserver
  surfaces cluster status [-config FILE]   list the members of the cluster on the PostgreSQL
                                           database, which holds the ingress, which are gone
  surfaces cluster retire [-config FILE] MEMBER
                                           retire a stopped member for good: delete its device
                                           from the bot's account and its keys from the
                                           database, and drop it from the member list
  surfaces config validate [-config FILE]  check the configuration and exit
  surfaces version                         print the version
reconcile and reset need the bot stopped.
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
	fs, path := commandFlags(name, stderr)
	if !parseArgs(fs, args, stderr) {
		return nil, false
	}
	return loadConfigFile(*path, env, stderr)
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
