package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// ErrNoPostgres says PostgreSQL's server programs are not installed
// (Debian's package postgresql; .ci/run installs it).
var ErrNoPostgres = errors.New("PostgreSQL is not installed: no directory with initdb, postgres, pg_isready and createdb on PATH or under /usr/lib/postgresql (Debian's package postgresql)")

// PostgresBinDir finds the directory of PostgreSQL's initdb and postgres:
// on PATH, else Debian's /usr/lib/postgresql/VERSION/bin, newest first
// (Debian does not put initdb on PATH).
func PostgresBinDir() (string, error) {
	var dirs []string
	if path, err := exec.LookPath("initdb"); err == nil {
		// Often a symlink into the real directory (which has the rest).
		if real, err := filepath.EvalSymlinks(path); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(path))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, dir := range append(dirs, debian...) {
		if !hasPrograms(dir, postgresPrograms...) {
			continue
		}
		if os.Geteuid() == 0 {
			if _, err := runuserPath(); err != nil {
				return "", err
			}
		}
		return dir, nil
	}
	return "", ErrNoPostgres
}

// runuserPath finds runuser, which runs PostgreSQL as the postgres user
// when the tests run as root: on PATH, else where Debian keeps it (a
// PATH holding only Go's directory has no sbin).
func runuserPath() (string, error) {
	if path, err := exec.LookPath("runuser"); err == nil {
		return path, nil
	}
	for _, path := range []string{"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"} {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", errors.New("PostgreSQL refuses to run as root and runuser, which would run it as postgres, is not found")
}

// postgresPrograms are the programs Postgres runs.
var postgresPrograms = []string{"initdb", "postgres", "pg_isready", "createdb"}

func hasPrograms(dir string, names ...string) bool {
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Postgres is a PostgreSQL server of a test's own: a fresh cluster in a
// temp directory, on a free port of 127.0.0.1, trusting local connections
// of its one superuser. As root it runs as the postgres user (PostgreSQL
// refuses to run as root). Close stops it and removes the directory.
type Postgres struct {
	proc   *Process
	dir    string
	binDir string
	port   int
	asUser string // run the programs as this user ("" for the current one)
	// runuser is the path of runuser when asUser is set.
	runuser string
}

// postgresSuperuser is the cluster's superuser; no password (trust).
const postgresSuperuser = "surfaces"

// PostgresOptions tunes StartPostgresWith.
type PostgresOptions struct {
	// Durable keeps PostgreSQL's defaults of fsync and synchronous commit,
	// for benchmarks that compare stores on durable writes. Otherwise the
	// test server skips them: durability is not what a test checks.
	Durable bool
	// MaxConnections is the server's max_connections (default 300). A
	// homeserver for hundreds of clients needs more (Options.MaxOpenConns).
	MaxConnections int
}

// StartPostgres initialises a cluster in a new temp directory and starts
// it. ctx bounds the start; the server runs until Close.
func StartPostgres(ctx context.Context, binDir string) (*Postgres, error) {
	return StartPostgresWith(ctx, binDir, PostgresOptions{})
}

// StartPostgresWith is StartPostgres with options.
func StartPostgresWith(ctx context.Context, binDir string, opts PostgresOptions) (*Postgres, error) {
	dir, err := os.MkdirTemp("", "surfaces-postgres-*")
	if err != nil {
		return nil, fmt.Errorf("failed to create the PostgreSQL directory: %w", err)
	}
	p := &Postgres{dir: dir, binDir: binDir}
	ok := false
	defer func() {
		if !ok {
			_ = p.Close()
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("failed to find the postgres user to run PostgreSQL as (it refuses root): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("failed to give the PostgreSQL directory to postgres: %w", err)
		}
		if p.runuser, err = runuserPath(); err != nil {
			return nil, err
		}
		p.asUser = "postgres"
	}
	data := filepath.Join(dir, "data")
	initdb := p.command(ctx, "initdb", "-D", data, "-A", "trust", "-U", postgresSuperuser, "--no-sync", "-E", "UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("failed to initialise a PostgreSQL cluster: %w\n%s", err, out)
	}
	if p.port, err = FreePort(); err != nil {
		return nil, err
	}
	args := []string{"-D", data, "-k", dir, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=" + strconv.Itoa(cmp.Or(opts.MaxConnections, 300))}
	if !opts.Durable {
		// A test database: durability is not what is checked.
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	bin, args := p.argv("postgres", args...)
	if p.proc, err = StartProcess(ctx, bin, args, nil, filepath.Join(dir, "postgres.log")); err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// argv returns the command line running the named PostgreSQL program as
// p.asUser.
func (p *Postgres) argv(name string, args ...string) (string, []string) {
	path := filepath.Join(p.binDir, name)
	if p.asUser == "" {
		return path, args
	}
	return p.runuser, append([]string{"-u", p.asUser, "--", path}, args...)
}

func (p *Postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin, argv := p.argv(name, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Dir = p.dir
	return cmd
}

func (p *Postgres) waitReady(ctx context.Context) error {
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		ready := p.command(ctx, "pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", postgresSuperuser, "-q")
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-p.proc.Done():
			return fmt.Errorf("postgres exited during start (%v); last log lines:\n%s", p.proc.ExitErr(), p.proc.LogTail(30))
		case <-ctx.Done():
			return fmt.Errorf("failed to see PostgreSQL ready: %w; last log lines:\n%s", ctx.Err(), p.proc.LogTail(30))
		case <-ticker.C:
		}
	}
}

// CreateDatabase creates the database name and returns its DSN.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	create := p.command(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", postgresSuperuser, name)
	if out, err := create.CombinedOutput(); err != nil {
		return "", fmt.Errorf("failed to create the database %s: %w\n%s", name, err, out)
	}
	return p.DSN(name), nil
}

// DSN is the connection URL of the database name.
func (p *Postgres) DSN(name string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", postgresSuperuser, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), name)
}

// Pid is the server's process id (runuser's, as root), for its CPU time.
func (p *Postgres) Pid() int { return p.proc.Pid() }

// Close stops the server and removes its directory.
func (p *Postgres) Close() error {
	var err error
	if p.proc != nil {
		err = p.proc.Stop()
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}
