package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/matrix"
	"github.com/surfaces-bot/surfaces/persistence"
	"github.com/surfaces-bot/surfaces/persistence/pgstore"
	"github.com/surfaces-bot/surfaces/workspace"
)

// The wiring `run` and the operator tools (`reconcile`, `reset`) share.

// errStateInUse is the one line an operator reads when the bot holds the
// state directory.
var errStateInUse = errors.New("the state directory is in use: stop the bot first")

// wiring holds the dependencies built from the configuration alone: a
// mistake in them is the operator's (errConfig), found before anything is
// opened or dialled.
type wiring struct {
	registry *agents.Registry
	catalog  *catalog.Catalog
	dialer   *agents.Dialer
	files    *workspace.Files
}

func newWiring(cfg *config.Config) (wiring, error) {
	registry, err := loadRegistry(cfg)
	if err != nil {
		return wiring{}, err
	}
	cat, err := catalog.New(cfg.Locale)
	if err != nil {
		return wiring{}, fmt.Errorf("%w: locale: %w", errConfig, err)
	}
	return wiring{
		registry: registry,
		catalog:  cat,
		dialer: agents.NewDialer(agents.Options{
			ConnectTimeout:  cfg.Agents.ConnectTimeout,
			StatusTimeout:   cfg.Agents.StatusTimeout,
			TurnIdleTimeout: cfg.Agents.TurnIdleTimeout,
		}),
		files: workspace.New(cfg.Workspace.Dir, int64(cfg.Workspace.MaxFileSize)),
	}, nil
}

// deps are the actors' ports over store and mx.
func (w wiring) deps(store actors.Store, mx *matrix.Client) actors.Deps {
	return actors.Deps{Store: store, Matrix: mx, Agents: w.dialer, Registry: w.registry, Catalog: w.catalog, Files: w.files}
}

// stateStore is what the bot and the operator tools need of a backend:
// the actors' records, the Matrix side's state, a local reset.
// persistence.Store (Badger) and pgstore.Store (PostgreSQL) implement it.
type stateStore interface {
	actors.Store
	matrix.StateStore
	DeleteMeta(ctx context.Context, name string) error
	Wipe(ctx context.Context) error
	Close() error
}

var (
	_ stateStore = (*persistence.Store)(nil)
	_ stateStore = (*pgstore.Store)(nil)
)

// openState opens the configured backend: the Badger database in
// state.path, or the PostgreSQL database of persistence.postgres_dsn.
func openState(ctx context.Context, cfg *config.Config) (stateStore, error) {
	if cfg.Persistence.Backend == config.BackendPostgres {
		// The members of a cluster share the database; a single bot holds
		// it, as it holds a Badger directory.
		return openPostgres(ctx, cfg.Persistence.PostgresDSN.Reveal(), pgstore.Options{Shared: cfg.Cluster.Enabled})
	}
	return openStore(ctx, cfg.State.Path)
}

// openStateIfExists is openState for the tools that must not create a
// Badger state directory; absent says the directory did not exist and the
// store is an empty one in memory. A PostgreSQL database always exists.
func openStateIfExists(ctx context.Context, cfg *config.Config) (store stateStore, absent bool, err error) {
	if cfg.Persistence.Backend == config.BackendPostgres {
		store, err := openPostgres(ctx, cfg.Persistence.PostgresDSN.Reveal(), pgstore.Options{})
		return store, false, err
	}
	return openStoreIfExists(ctx, cfg.State.Path)
}

// postgresCryptoDSN is where the crypto store lives: the records' database
// on PostgreSQL, else "" (the SQLite file in state.path).
func postgresCryptoDSN(cfg *config.Config) string {
	if cfg.Persistence.Backend == config.BackendPostgres {
		return cfg.Persistence.PostgresDSN.Reveal()
	}
	return ""
}

// postgresConnectTimeout bounds the first connection: a wrong host should
// stop the start with a message, not hang it.
const postgresConnectTimeout = 15 * time.Second

// openPostgres opens the PostgreSQL store, turning each way the start can
// be wrong into one line saying what to do.
func openPostgres(ctx context.Context, dsn string, opts pgstore.Options) (*pgstore.Store, error) {
	openCtx, cancel := context.WithTimeout(ctx, postgresConnectTimeout)
	defer cancel()
	store, err := pgstore.Open(openCtx, dsn, opts)
	switch {
	case errors.Is(err, pgstore.ErrLocked):
		return nil, errors.New("the PostgreSQL database is in use by another process: stop the bot first (in a cluster, every member)")
	case errors.Is(err, pgstore.ErrUnreachable):
		return nil, fmt.Errorf("%w: persistence.postgres_dsn: %w; check the host and port, and that the server is running", errConfig, err)
	case errors.Is(err, pgstore.ErrSchemaNewer):
		return nil, fmt.Errorf("%w; run the newer binary, or restore a backup taken before it migrated the database", err)
	case err != nil:
		return nil, fmt.Errorf("failed to open the PostgreSQL state (persistence.postgres_dsn): %w", err)
	}
	return store, nil
}

// openStore opens the Badger state directory at path.
func openStore(ctx context.Context, path string) (*persistence.Store, error) {
	store, err := persistence.Open(ctx, path, persistence.Options{})
	if errors.Is(err, persistence.ErrLocked) {
		return nil, fmt.Errorf("%w (%s)", errStateInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open state at %s: %w", path, err)
	}
	return store, nil
}

// openStoreIfExists opens the state directory at path when it exists, and
// otherwise an empty store in memory, so that a dry run or a reset does not
// create the directory. absent says which.
func openStoreIfExists(ctx context.Context, path string) (store stateStore, absent bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		store, err := persistence.Open(ctx, "", persistence.Options{InMemory: true})
		return store, true, err
	}
	store, err = openStore(ctx, path)
	return store, false, err
}

// connect logs the bot in, keeping its session in store: the bot's one
// session, or with session (memberSession) that member's own.
func connect(ctx context.Context, cfg *config.Config, store matrix.StateStore, session string) (*matrix.Client, error) {
	creds := matrix.Credentials{
		Homeserver:  cfg.Matrix.Homeserver,
		UserID:      cfg.Matrix.UserID,
		Password:    cfg.Matrix.Password.Reveal(),
		AccessToken: cfg.Matrix.AccessToken.Reveal(),
		DeviceID:    cfg.Matrix.DeviceID,
		Session:     session,
	}
	if cfg.Matrix.Mode == config.ModeAppservice {
		tokens, err := appserviceTokens(cfg)
		if err != nil {
			return nil, err
		}
		creds.AccessToken, creds.Password, creds.Appservice = tokens.as, "", true
		creds.NeedDevice = cfg.Matrix.Encryption != config.EncryptionOff
	}
	return matrix.Connect(ctx, creds, store)
}

// memberSession names this member's own Matrix session and Olm account,
// or is "" for the bot's one device. With cluster.grains and encryption
// each member encrypts what the rooms placed on it send, with a device of
// its own: one device's sessions and ratchets cannot be shared by
// processes that encrypt at once.
func memberSession(cfg *config.Config, member string) string {
	if cfg.Cluster.Grains && cfg.Matrix.Encryption != config.EncryptionOff {
		return member
	}
	return ""
}

// asTokens are appservice mode's two tokens.
type asTokens struct{ as, hs string }

// appserviceTokens takes the tokens from the configuration, else from the
// registration file.
func appserviceTokens(cfg *config.Config) (asTokens, error) {
	as := cfg.Matrix.Appservice
	if as.ASToken != "" && as.HSToken != "" {
		return asTokens{as.ASToken.Reveal(), as.HSToken.Reveal()}, nil
	}
	reg, err := matrix.LoadRegistration(as.Registration)
	if err != nil {
		return asTokens{}, fmt.Errorf("%w: matrix.appservice.registration: %w", errConfig, err)
	}
	return asTokens{reg.ASToken, reg.HSToken}, nil
}
