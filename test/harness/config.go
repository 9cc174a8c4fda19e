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
	return []configEdit{
		{key: "disable_federation", value: "true"},
		{key: "level", value: opts.LogLevel},
		{key: "private_key", value: yamlQuote(dir + "/matrix_key.pem")},
		{key: "max_file_size_bytes", value: fmt.Sprint(opts.MaxUploadBytes)},
	}
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
