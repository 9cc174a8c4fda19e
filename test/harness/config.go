package harness

import (
	"fmt"
	"strings"
)

// configEdit replaces the value of one YAML key that generate-config prints
// exactly once. The config is edited as text because the main module should
// not depend on a YAML library for its tests, and generate-config's output is
// pinned with Dendrite's version, so a missing key is a loud error, not a
// silent no-op.
type configEdit struct {
	key   string // the key without indentation, e.g. "disable_federation"
	value string // the new YAML scalar
}

// configEdits are the changes StartHomeserver makes to generate-config -ci:
// no federation (tests never reach other servers, and must not try), a
// readable log level, an absolute key path (the working directory is only a
// convenience) and a higher upload limit for tests of files.
func configEdits(dir string, opts Options) []configEdit {
	edits := []configEdit{
		{key: "disable_federation", value: "true"},
		{key: "level", value: opts.LogLevel},
		{key: "private_key", value: yamlQuote(dir + "/matrix_key.pem")},
		{key: "max_file_size_bytes", value: fmt.Sprint(opts.MaxUploadBytes)},
	}
	if len(opts.Appservices) > 0 {
		files := make([]string, len(opts.Appservices))
		for i, f := range opts.Appservices {
			files[i] = yamlQuote(f)
		}
		edits = append(edits, configEdit{key: "config_files", value: "[" + strings.Join(files, ", ") + "]"})
	}
	return edits
}

// applyConfigEdits applies edits to the YAML text; each key must occur exactly
// once.
func applyConfigEdits(yaml string, edits []configEdit) (string, error) {
	lines := strings.Split(yaml, "\n")
	for _, e := range edits {
		found := -1
		for i, line := range lines {
			if !strings.HasPrefix(strings.TrimLeft(line, " -"), e.key+":") {
				continue
			}
			if found >= 0 {
				return "", fmt.Errorf("failed to edit the Dendrite config: key %q occurs more than once", e.key)
			}
			found = i
		}
		if found < 0 {
			return "", fmt.Errorf("failed to edit the Dendrite config: key %q not found", e.key)
		}
		line := lines[found]
		prefix := line[:strings.Index(line, e.key+":")]
		lines[found] = prefix + e.key + ": " + e.value
	}
	return strings.Join(lines, "\n"), nil
}

// sqliteParams are the driver parameters sqliteWAL adds, percent-encoded.
const sqliteParams = "%3F_pragma=journal_mode(WAL)"

// sqliteWAL rewrites every SQLite connection_string of a generated config to
// open its database in write-ahead-log mode, and reports how many it changed.
//
// Why: without cgo Dendrite uses the pure-Go modernc SQLite driver, whose
// Commit (v1.34.5) does not roll back when COMMIT fails. In SQLite's default
// rollback-journal mode a COMMIT must wait for every reader of the file; when
// the busy timeout runs out it fails with SQLITE_BUSY and SQLite keeps the
// transaction open, database/sql hands that connection back to the pool, and
// the next BEGIN on it fails with "cannot start a transaction within a
// transaction" (the panic once seen mid-test). Dendrite applies no pool limits
// to SQLite (max_open_conns is read only for PostgreSQL), so the config cannot
// avoid it by size. In WAL mode readers never block a COMMIT, so it cannot fail
// that way. Dendrite drops the query of a file: URI, so the driver's
// _pragma parameter travels percent-encoded in the path: url.Parse decodes
// %3F back to "?" and the driver reads what follows as its DSN parameters.
//
// The price: in WAL mode a transaction that began by reading and then
// writes fails at once with "database is locked (517)" (SQLITE_BUSY_SNAPSHOT)
// when another connection committed in between; the busy timeout does not
// apply to it. Under load (both cores busy, a cold test run) Dendrite then
// answers 500 to some writes (account data, receipts, notifications). The
// bot retries a 500 on its PUTs (matrix/idempotent.go). Immediate
// transactions (_txlock=immediate) would avoid the 517 but deadlock
// Dendrite, which reads through a second connection inside some of its
// transactions (seen: "database is locked (5)" after the 10 s busy timeout
// on every createRoom).
func sqliteWAL(yaml string) (string, int) {
	const key = "connection_string: file:"
	lines := strings.Split(yaml, "\n")
	n := 0
	for i, line := range lines {
		indent, rest, ok := strings.Cut(line, key)
		if !ok || strings.TrimSpace(indent) != "" || strings.Contains(rest, "%3F") {
			continue
		}
		path := strings.TrimPrefix(strings.TrimSpace(rest), "//")
		if !strings.HasPrefix(path, "/") {
			continue // relative paths: generate-config -dir always writes absolute ones
		}
		lines[i] = indent + key + "//" + path + sqliteParams
		n++
	}
	return strings.Join(lines, "\n"), n
}

// configValue returns the scalar value of a key that occurs once in the YAML
// text, e.g. registration_shared_secret.
func configValue(yaml, key string) (string, error) {
	value, found := "", false
	for line := range strings.Lines(yaml) {
		rest, ok := strings.CutPrefix(strings.TrimLeft(line, " -"), key+":")
		if !ok {
			continue
		}
		if found {
			return "", fmt.Errorf("failed to read the Dendrite config: key %q occurs more than once", key)
		}
		value, found = strings.TrimSpace(rest), true
	}
	if !found {
		return "", fmt.Errorf("failed to read the Dendrite config: key %q not found", key)
	}
	return strings.Trim(value, `"'`), nil
}

// yamlQuote quotes a string as a double-quoted YAML scalar, so temp paths with
// odd characters stay one value.
func yamlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
