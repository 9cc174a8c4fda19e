package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/config"
)

// The operator tools (`reconcile`, `reset`) run while the bot is stopped:
// they open its state directory (Badger's lock refuses while the bot holds
// it), log in as the bot, do their one job and exit. They never sync and
// never start the actor tree. What they find or do goes to stdout in plain
// lines; their logs (warnings and worse) and the one-line reason of a
// failure go to stderr.

// commandFlags is the flag set of a subcommand, with -config.
func commandFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("surfaces "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (default: $SURFACES_CONFIG)")
	return fs, path
}

// parseArgs parses args into fs and refuses arguments left over.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return false
	}
	return true
}

// loadConfigFile loads the configuration from path (or $SURFACES_CONFIG)
// and env, saying on stderr what is wrong with it.
func loadConfigFile(path string, env []string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(config.LoadOptions{ConfigPath: path, Env: env})
	if err != nil {
		fmt.Fprintln(stderr, "surfaces:", err)
		return nil, false
	}
	return cfg, true
}

// toolContext carries the tools' logger: stderr, warnings and worse (an
// operator reads stdout; debug lines of the configured level would bury it).
func toolContext(ctx context.Context, cfg *config.Config, stderr io.Writer) context.Context {
	log := newLogger(cfg.Log, stderr)
	log = log.Level(max(log.GetLevel(), zerolog.WarnLevel))
	return log.WithContext(ctx)
}

// failed reports err in one line and returns its exit code.
func failed(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "surfaces:", err)
	if errors.Is(err, errConfig) {
		return exitUsage
	}
	return exitFailed
}

// plural is "1 user", "2 users".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
