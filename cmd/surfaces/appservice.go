package main

import (
	"fmt"
	"io"
	"net"

	"github.com/surfaces-bot/surfaces/matrix"
)

// cmdAppservice runs `surfaces appservice register`: it writes the bot's
// application service registration and says how to load it.
func cmdAppservice(args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "register" {
		fmt.Fprintln(stderr, "usage: surfaces appservice register [-config FILE] [--url URL] [--out FILE] [--force]")
		return exitUsage
	}
	fs, path := commandFlags("appservice register", stderr)
	url := fs.String("url", "", "where the homeserver reaches the bot's appservice API (default: http://<matrix.appservice.listen>)")
	out := fs.String("out", "", "the file to write (default: matrix.appservice.registration, else surfaces-registration.yaml)")
	force := fs.Bool("force", false, "replace an existing registration (the homeserver must then load the new one)")
	if !parseArgs(fs, args[1:], stderr) {
		return exitUsage
	}
	cfg, ok := loadConfigFile(*path, env, stderr)
	if !ok {
		return exitUsage
	}
	target := *url
	if target == "" {
		host, port, err := net.SplitHostPort(cfg.Matrix.Appservice.Listen)
		if err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
			fmt.Fprintf(stderr, "surfaces appservice register: matrix.appservice.listen %q names no host the homeserver can reach; pass --url\n", cfg.Matrix.Appservice.Listen)
			return exitUsage
		}
		target = "http://" + net.JoinHostPort(host, port)
	}
	file := *out
	if file == "" {
		file = cfg.Matrix.Appservice.Registration
	}
	if file == "" {
		file = "surfaces-registration.yaml"
	}
	reg, err := matrix.NewRegistration(cfg.Matrix.UserID, target)
	if err != nil {
		fmt.Fprintln(stderr, "surfaces appservice register:", err)
		return exitUsage
	}
	if err := reg.Write(file, *force); err != nil {
		fmt.Fprintln(stderr, "surfaces appservice register:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, `wrote %s: the application service %q for %s, reached at %s, not rate-limited.
Load it into the homeserver and restart it:
  Synapse:  homeserver.yaml  app_service_config_files: ["%s"]
  Dendrite: dendrite.yaml    app_service_api: {config_files: ["%s"]}
Then run the bot with matrix.mode: appservice and matrix.appservice.registration: %s
(SURFACES_MATRIX_MODE, SURFACES_MATRIX_APPSERVICE_REGISTRATION); on Synapse also with
matrix.encryption: off (an appservice's token has no device there). The file holds secrets: keep it readable by
the bot and the homeserver only.
`, file, reg.ID, cfg.Matrix.UserID, target, file, file, file)
	return exitOK
}
