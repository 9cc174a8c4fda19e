package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/config"
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
	push := cfg.Matrix.Appservice.ToDevice == config.ToDevicePush
	if push {
		reg.PushKeys()
	}
	// With encryption the bot needs a device, which Synapse makes for an
	// appservice only when asked (MSC4190); Dendrite makes one anyway.
	reg.MSC4190 = cfg.Matrix.Encryption != config.EncryptionOff
	if err := reg.Write(file, *force); err != nil {
		fmt.Fprintln(stderr, "surfaces appservice register:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, `wrote %s: the application service %q for %s, reached at %s, not rate-limited.
Load it into the homeserver and restart it:
  Synapse:  homeserver.yaml  app_service_config_files: ["%s"]
  Dendrite: dendrite.yaml    app_service_api: {config_files: ["%s"]}
Then run the bot with matrix.mode: appservice and matrix.appservice.registration: %s
(SURFACES_MATRIX_MODE, SURFACES_MATRIX_APPSERVICE_REGISTRATION). The file holds secrets:
keep it readable by the bot and the homeserver only.
`, file, reg.ID, cfg.Matrix.UserID, target, file, file, file)
	if reg.MSC4190 {
		fmt.Fprint(stdout, `With encryption on, the bot makes itself a device where the homeserver made none for the
appservice (Synapse), as the registration allows (io.element.msc4190); Synapse also needs
  experimental_features: {msc3202_device_masquerading: true}
for the bot's requests to act as that device.
`)
	}
	if push {
		fmt.Fprint(stdout, `It asks the homeserver to push to-device events, device lists and one-time key counts
(matrix.appservice.to_device: push). Synapse does with, in homeserver.yaml:
  experimental_features: {msc2409_to_device_messages_enabled: true, msc3202_transaction_extensions: true}
Dendrite does not: there keep matrix.appservice.to_device: sync.
`)
	}
	return exitOK
}

// runAppservice reads the homeserver as an application service until ctx
// ends: it hands the actors what the inbox kept from before a stop or a
// crash, then serves the appservice API. *settle is set to what stores
// the inbox's acks once the actors have stopped. With encryption on and
// matrix.appservice.to_device: sync, the bot's device also syncs for its
// to-device events (the homeserver may not push them), and the bot is
// ready once it has; with push, the transactions bring them.
func runAppservice(ctx context.Context, cfg *config.Config, mx *matrix.Client, sink matrix.Sink, h *health, settle *func()) error {
	log := zerolog.Ctx(ctx)
	tokens, err := appserviceTokens(cfg)
	if err != nil {
		return err
	}
	as := mx.Appservice(ctx, sink, matrix.AppserviceOptions{HSToken: tokens.hs})
	*settle = as.Close
	// What the homeserver pushed before a stop or a crash and the actors
	// had not finished with goes to them first, in order.
	if err := as.Resume(ctx); err != nil {
		return err
	}
	listening := func() {
		h.synced.Store(true) // the homeserver pushes
		h.announce(log)
	}
	switch {
	case cfg.Matrix.Encryption == config.EncryptionOff:
	case cfg.Matrix.Appservice.ToDevice == config.ToDevicePush:
		log.Info().Msg("to-device events come in the transactions (matrix.appservice.to_device: push)")
		as.DeviceReady(ctx)
	default:
		deviceSynced := make(chan struct{})
		toDeviceCtx, stopToDevice := context.WithCancel(ctx)
		toDeviceDone := make(chan error, 1)
		go func() {
			toDeviceDone <- mx.RunToDevice(toDeviceCtx, func() {
				as.DeviceReady(toDeviceCtx)
				close(deviceSynced)
			})
		}()
		defer func() {
			stopToDevice()
			if err := <-toDeviceDone; err != nil {
				log.Error().Err(err).Msg("to-device sync stopped")
			}
		}()
		ready := listening
		listening = func() {
			go func() {
				select {
				case <-deviceSynced:
					ready()
				case <-ctx.Done():
				}
			}()
		}
	}
	return serveAppservice(ctx, cfg.Matrix.Appservice.Listen, as.Handler(), listening)
}

// serveAppservice serves the application service API on addr until ctx
// ends; listening calls once the homeserver can reach it. A transaction
// being kept gets a few seconds to be answered; one not answered is sent
// again by the homeserver after the next start.
func serveAppservice(ctx context.Context, addr string, h http.Handler, listening func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: matrix.appservice.listen: %w", errConfig, err)
	}
	log := zerolog.Ctx(ctx)
	log.Info().Str("addr", ln.Addr().String()).Msg("appservice API listening")
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	listening()
	select {
	case err := <-done:
		return fmt.Errorf("appservice API stopped: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn().Err(err).Msg("appservice API shutdown")
	}
	return nil
}
