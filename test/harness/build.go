package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// mainModulePath identifies the repository root while walking up: nested modules
// such as test/homeserver have go.mod files too and must be skipped.
const mainModulePath = "github.com/surfaces-bot/surfaces"

// dendritePackages are the commands BuildDendrite builds, in Binaries order.
var dendritePackages = []string{
	"github.com/element-hq/dendrite/cmd/dendrite",
	"github.com/element-hq/dendrite/cmd/generate-keys",
	"github.com/element-hq/dendrite/cmd/generate-config",
}

// Binaries are the paths of the Dendrite executables built by BuildDendrite.
type Binaries struct {
	// Dir is the cache directory holding the three executables.
	Dir string
	// Dendrite is the homeserver itself (cmd/dendrite).
	Dendrite string
	// GenerateKeys writes the server's signing key (cmd/generate-keys).
	GenerateKeys string
	// GenerateConfig prints a dendrite.yaml (cmd/generate-config).
	GenerateConfig string
}

func binariesIn(dir string) Binaries {
	return Binaries{
		Dir:            dir,
		Dendrite:       filepath.Join(dir, "dendrite"),
		GenerateKeys:   filepath.Join(dir, "generate-keys"),
		GenerateConfig: filepath.Join(dir, "generate-config"),
	}
}

// complete reports whether all three executables exist; a cache directory only
// appears by an atomic rename after a successful build, so this is a sanity check.
func (b Binaries) complete() bool {
	for _, p := range []string{b.Dendrite, b.GenerateKeys, b.GenerateConfig} {
		if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// RepoRoot returns the directory of the main module's go.mod, found by walking
// up from the working directory, so tests and the demo work from any folder of
// the repository.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("failed to get the working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == mainModulePath {
			return dir, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("failed to read %s: %w", filepath.Join(dir, "go.mod"), err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("failed to find the go.mod of %s above the working directory", mainModulePath)
		}
		dir = parent
	}
}

// modulePath extracts the module path from go.mod content without a parser:
// the first "module" directive is all that is needed.
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// CacheDir returns the directory where the harness keeps built binaries:
// $SURFACES_TEST_CACHE if set, else os.UserCacheDir()/surfaces-test, else a
// folder in the temp dir (CI machines without a home directory).
func CacheDir() (string, error) {
	dir := os.Getenv("SURFACES_TEST_CACHE")
	if dir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(base, "surfaces-test")
		} else {
			dir = filepath.Join(os.TempDir(), "surfaces-test-cache")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("failed to create the cache directory %s: %w", dir, err)
	}
	return dir, nil
}

// dendriteCacheKey names a build by everything that changes its output: the
// pinned module graph, the toolchain and the target platform.
func dendriteCacheKey(homeserverDir, goVersion string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(homeserverDir, name))
		if err != nil {
			return "", fmt.Errorf("failed to read %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "%s %s/%s cgo=0\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// BuildDendrite builds dendrite, generate-keys and generate-config from the
// pinned module in test/homeserver into CacheDir()/dendrite-<key>, or returns
// the cached ones. The first build downloads modules and compiles for minutes,
// so give it a generous ctx. Two processes calling it at once build only once:
// a file lock serialises them and the result appears by an atomic rename.
func BuildDendrite(ctx context.Context) (Binaries, error) {
	log := zerolog.Ctx(ctx)
	root, err := RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	hsDir := filepath.Join(root, "test", "homeserver")
	version, err := goVersion(ctx)
	if err != nil {
		return Binaries{}, err
	}
	key, err := dendriteCacheKey(hsDir, version)
	if err != nil {
		return Binaries{}, err
	}
	cache, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	final := filepath.Join(cache, "dendrite-"+key)
	if bins := binariesIn(final); bins.complete() {
		return bins, nil
	}

	log.Info().Str("lock", final+".lock").Msg("taking the Dendrite build lock (another test process may be building)")
	unlock, err := lockFile(ctx, final+".lock")
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	// Another process may have finished the build while this one waited.
	if bins := binariesIn(final); bins.complete() {
		log.Info().Str("dir", final).Msg("Dendrite was built by another process")
		return bins, nil
	}
	// A directory without all binaries is a leftover of a manual copy or a
	// crash between rename and use; rebuilding replaces it.
	if err := os.RemoveAll(final); err != nil {
		return Binaries{}, fmt.Errorf("failed to remove the incomplete cache %s: %w", final, err)
	}

	tmp, err := os.MkdirTemp(cache, ".dendrite-"+key+"-*")
	if err != nil {
		return Binaries{}, fmt.Errorf("failed to create a build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	log.Info().Str("module", hsDir).Str("into", final).
		Msg("building Dendrite (first time on this machine: downloads and compiles, can take minutes)")
	start := time.Now()
	args := append([]string{"build", "-o", tmp + string(filepath.Separator)}, dendritePackages...)
	// CGO_ENABLED=0 selects Dendrite's pure-Go SQLite driver (modernc), so a
	// machine with only Go can build it: no C compiler is needed.
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if err := runGo(ctx, hsDir, env, args...); err != nil {
		return Binaries{}, fmt.Errorf("failed to build Dendrite: %w", err)
	}
	// MkdirTemp makes 0700 directories; the cache is meant to be readable
	// like any other build output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("failed to set permissions on %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return Binaries{}, fmt.Errorf("failed to move the Dendrite build into %s: %w", final, err)
	}
	log.Info().Stringer("took", time.Since(start).Round(time.Second)).Str("dir", final).Msg("built Dendrite")
	bins := binariesIn(final)
	if !bins.complete() {
		return Binaries{}, fmt.Errorf("failed to find the Dendrite binaries in %s after the build", final)
	}
	return bins, nil
}

// BuildBinary runs `go build -o out [-tags ...] pkg` in the repository root, for
// packages of the main module such as "./cmd/surfaces" with tag "goolm". A
// relative out is relative to the caller's working directory, not the root.
func BuildBinary(ctx context.Context, pkg, out string, tags ...string) error {
	if pkg == "" || out == "" {
		return errors.New("failed to build: package and output path are required")
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("failed to resolve %s: %w", out, err)
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, pkg)
	start := time.Now()
	if err := runGo(ctx, root, os.Environ(), args...); err != nil {
		return fmt.Errorf("failed to build %s: %w", pkg, err)
	}
	zerolog.Ctx(ctx).Info().Str("package", pkg).Str("out", out).Stringer("took", time.Since(start).Round(time.Second)).Msg("built binary")
	return nil
}

// runGo runs the go command and logs a heartbeat while it runs, because a cold
// build is silent for minutes and a silent test looks hung.
func runGo(ctx context.Context, dir string, env []string, args ...string) error {
	goBin, err := goCommand()
	if err != nil {
		return err
	}
	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = &output
	cmd.Stderr = &output
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start go %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	heartbeat := time.NewTicker(30 * time.Second)
	defer heartbeat.Stop()
	start := time.Now()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(output.String(), 40))
			}
			return nil
		case <-heartbeat.C:
			zerolog.Ctx(ctx).Info().Stringer("elapsed", time.Since(start).Round(time.Second)).
				Str("dir", dir).Msg("go build still running")
		}
	}
}

// goCommand finds the go command in PATH; go test and go run put the toolchain
// that runs them first in PATH, so builds use the same Go as the caller.
func goCommand() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("failed to find the go command: %w", err)
	}
	return p, nil
}

// goVersion asks the go command for its version, which the cache key needs:
// a Dendrite built by another toolchain is a different binary.
func goVersion(ctx context.Context) (string, error) {
	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("failed to run go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// lastLines keeps error messages readable when a build prints pages of output.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
