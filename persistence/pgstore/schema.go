package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The schema and its migrations. A migration is appended, never edited: a
// database records the number of migrations applied (surfaces_schema), and
// Open applies the ones after it.

// migrations are the schema's steps; the schema version is how many of them
// a database has applied.
var migrations = []string{
	// 1: the records of persistence's Badger key space, as tables.
	`CREATE TABLE users (
		user_id text COLLATE "C" PRIMARY KEY,
		version integer NOT NULL,
		data    json NOT NULL
	);
	CREATE TABLE rooms (
		room_id    text COLLATE "C" PRIMARY KEY,
		owner_id   text COLLATE "C" NOT NULL,
		chat_index bigint NOT NULL,
		version    integer NOT NULL,
		data       json NOT NULL
	);
	CREATE INDEX rooms_by_owner ON rooms (owner_id, chat_index, room_id);
	CREATE TABLE saved_contexts (
		user_id       text COLLATE "C" NOT NULL,
		name          text COLLATE "C" NOT NULL,
		saved_at_sec  bigint NOT NULL,
		saved_at_nsec integer NOT NULL,
		version       integer NOT NULL,
		data          json NOT NULL,
		PRIMARY KEY (user_id, name)
	);
	CREATE SEQUENCE platform_chat_id AS bigint MINVALUE 1 START WITH 1 NO CYCLE;
	CREATE TABLE sync_state (
		user_id text COLLATE "C" NOT NULL,
		name    text COLLATE "C" NOT NULL,
		value   text NOT NULL,
		PRIMARY KEY (user_id, name)
	);
	CREATE TABLE handled_events (
		event_id   text COLLATE "C" PRIMARY KEY,
		handled_at timestamptz NOT NULL
	);
	CREATE INDEX handled_events_by_age ON handled_events (handled_at);
	CREATE TABLE meta (
		name  text COLLATE "C" PRIMARY KEY,
		value text NOT NULL
	);`,
	// 2: the fencing epoch of each room's activation (actors.RoomRecord.Epoch),
	// a column so that a write can be refused in the statement that makes it.
	`ALTER TABLE rooms ADD COLUMN epoch bigint NOT NULL DEFAULT 0;`,
	// 3: the members of a cluster sharing the database (members.go): who
	// they are; whether they live is read from their locks.
	`CREATE TABLE members (
		member_id text COLLATE "C" PRIMARY KEY,
		host      text NOT NULL,
		pid       integer NOT NULL,
		joined_at timestamptz NOT NULL
	);`,
	// 4: where each member's actor system listens, for protoactor-go's
	// cluster (clustering.Provider): its system id, its remote address and
	// the grain kinds it hosts.
	`ALTER TABLE members ADD COLUMN actor_system_id text NOT NULL DEFAULT '',
		ADD COLUMN actor_address text NOT NULL DEFAULT '',
		ADD COLUMN kinds text[] NOT NULL DEFAULT '{}';`,
	// 5: the appservice inbox (inbox.go): transactions answered 200 that
	// the actor tree has not finished with, in the order they came.
	`CREATE TABLE appservice_inbox (
		key  text COLLATE "C" PRIMARY KEY,
		seq  bigserial NOT NULL,
		body bytea NOT NULL
	);`,
	// 6: how many room grains each member hosts (Member.ReportGrains), for
	// `surfaces cluster status`; -1 for a member that hosts none.
	`ALTER TABLE members ADD COLUMN grains integer NOT NULL DEFAULT -1;`,
}

// SchemaVersion is the schema this binary writes: the number of migrations
// it knows.
var SchemaVersion = len(migrations)

// Advisory lock keys (pg_advisory_lock's one bigint space, shared with
// whatever else uses the database: hence large, arbitrary values).
const (
	// lockMigrate serialises migrations between processes starting together.
	lockMigrate int64 = 0x5375_7266_0001
	// lockSequence is taken shared by NextPlatformChatID and exclusive by
	// RaisePlatformChatID, so that a raise never interleaves with a take.
	lockSequence int64 = 0x5375_7266_0002
	// lockExclusiveUse is held for a Store's lifetime unless
	// Options.Shared, and held shared by every member of a cluster
	// (members.go).
	lockExclusiveUse int64 = 0x5375_7266_0003
	// lockIngress is held by the one member that reads the homeserver.
	lockIngress int64 = 0x5375_7266_0004
	// lockChatIDs is held while a process reads and raises the
	// homeserver's platform_chat_id mark (WithChatIDLock).
	lockChatIDs int64 = 0x5375_7266_0005
	// lockCryptoSetup is held while a member sets up its crypto store and
	// device (WithCryptoSetupLock).
	lockCryptoSetup int64 = 0x5375_7266_0006
)

// lockMembers is the first key of a member's lock (pg_advisory_lock's
// two-int4 form), the second being hashtext of its id.
const lockMembers int32 = 0x5375_726d

// MemberSessionsQuery is the query of the process ids of the database
// sessions that hold member $1's lock: the live member's own session.
// Ending them (pg_terminate_backend) is what the member's death does to
// the cluster, which is how tests kill a member without its process
// noticing first.
func MemberSessionsQuery() string {
	return fmt.Sprintf(`SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 2
		  AND classid::bigint = %d AND objid::bigint = (hashtext($1)::bigint & 4294967295)`, lockMembers)
}

// migrate brings the database to SchemaVersion, or refuses one newer.
func migrate(ctx context.Context, conn *pgx.Conn) (from int, err error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return 0, fmt.Errorf("failed to take the migration lock: %w", err)
	}
	defer func() {
		// The session lock goes with the connection if this fails.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockMigrate); uerr != nil && err == nil {
			err = fmt.Errorf("failed to release the migration lock: %w", uerr)
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS surfaces_schema (
		one     boolean PRIMARY KEY DEFAULT true CHECK (one),
		version integer NOT NULL
	)`); err != nil {
		return 0, fmt.Errorf("failed to create the schema version table: %w", err)
	}
	err = conn.QueryRow(ctx, `SELECT version FROM surfaces_schema`).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		from, err = 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("failed to read the schema version: %w", err)
	}
	if from > SchemaVersion {
		return from, fmt.Errorf("the database's schema is version %d, this binary knows up to %d: %w", from, SchemaVersion, ErrSchemaNewer)
	}
	for v := from; v < SchemaVersion; v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO surfaces_schema (version) VALUES ($1)
				ON CONFLICT (one) DO UPDATE SET version = excluded.version`, v+1)
			return err
		})
		if err != nil {
			return from, fmt.Errorf("failed to migrate the schema to version %d: %w", v+1, err)
		}
	}
	return from, nil
}
