package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Members of a cluster (issue 24). Each process that shares the database as
// a member joins it under an id of its own. One connection, taken out of
// the pool, holds for the member's lifetime:
//   - the member's advisory lock (lockMembers, hashtext(id)): a second
//     process started with the same id is refused (ErrMemberTaken);
//   - lockExclusiveUse, shared: a tool that wants the database to itself
//     (`surfaces reset`) gets ErrLocked while any member runs, and a member
//     cannot join while such a tool runs;
//   - once TakeIngress has returned, lockIngress: the one member that reads
//     the homeserver.
//
// Those locks are the liveness. PostgreSQL releases a session's locks when
// its connection ends, however its process ended (kill -9 included), so a
// waiting member's next try succeeds and nobody waits out a heartbeat. The
// members table only describes the members, for `surfaces cluster status`;
// whether one is alive, and whether it holds the ingress, is read from
// pg_locks.

// MemberInfo describes a member's process, for the members table.
type MemberInfo struct {
	Host string
	PID  int
}

// MemberStatus is one row of Members: a member that joined, and whether its
// process still holds its lock.
type MemberStatus struct {
	ID       string
	Host     string
	PID      int
	JoinedAt time.Time
	// Live says the member's session still holds its lock.
	Live bool
	// Ingress says it holds the ingress lock now.
	Ingress bool
	// ActorSystemID, ActorAddress (host:port) and Kinds are what the
	// member advertised of its actor system (Advertise); empty before.
	ActorSystemID, ActorAddress string
	Kinds                       []string
	// Grains is how many room grains the member hosted when it last said
	// (ReportGrains); -1 for a member that hosts none.
	Grains int
}

// Member is this process's membership of the cluster on the database.
// Create it with Store.Join; its methods are safe for concurrent use.
type Member struct {
	id string
	// mu guards conn: a pgx.Conn runs one statement at a time.
	mu   sync.Mutex
	conn *pgx.Conn

	lost     chan struct{}
	lostOnce sync.Once
	stop     context.CancelFunc
	done     chan struct{}
}

// memberCheckInterval is how often a member checks that its session (and
// so its locks) is still there, and how often a waiting member tries the
// ingress lock: a member that died is replaced within about this long.
const memberCheckInterval = time.Second

// maxMemberID bounds a member id (config checks its characters).
const maxMemberID = 64

// Join makes this process the member id of the cluster sharing the
// database: ErrMemberTaken if a running process already is, ErrLocked if a
// tool holds the database exclusively, each after Options.LockWait (a
// member killed and restarted at once finds its old session's locks held
// for a moment). The member's locks last until Leave, or until its
// connection is lost (Lost).
func (s *Store) Join(ctx context.Context, id string, info MemberInfo) (*Member, error) {
	if id == "" || len(id) > maxMemberID {
		return nil, fmt.Errorf("failed to join the cluster: member id %q: empty or longer than %d bytes", id, maxMemberID)
	}
	conn, err := s.holdMember(ctx, id)
	if err == nil {
		_, err = conn.Exec(ctx, `INSERT INTO members (member_id, host, pid, joined_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (member_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, joined_at = excluded.joined_at`,
			id, info.Host, info.PID)
	}
	if err != nil {
		if conn != nil {
			closeSession(ctx, conn)
		}
		return nil, fmt.Errorf("failed to join the cluster: %w", err)
	}
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m := &Member{id: id, conn: conn, lost: make(chan struct{}), stop: stop, done: make(chan struct{})}
	go m.watch(watchCtx)
	return m, nil
}

// holdMember takes a connection out of the pool and, on it, member id's
// advisory lock and the shared-use lock, trying again for Options.LockWait
// (a member killed a moment ago holds its lock until PostgreSQL notices).
// It fails with ErrMemberTaken while a running process is that member and
// ErrLocked while a tool holds the database; on an error the locks and the
// connection are given back, and conn is nil. Join and Retire hold them.
func (s *Store) holdMember(ctx context.Context, id string) (*pgx.Conn, error) {
	var conn *pgx.Conn
	err := s.do(ctx, func(ctx context.Context) error {
		pooled, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conn = pooled.Hijack()
		return nil
	})
	if err != nil {
		return nil, err
	}
	var own, shared bool
	_, err = whileRefused(ctx, s.lockWait, func() (bool, error) {
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2)), pg_try_advisory_lock_shared($3)`,
			lockMembers, id, lockExclusiveUse).Scan(&own, &shared)
		if err == nil && !(own && shared) {
			// Whichever it took goes back before the next try.
			_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
		return !(own && shared), err
	})
	switch {
	case err != nil:
	case !own:
		err = fmt.Errorf("member id %q: %w", id, ErrMemberTaken)
	case !shared:
		err = ErrLocked
	default:
		return conn, nil
	}
	closeSession(ctx, conn)
	return nil, err
}

// ID is the member's id.
func (m *Member) ID() string { return m.id }

// Lost is closed when the member's session is gone (the connection broke,
// or the server ended it): its locks are released, so another member may
// hold the ingress already. A member that held it must stop at once.
func (m *Member) Lost() <-chan struct{} { return m.lost }

// watch checks the session every memberCheckInterval until stopped or lost.
func (m *Member) watch(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(memberCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.ping(ctx); err != nil {
			if ctx.Err() == nil {
				m.markLost()
			}
			return
		}
	}
}

func (m *Member) ping(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	pingCtx, cancel := context.WithTimeout(ctx, 5*memberCheckInterval)
	defer cancel()
	return m.conn.Ping(pingCtx)
}

func (m *Member) markLost() {
	m.lostOnce.Do(func() { close(m.lost) })
}

// TakeIngress waits until this member holds the ingress lock, trying every
// memberCheckInterval: at once when no member holds it, else once its
// holder has left or died. ErrMemberLost if the member's own session is
// lost first.
func (m *Member) TakeIngress(ctx context.Context) error {
	for {
		got, err := m.TryIngress(ctx)
		if err != nil {
			return err
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.lost:
			return ErrMemberLost
		case <-time.After(memberCheckInterval):
		}
	}
}

// TryIngress takes the ingress lock if no member holds it, and says
// whether this member holds it now.
func (m *Member) TryIngress(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.lost:
		return false, ErrMemberLost
	default:
	}
	var got bool
	if err := m.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockIngress).Scan(&got); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		m.markLost()
		return false, fmt.Errorf("%w: %w", ErrMemberLost, err)
	}
	return got, nil
}

// Advertise records where the member's actor system listens (address,
// host:port), its id and the grain kinds it hosts, for the other members'
// cluster providers (clustering.Provider).
func (m *Member) Advertise(ctx context.Context, systemID, address string, kinds []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if kinds == nil {
		kinds = []string{}
	}
	if _, err := m.conn.Exec(ctx, `UPDATE members SET actor_system_id = $2, actor_address = $3, kinds = $4 WHERE member_id = $1`,
		m.id, systemID, address, kinds); err != nil {
		return fmt.Errorf("failed to advertise member %s: %w", m.id, err)
	}
	return nil
}

// ReportGrains records how many room grains the member hosts now.
func (m *Member) ReportGrains(ctx context.Context, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.conn.Exec(ctx, `UPDATE members SET grains = $2 WHERE member_id = $1`, m.id, n); err != nil {
		return fmt.Errorf("failed to report the grains of member %s: %w", m.id, err)
	}
	return nil
}

// Leave ends the membership: the member's row is deleted and its session
// closed, which releases its locks (the ingress too). Leaving twice is a
// no-op.
func (m *Member) Leave(ctx context.Context) error {
	m.stop()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn.IsClosed() {
		return nil
	}
	select {
	case <-m.lost:
		// The session is gone, and its locks with it; the row stays,
		// shown as a member that is not live.
		_ = m.conn.Close(context.WithoutCancel(ctx))
		return nil
	default:
	}
	_, derr := m.conn.Exec(ctx, `DELETE FROM members WHERE member_id = $1`, m.id)
	cerr := closeSession(ctx, m.conn)
	m.markLost()
	if err := errors.Join(derr, cerr); err != nil {
		return fmt.Errorf("failed to leave the cluster: %w", err)
	}
	return nil
}

// closeSession releases the session's advisory locks, then closes it.
// Closing alone releases them too, but only once the server has ended the
// session, a moment after the client returns: a member restarted at once
// under the same id found its own old lock still held and was refused as a
// duplicate of itself.
func closeSession(ctx context.Context, conn *pgx.Conn) error {
	ctx = context.WithoutCancel(ctx)
	_, uerr := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	return errors.Join(uerr, conn.Close(ctx))
}

// Members lists the members that joined and have not left, the live ones
// and the ones whose process ended without leaving, by id.
func (s *Store) Members(ctx context.Context) ([]MemberStatus, error) {
	var out []MemberStatus
	err := s.do(ctx, func(ctx context.Context) error {
		// An advisory lock of two int4 keys is (classid, objid, objsubid
		// 2); of one bigint key (high half, low half, objsubid 1).
		rows, err := s.pool.Query(ctx, `
			WITH held AS (
				SELECT classid::bigint AS classid, objid::bigint AS objid, objsubid, pid FROM pg_locks
				WHERE locktype = 'advisory' AND granted
				  AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
			SELECT m.member_id, m.host, m.pid, m.joined_at, m.actor_system_id, m.actor_address, m.kinds, m.grains, h.pid IS NOT NULL,
				h.pid IS NOT NULL AND EXISTS (SELECT 1 FROM held i
					WHERE i.pid = h.pid AND i.objsubid = 1 AND i.classid = $2 AND i.objid = $3)
			FROM members m
			LEFT JOIN held h ON h.objsubid = 2 AND h.classid = $1 AND h.objid = (hashtext(m.member_id)::bigint & 4294967295)
			ORDER BY m.member_id`, lockMembers, lockIngress>>32, lockIngress&0xffff_ffff)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (MemberStatus, error) {
			var st MemberStatus
			err := r.Scan(&st.ID, &st.Host, &st.PID, &st.JoinedAt, &st.ActorSystemID, &st.ActorAddress, &st.Kinds, &st.Grains, &st.Live, &st.Ingress)
			return st, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list the members: %w", err)
	}
	return out, nil
}
