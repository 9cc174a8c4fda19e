package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/grain"
	actormetrics "github.com/surfaces-bot/surfaces/actors/metrics"
	"github.com/surfaces-bot/surfaces/actors/reconcile"
	"github.com/surfaces-bot/surfaces/actors/root"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/matrix"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
)

func loadRegistry(cfg *config.Config) (*agents.Registry, error) {
	reg, err := agents.LoadRegistry(cfg.Agents.RegistryPath, agents.RegistryOptions{
		Policy:  agents.UnassignedPolicy(cfg.Agents.Unassigned),
		BaseURL: cfg.Agents.BaseURL,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return reg, nil
}

// cmdRun runs the bot. Logs go to stdout (the container convention); the
// one-line reason for a failed start also goes to stderr.
func cmdRun(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig("run", args, env, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg.Log, stdout)
	ctx = log.WithContext(ctx)
	if err := runBot(ctx, cfg, stderr); err != nil {
		// One line for the operator, also as a structured log line.
		log.Error().Err(err).Msg("surfaces stopped")
		fmt.Fprintln(stderr, "surfaces:", err)
		if errors.Is(err, errConfig) {
			return exitUsage
		}
		return exitFailed
	}
	return exitOK
}

// runBot wires the packages together and runs until ctx ends. operator is
// the operator's console (stderr): what must be shown once and never
// logged, such as a new recovery key, goes there.
func runBot(ctx context.Context, cfg *config.Config, operator io.Writer) error {
	log := zerolog.Ctx(ctx)
	wired, err := newWiring(cfg)
	if err != nil {
		return err
	}
	// Edits of the registry file apply without a restart (PRODUCT R5.3).
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go wired.registry.Watch(watchCtx, agents.DefaultWatchInterval)
	store, err := openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error().Err(err).Msg("failed to close state")
		}
	}()

	h := &health{unreadyAfter: cfg.HTTP.UnreadyAfter}
	var member *pgstore.Member
	tookOver := false // another member held the ingress first (awaitIngress)
	memberLabel := ""
	if cfg.Cluster.Enabled {
		if memberLabel, err = memberID(cfg); err != nil {
			return err
		}
		if member, err = joinCluster(ctx, memberLabel, store); err != nil {
			return err
		}
		defer func() {
			if err := member.Leave(context.WithoutCancel(ctx)); err != nil {
				log.Warn().Err(err).Msg("failed to leave the cluster")
			}
		}()
		withMember := log.With().Str("member_id", memberLabel).Logger()
		log, ctx = &withMember, withMember.WithContext(ctx)
	}
	gatherer, metrics := newMetricsRegistry(memberLabel)
	// A single bot holds its own ingress: the dashboard's cluster panels
	// and the SurfacesNoIngress alert read the same series everywhere.
	if err := metrics.Register(ingressGauge(h)); err != nil {
		return fmt.Errorf("failed to register the metrics: %w", err)
	}
	if !cfg.Cluster.Grains {
		if err := registerNoGrains(metrics); err != nil {
			return err
		}
	}
	for _, c := range h.collectors() {
		if err := metrics.Register(c); err != nil {
			return fmt.Errorf("failed to register the metrics: %w", err)
		}
	}
	matrixMetrics, err := newMatrixMetrics(metrics)
	if err != nil {
		return fmt.Errorf("failed to register the metrics: %w", err)
	}
	if err := metrics.Register(newCircuitCollector(wired.dialer)); err != nil {
		return fmt.Errorf("failed to register the metrics: %w", err)
	}
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	addr, httpDone, err := serveHTTP(httpCtx, cfg.HTTP.Listen, h, gatherer, cfg.HTTP.Pprof)
	if err != nil {
		return err
	}
	log.Info().Str("addr", addr).Msg("http listening")
	// standBy waits, in a cluster, until this member holds the ingress;
	// stopped reports a stop while it waited. waiting runs if it waits.
	standBy := func(waiting func()) (stopped bool, err error) {
		if member == nil {
			return false, nil
		}
		if tookOver, err = awaitIngress(ctx, member, h, waiting); err != nil {
			return false, err
		}
		if ctx.Err() != nil {
			return true, nil
		}
		stopWhenLost(ctx, member)
		return false, nil
	}
	stoppedStandingBy := func() error {
		stopHTTP()
		<-httpDone
		log.Info().Msg("stopped while standing by")
		return nil
	}
	if !cfg.Cluster.Grains {
		// Without grains a member standing by serves nothing: it logs in
		// once it takes over.
		if stopped, err := standBy(nil); err != nil {
			return err
		} else if stopped {
			return stoppedStandingBy()
		}
	}

	session := memberSession(cfg, memberLabel)
	mx, err := connect(ctx, cfg, store, session)
	if err != nil {
		return err
	}
	mx.WrapTransport(matrixMetrics.transport)
	// Sending is paced by the homeserver: its 429s reach the pacer from the
	// transport (PRODUCT R12.1).
	pacer := actors.NewSendPacer(actors.RateLimit{Rate: cfg.Matrix.SendRate, Burst: cfg.Matrix.SendBurst})
	mx.WrapTransport(matrix.ObserveRateLimits(pacer.RateLimited))
	h.loggedIn.Store(true)
	h.failingFor.Store(mx.SyncFailingFor)
	log.Info().Str("user_id", mx.UserID()).Str("device_id", mx.DeviceID()).Msg("logged in")
	if cfg.Matrix.Encryption != config.EncryptionOff {
		setUp := func(ctx context.Context) error {
			if err := mx.EnableCrypto(ctx, matrix.CryptoOptions{
				Policy: cfg.Matrix.Encryption,
				Path:   filepath.Join(cfg.State.Path, cryptoFile),
				// On PostgreSQL the keys live with the records: a member
				// of a cluster needs no directory of its own.
				PostgresDSN: postgresCryptoDSN(cfg),
				PickleKey:   cfg.Matrix.PickleKey.Reveal(),
				KeyWait:     cfg.Matrix.KeyWait,
				Account:     session,
			}); err != nil {
				return fmt.Errorf("failed to enable end-to-end encryption: %w", err)
			}
			log.Info().Str("policy", cfg.Matrix.Encryption).Bool("new_device", mx.NewDevice()).Msg("end-to-end encryption on")
			crossSign(ctx, mx, cfg, operator)
			return nil
		}
		var err error
		if pg, ok := store.(*pgstore.Store); ok && session != "" {
			// Members starting together would upgrade the crypto
			// store's schema, and make the bot's cross-signing keys,
			// at once: one at a time.
			err = pg.WithCryptoSetupLock(ctx, setUp)
		} else {
			err = setUp(ctx)
		}
		if err != nil {
			return err
		}
		defer func() {
			if err := mx.CloseCrypto(); err != nil {
				log.Warn().Err(err).Msg("failed to close the crypto store")
			}
		}()
	}
	if name := cfg.Matrix.DisplayName; name != "" {
		if err := mx.SetDisplayName(ctx, name); err != nil {
			log.Warn().Err(err).Msg("failed to set the bot's display name")
		}
	}
	if err := mx.SilenceOwnNotifications(ctx); err != nil {
		// A homeserver that refuses it costs its own work per message,
		// nothing a user sees.
		log.Warn().Err(err).Msg("failed to turn the bot's own push notifications off")
	}

	system := actors.NewActorSystem(*log)
	// Subscribed before the tree exists, so the event cannot be missed.
	reconciled := system.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*reconcile.Reconciled); ok {
			h.reconciled.Store(true)
			h.announce(log)
		}
	})
	defer system.EventStream.Unsubscribe(reconciled)
	// Before the tree too, so that start-up reconciliation is counted.
	treeMetrics, err := actormetrics.New(metrics, system)
	if err != nil {
		return fmt.Errorf("failed to register the metrics: %w", err)
	}
	defer treeMetrics.Close()
	h.failingWrites.Store(treeMetrics.FailingWrites)
	var tasks sync.WaitGroup
	drain := &actors.Drain{}
	deps := wired.deps(store, mx)
	deps.Drain = drain
	deps.Pacer = pacer
	opts := treeOptions(cfg, mx.UserID())
	turns := actors.WatchTurns(system)
	defer turns.Close()
	// letTurnsFinish gives the running turns shutdown.grace (PRODUCT R8.4).
	letTurnsFinish := func() {
		drain.Start()
		if n := turns.Running(); n > 0 {
			log.Info().Int("turns", n).Stringer("grace", cfg.Shutdown.Grace).Msg("letting running turns finish")
			graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Grace)
			if err := turns.WaitIdle(graceCtx); err != nil {
				log.Warn().Int("turns", turns.Running()).Msg("shutdown grace over, cutting the running turns")
			}
			cancel()
		}
	}
	// waitTasks waits (bounded) for the actors' last writes, so that none
	// lands after the store is closed.
	waitTasks := func() {
		drained := make(chan struct{})
		go func() { tasks.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			log.Warn().Msg("gave up waiting for the actors' last writes")
		}
	}
	stopSystem := system.Shutdown
	if cfg.Cluster.Grains {
		// Every member hosts a share of the rooms, from before it takes
		// the ingress (cluster.go, grains.go).
		placer := grain.NewPlacer()
		defer placer.Close()
		grains, err := startGrains(actors.WithTaskGroup(ctx, &tasks), cfg, member, store, system, deps, opts, placer, metrics)
		if err != nil {
			return err
		}
		stopSystem = func() { grains.Shutdown(true) }
		deps.Placer = placer
		// The member's own device syncs for its keys while it stands by,
		// and hands its inbox over empty to the sync of the rooms.
		var stopStandbySync func()
		var waiting func()
		if session != "" {
			waiting = func() { stopStandbySync = standbySync(ctx, mx) }
		}
		stopped, err := standBy(waiting)
		switch {
		case stopStandbySync != nil:
			stopStandbySync()
		case session != "" && err == nil && !stopped:
			// Took the ingress at once: what waits for this member's
			// device is taken before the room sync (DrainDevice).
			mx.DrainDevice(ctx)
		}
		if err != nil || stopped {
			letTurnsFinish()
			stopSystem()
			waitTasks()
			if err != nil {
				return err
			}
			return stoppedStandingBy()
		}
	}
	opts.TookOver = tookOver
	root, err := root.Spawn(actors.WithTaskGroup(ctx, &tasks), system, deps, opts)
	if err != nil {
		return err
	}
	// settleInbox, in appservice mode, stores what the actors acked of the
	// transactions in the inbox once they have stopped.
	settleInbox := func() {}
	defer func() {
		// Sync has stopped, so no new message arrives, and no queued
		// message starts a turn: it stays in its room's record for the
		// next start. Running turns get shutdown.grace to finish (PRODUCT
		// R8.4), so that a reply already on its way is completed; one still
		// running after it is cut, and its user told. Then the tree stops
		// before the store closes: actors persist on the way out.
		letTurnsFinish()
		if err := system.Root.StopFuture(root).Wait(); err != nil {
			log.Warn().Err(err).Msg("actor tree did not stop cleanly")
		}
		stopSystem()
		waitTasks()
		// The sync position goes past what the actors acked on their way
		// out; whatever they did not is delivered again after the start.
		settleInbox()
		if err := mx.CommitSync(context.WithoutCancel(ctx)); err != nil {
			log.Error().Err(err).Msg("failed to store the sync position")
		}
	}()

	sink := func(msg any) {
		matrixMetrics.receivedEvent(msg)
		system.Root.Send(root, msg)
	}
	var syncErr error
	if cfg.Matrix.Mode == config.ModeAppservice {
		syncErr = runAppservice(ctx, cfg, mx, sink, h, &settleInbox)
	} else {
		log.Info().Msg("syncing")
		syncErr = mx.Run(ctx, sink, func() {
			h.synced.Store(true)
			log.Info().Msg("first sync done")
			h.announce(log)
		})
	}
	stopHTTP()
	if err := <-httpDone; err != nil {
		log.Warn().Err(err).Msg("http server stopped")
	}
	if syncErr != nil {
		return syncErr
	}
	log.Info().Msg("shutting down")
	return nil
}

// standbySync runs mx.RunStandby until the returned handOver is called
// (the member took the ingress over), which waits for its last syncs, or
// ctx ends. A standby sync that cannot go on is logged: the member still
// serves its grains, but its device's keys go stale.
func standbySync(ctx context.Context, mx *matrix.Client) (handOver func()) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mx.RunStandby(ctx, stop); err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Msg("this member's device stopped syncing for its keys")
		}
	}()
	return func() { close(stop); <-done }
}

// crossSign self-verifies the bot's device (PRODUCT R10.1). A recovery key
// made now is printed to the operator, once, and never logged; failing to
// cross-sign leaves the device unverified but the bot running.
func crossSign(ctx context.Context, mx *matrix.Client, cfg *config.Config, operator io.Writer) {
	log := zerolog.Ctx(ctx)
	key, err := mx.CrossSign(ctx, cfg.Matrix.RecoveryKey.Reveal(), cfg.Matrix.Password.Reveal())
	if err != nil {
		log.Error().Err(err).Msg("cross-signing failed; the bot's device stays unverified")
		return
	}
	if key == "" {
		return
	}
	fmt.Fprintf(operator, "\nsurfaces: cross-signing is set up for %s.\n"+
		"surfaces: recovery key (shown only this once; keep it secret, and set matrix.recovery_key or\n"+
		"surfaces: SURFACES_MATRIX_RECOVERY_KEY to it so that later devices of the bot are verified too):\n"+
		"surfaces: recovery key: %s\n\n", mx.UserID(), key)
	log.Warn().Msg("cross-signing set up: the recovery key was printed to stderr, once; store it in matrix.recovery_key")
}

// cryptoFile is the crypto store's SQLite file inside the state directory:
// it shares the directory's fate, so a lost directory means a new device.
const cryptoFile = "crypto.db"

// treeOptions are the actors' options from cfg; TookOver is set by the
// caller.
func treeOptions(cfg *config.Config, botUserID string) actors.Options {
	return actors.Options{
		BotUserID:            botUserID,
		HandoverGrace:        cfg.Shutdown.Grace,
		QueueSize:            cfg.Queue.Size,
		EditInterval:         cfg.Streaming.EditInterval,
		MaxEdits:             cfg.Streaming.MaxEdits,
		NotifyAfter:          cfg.Streaming.NotifyAfter,
		CancelGrace:          cfg.Agents.CancelGrace,
		ConfirmTimeout:       cfg.Agents.ConfirmTimeout,
		TypingRefresh:        cfg.Streaming.TypingRefresh,
		TypingAfter:          cfg.Streaming.TypingAfter,
		ConnIdleClose:        cfg.Agents.IdleClose,
		PassivateAfter:       passivateAfter(cfg.Actors.PassivateAfter),
		MaxMessageBytes:      int(cfg.Streaming.MaxMessageBytes),
		SpaceNameTemplate:    cfg.Onboarding.SpaceNameTemplate,
		FirstChatName:        cfg.Onboarding.FirstChatName,
		AllowedServers:       cfg.Matrix.AllowedServers,
		DenyMessage:          cfg.Agents.DenyMessage,
		UserSelectableAgents: cfg.Agents.UserSelectable,
		RateLimit:            actors.RateLimit{Rate: cfg.RateLimit.Rate, Burst: cfg.RateLimit.Burst},
		MaxChats:             cfg.Quota.MaxChats,
		MaxStagedBytes:       int64(cfg.Quota.MaxStagedBytes),
		SendBudget:           actors.RateLimit{Rate: cfg.Matrix.SendRate, Burst: cfg.Matrix.SendBurst},
	}
}

// passivateAfter maps the config's "0: never" to the actors' negative.
func passivateAfter(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
