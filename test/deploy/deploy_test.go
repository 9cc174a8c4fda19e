// Package deploy checks the Dockerfile and the compose files without a
// Docker engine (none runs here): they parse, reference files that exist,
// pass settings the bot understands, and the binaries the Dockerfile builds
// build with the same flags.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/surfaces-bot/surfaces/agents"
	"github.com/surfaces-bot/surfaces/config"
	"github.com/surfaces-bot/surfaces/test/harness"
)

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Healthcheck *struct {
			Test        []string `yaml:"test"`
			Interval    string   `yaml:"interval"`
			Timeout     string   `yaml:"timeout"`
			StartPeriod string   `yaml:"start_period"`
			Retries     int      `yaml:"retries"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadCompose(t *testing.T, name string) compose {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func TestComposeFiles(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct {
		file     string
		services []string
	}{
		{"docker-compose.prod.yml", []string{"surfaces"}},
		{"docker-compose.fullstack.yml", []string{"surfaces", "dendrite", "proxy", "agent-0", "agent-1"}},
		{"docker-compose.cluster.yml", []string{"postgres", "surfaces-1", "surfaces-2", "surfaces-3"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := loadCompose(t, tc.file)
			for _, name := range tc.services {
				if _, ok := c.Services[name]; !ok {
					t.Errorf("no service %q", name)
				}
			}
			for name, svc := range c.Services {
				for _, v := range svc.Volumes {
					src, _, _ := strings.Cut(v, ":")
					switch {
					case strings.HasPrefix(src, "./"):
						if _, err := os.Stat(filepath.Join(root, src)); err != nil && src != "./config" {
							t.Errorf("%s mounts %s, which does not exist", name, src)
						}
					case strings.HasPrefix(src, "/"):
					default:
						if _, ok := c.Volumes[src]; !ok {
							t.Errorf("%s uses volume %q, not declared", name, src)
						}
					}
				}
				for _, p := range svc.Ports {
					if !strings.HasPrefix(p, "127.0.0.1:") {
						t.Errorf("%s publishes %s beyond loopback", name, p)
					}
				}
			}
			members := map[string]string{}
			for name, bot := range c.Services {
				if bot.Image != "surfaces:latest" || len(bot.Entrypoint) > 0 {
					continue // not the bot (an agent runs the image's refagent)
				}
				if _, ok := bot.Environment["SURFACES_WORKSPACE_DIR"]; !ok {
					t.Errorf("%s gets no workspace dir", name)
				}
				// Every setting the compose file passes is one the bot knows.
				env := []string{
					"MATRIX_HOMESERVER=http://127.0.0.1:8008", "MATRIX_USER_ID=@surfaces:localhost",
					"MATRIX_PASSWORD=compose-check-pw", "MATRIX_AGENT_REGISTRY_PATH=/x.yaml", "SURFACES_WORKSPACE_DIR=/agents",
					"SURFACES_MATRIX_PICKLE_KEY=compose-check-pickle-key", // what .env sets
				}
				for k, v := range bot.Environment {
					env = append(env, k+"="+v)
				}
				cfg, err := config.Load(config.LoadOptions{Env: env, SkipValidation: true})
				if err != nil {
					t.Fatal(err)
				}
				if u := cfg.UnknownEnv(); len(u) > 0 {
					t.Errorf("%s: compose sets unknown variables %v", name, u)
				}
				if cfg.Cluster.Enabled {
					if _, err := config.Load(config.LoadOptions{Env: env}); err != nil {
						t.Errorf("%s: the member's settings do not validate: %v", name, err)
					}
					if other, ok := members[cfg.Cluster.MemberID]; ok {
						t.Errorf("%s and %s are both member %q", name, other, cfg.Cluster.MemberID)
					}
					members[cfg.Cluster.MemberID] = name
				}
			}
			if strings.Contains(tc.file, "cluster") && len(members) != 3 {
				t.Errorf("%d cluster members, want 3", len(members))
			}
		})
	}
}

func TestFullstackRegistryAndProxyAgree(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "deploy", "matrix-agents.fullstack.yaml")
	snap, err := agents.ReadSnapshot(path, agents.PolicyDefault)
	if err != nil {
		t.Fatal(err)
	}
	nginx, err := os.ReadFile(filepath.Join(root, "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	c := loadCompose(t, "docker-compose.fullstack.yml")
	for _, a := range snap.Agents() {
		prefix := "/" + strings.ReplaceAll(a.ID, "-", "_") + "/"
		if !strings.Contains(a.BaseURL, prefix) {
			t.Errorf("%s base_url %s does not end in %s", a.ID, a.BaseURL, prefix)
		}
		if !strings.Contains(string(nginx), "location "+prefix+" ") {
			t.Errorf("nginx does not route %s", prefix)
		}
		if _, ok := c.Services[a.ID]; !ok {
			t.Errorf("no container serves %s", a.ID)
		}
	}
}

var goBuild = regexp.MustCompile(`CGO_ENABLED=0 go build ([^&\\]*)`)

// TestDockerfileBuilds runs the Dockerfile's own go build lines.
func TestDockerfileBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	builds := goBuild.FindAllStringSubmatch(string(data), -1)
	if len(builds) != 2 {
		t.Fatalf("found %d go build lines, want 2 (surfaces, refagent)", len(builds))
	}
	if !strings.Contains(builds[0][1], "-tags goolm") || !strings.Contains(builds[0][1], "./cmd/surfaces") {
		t.Fatalf("the bot is not built with -tags goolm: %q", builds[0][1])
	}
	for _, copyLine := range regexp.MustCompile(`(?m)^COPY (config/\S+) (config/\S+)`).FindAllStringSubmatch(string(data), -1) {
		for _, f := range copyLine[1:] {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("Dockerfile copies %s: %v", f, err)
			}
		}
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, b := range builds {
		// The Dockerfile's line as written, with /out/ redirected to a temp
		// dir, split the way the image's shell would: no shell is needed here
		// (a machine with only Go runs this test).
		line := strings.ReplaceAll(b[1], "/out/", out+"/")
		args, err := shellWords(line, map[string]string{"VERSION": "test"})
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", line, err, msg)
		}
	}
	version, err := exec.Command(filepath.Join(out, "surfaces"), "version").Output()
	if err != nil || strings.TrimSpace(string(version)) != "surfaces test" {
		t.Fatalf("built binary says %q, %v", version, err)
	}

	// The image's HEALTHCHECK command, with the image's wildcard listen
	// address and no other setting: 0 while /readyz says 200, 1 when
	// nothing answers.
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			fmt.Fprintln(w, "ready")
			return
		}
		http.NotFound(w, r)
	}))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ready.URL, "http://"))
	health := func() (int, string) {
		cmd := exec.Command(filepath.Join(out, "surfaces"), "healthcheck")
		cmd.Env = []string{"SURFACES_HTTP_LISTEN=0.0.0.0:" + port}
		msg, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(msg)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(msg)
	}
	if code, msg := health(); code != 0 {
		t.Fatalf("healthcheck of a ready bot: exit %d: %s", code, msg)
	}
	ready.Close()
	if code, msg := health(); code != 1 {
		t.Fatalf("healthcheck with nothing listening: exit %d, want 1: %s", code, msg)
	}
}

// healthcheckBound is how long `surfaces healthcheck` itself waits at most
// (cmd/surfaces/healthcheck.go): the container's check timeout must leave
// it that long.
const healthcheckBound = 3 * time.Second

// dockerfileInstruction returns the arguments of every instruction named
// name in the Dockerfile's final stage, continuation lines joined.
func dockerfileInstruction(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var found []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			found = nil // only the final stage is the image
		case name:
			found = append(found, strings.TrimSpace(strings.TrimSpace(line)[len(f[0]):]))
		}
	}
	return found
}

// TestHealthchecks: the image and both compose files check the bot with
// its own `healthcheck` subcommand (distroless has no curl or shell), in
// exec form, with a timeout the subcommand fits in.
func TestHealthchecks(t *testing.T) {
	entry := dockerfileInstruction(t, "ENTRYPOINT")
	var bin []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0]), &bin) != nil || len(bin) != 1 {
		t.Fatalf("want one exec-form ENTRYPOINT with the binary alone, got %q", entry)
	}
	want := []string{bin[0], "healthcheck"}

	hc := dockerfileInstruction(t, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK in the final stage, got %q", hc)
	}
	opts, cmd, ok := strings.Cut(hc[0], "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(cmd)), &argv) != nil || !slices.Equal(argv, want) {
		t.Fatalf("HEALTHCHECK %q: want CMD %q in exec form", hc[0], want)
	}
	timeout := 30 * time.Second // Docker's default
	for _, o := range strings.Fields(opts) {
		if v, ok := strings.CutPrefix(o, "--timeout="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("HEALTHCHECK --timeout=%s: %v", v, err)
			}
			timeout = d
		}
	}
	if timeout <= healthcheckBound {
		t.Errorf("HEALTHCHECK timeout %s does not leave the subcommand its %s", timeout, healthcheckBound)
	}

	for _, file := range []string{"docker-compose.prod.yml", "docker-compose.fullstack.yml"} {
		t.Run(file, func(t *testing.T) {
			bot := loadCompose(t, file).Services["surfaces"]
			if bot.Healthcheck == nil {
				t.Fatal("the bot has no healthcheck")
			}
			if got := bot.Healthcheck.Test; !slices.Equal(got, append([]string{"CMD"}, want...)) {
				t.Errorf("healthcheck test %q, want %q", got, append([]string{"CMD"}, want...))
			}
			if d, err := time.ParseDuration(bot.Healthcheck.Timeout); err != nil || d <= healthcheckBound {
				t.Errorf("healthcheck timeout %q does not leave the subcommand its %s (%v)", bot.Healthcheck.Timeout, healthcheckBound, err)
			}
			// The bot's compose listen address is reachable from inside
			// the container on loopback (healthcheck maps a wildcard).
			if listen := bot.Environment["SURFACES_HTTP_LISTEN"]; listen != "" && !strings.HasPrefix(listen, "0.0.0.0:") && !strings.HasPrefix(listen, "127.0.0.1:") && !strings.HasPrefix(listen, ":") {
				t.Errorf("SURFACES_HTTP_LISTEN %q: healthcheck would not reach it on loopback", listen)
			}
		})
	}
}

// shellWords splits a command line as a POSIX shell would for the subset a
// Dockerfile's RUN line here uses: words separated by blanks, double quotes
// grouping, and ${NAME} or $NAME replaced from vars.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '"':
			quoted, inWord = !quoted, true
		case ch == '$':
			name, rest := "", line[i+1:]
			if strings.HasPrefix(rest, "{") {
				end := strings.IndexByte(rest, '}')
				if end < 0 {
					return nil, fmt.Errorf("unclosed ${ in %q", line)
				}
				name, i = rest[1:end], i+1+end
			} else {
				n := 0
				for n < len(rest) && (rest[n] == '_' || rest[n] >= 'A' && rest[n] <= 'Z' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= '0' && rest[n] <= '9') {
					n++
				}
				name, i = rest[:n], i+n
			}
			word.WriteString(vars[name])
			inWord = true
		case (ch == ' ' || ch == '\t' || ch == '\n') && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unclosed quote in %q", line)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`-tags goolm -ldflags "-s -w -X main.version=${VERSION}" -o /o/s ./cmd/surfaces `,
			[]string{"-tags", "goolm", "-ldflags", "-s -w -X main.version=test", "-o", "/o/s", "./cmd/surfaces"}},
		{`-ldflags "-s -w" -o /o/r ./cmd/refagent`, []string{"-ldflags", "-s -w", "-o", "/o/r", "./cmd/refagent"}},
		{`a$VERSION b""`, []string{"atest", "b"}},
	}
	for _, tc := range tests {
		got, err := shellWords(tc.line, map[string]string{"VERSION": "test"})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"open`, `${OPEN`} {
		if _, err := shellWords(bad, nil); err == nil {
			t.Errorf("shellWords(%q): want an error", bad)
		}
	}
}
