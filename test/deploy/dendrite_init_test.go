package deploy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// TestDendriteInitScript runs the fullstack compose's one-shot Dendrite
// setup (deploy/dendrite-init.sh) as the dendrite-init service would, with
// the Dendrite binaries the e2e tests build (the same v0.15.2 the compose's
// image pins) in place of the image's /usr/bin, and the two volumes as temp
// directories. Then it starts Dendrite with the compose's own command line
// and registers the bot's account with the script's shared secret, the step
// the compose file tells the operator to take next.
func TestDendriteInitScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds (or reuses) Dendrite and runs it")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bins, err := harness.BuildDendrite(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c := loadCompose(t, "docker-compose.fullstack.yml")
	initSvc, hs := c.Services["dendrite-init"], c.Services["dendrite"]
	if !slices.Equal(initSvc.Entrypoint, []string{"/bin/sh", "/deploy/dendrite-init.sh"}) || !slices.Contains(initSvc.Volumes, "./deploy:/deploy:ro") {
		t.Fatalf("dendrite-init does not run ./deploy/dendrite-init.sh: entrypoint %q, volumes %q", initSvc.Entrypoint, initSvc.Volumes)
	}
	// The setup writes into the volumes Dendrite then reads.
	for _, target := range []string{"/etc/dendrite", "/var/dendrite"} {
		if src := mountOf(initSvc.Volumes, target); src == "" || src != mountOf(hs.Volumes, target) {
			t.Errorf("%s: dendrite-init mounts %q, dendrite %q; want the same volume", target, src, mountOf(hs.Volumes, target))
		}
	}

	script, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "dendrite-init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"/usr/bin/generate-keys", "/usr/bin/generate-config"} {
		if !bytes.Contains(script, []byte(bin)) {
			t.Fatalf("the script no longer runs %s: this test needs updating", bin)
		}
	}
	root := t.TempDir()
	etc, data := filepath.Join(root, "etc", "dendrite"), filepath.Join(root, "var", "dendrite")
	for _, d := range []string{etc, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inContainer := strings.NewReplacer("/usr/bin/", bins.Dir+"/", "/etc/dendrite", etc, "/var/dendrite", data)
	local := filepath.Join(root, "dendrite-init.sh")
	if err := os.WriteFile(local, []byte(inContainer.Replace(string(script))), 0o755); err != nil {
		t.Fatal(err)
	}
	runInit := func() {
		t.Helper()
		cmd := exec.CommandContext(ctx, sh, local)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dendrite-init.sh: %v\n%s", err, out)
		}
	}
	runInit()
	cfgPath, keyPath := filepath.Join(etc, "dendrite.yaml"), filepath.Join(etc, "matrix_key.pem")
	first := readAll(t, cfgPath, keyPath)
	var cfg struct {
		Global struct {
			ServerName string `yaml:"server_name"`
		} `yaml:"global"`
		ClientAPI struct {
			SharedSecret string `yaml:"registration_shared_secret"`
		} `yaml:"client_api"`
	}
	if err := yaml.Unmarshal([]byte(first[0]), &cfg); err != nil {
		t.Fatalf("dendrite.yaml: %v", err)
	}
	if cfg.Global.ServerName != "localhost" || cfg.ClientAPI.SharedSecret != "fullstack" {
		t.Fatalf("server_name %q, registration_shared_secret %q; want localhost and fullstack", cfg.Global.ServerName, cfg.ClientAPI.SharedSecret)
	}
	// A restart of the stack runs the setup again: it must keep both files.
	runInit()
	if again := readAll(t, cfgPath, keyPath); !slices.Equal(first, again) {
		t.Fatal("a second run of the setup changed dendrite.yaml or the signing key")
	}

	// Dendrite as the compose starts it, on a free loopback port instead of
	// 0.0.0.0:8008, in the image's WORKDIR /etc/dendrite (the config names
	// the signing key relative to it).
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := make([]string, len(hs.Command))
	for i, a := range hs.Command {
		args[i] = inContainer.Replace(a)
		if i > 0 && hs.Command[i-1] == "-http-bind-address" {
			args[i] = addr
		}
	}
	if !slices.Contains(args, addr) {
		t.Fatalf("the dendrite service's command %q has no -http-bind-address", hs.Command)
	}
	logPath := filepath.Join(root, "dendrite.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	proc := exec.Command(bins.Dendrite, args...)
	proc.Dir = etc
	proc.Stdout, proc.Stderr = logFile, logFile
	proc.WaitDelay = 5 * time.Second
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = proc.Wait()
		close(exited)
	}()
	defer func() {
		_ = proc.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("dendrite (pid %d) did not exit after SIGKILL", proc.Process.Pid)
		}
	}()
	base := "http://" + addr
	if err := waitVersions(ctx, base, exited); err != nil {
		select {
		case <-exited:
			err = fmt.Errorf("%w (%v)", err, waitErr)
		default:
		}
		t.Fatalf("%v\n%s", err, harness.TailFile(logPath, 30))
	}
	user, err := registerWithSecret(ctx, base, cfg.ClientAPI.SharedSecret, "surfaces", "surfaces-password")
	if err != nil {
		t.Fatalf("registering the bot with the shared secret: %v\n%s", err, harness.TailFile(logPath, 20))
	}
	if user != "@surfaces:localhost" {
		t.Fatalf("registered %q, want @surfaces:localhost (the fullstack bot's MATRIX_USER_ID)", user)
	}
	if bot := c.Services["surfaces"].Environment; bot["MATRIX_USER_ID"] != user || bot["MATRIX_PASSWORD"] != "surfaces-password" {
		t.Errorf("the bot logs in as %q / %q, not as the account the compose's instructions create", bot["MATRIX_USER_ID"], bot["MATRIX_PASSWORD"])
	}
}

// mountOf is the source mounted at target in a compose volumes list.
func mountOf(volumes []string, target string) string {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

func readAll(t *testing.T, paths ...string) []string {
	t.Helper()
	out := make([]string, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(data)
	}
	return out
}

// waitVersions asks /_matrix/client/versions until it answers 200, giving up
// when Dendrite exits or after two minutes. There is no event to wait on in
// another process, so it polls.
func waitVersions(ctx context.Context, base string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if resp, err := client.Get(base + "/_matrix/client/versions"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("dendrite exited")
		case <-ctx.Done():
			return fmt.Errorf("dendrite did not answer at %s: %w", base, ctx.Err())
		case <-tick.C:
		}
	}
}

// registerWithSecret creates a user through the shared-secret registration
// API (/_synapse/admin/v1/register, which Dendrite implements).
func registerWithSecret(ctx context.Context, base, secret, user, password string) (string, error) {
	const path = "/_synapse/admin/v1/register"
	call := func(method string, in, out any) error {
		var body bytes.Buffer
		if in != nil {
			if err := json.NewEncoder(&body).Encode(in); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, &body)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var msg bytes.Buffer
			_, _ = msg.ReadFrom(resp.Body)
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg.String())
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := call(http.MethodGet, nil, &nonce); err != nil {
		return "", err
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(nonce.Nonce + "\x00" + user + "\x00" + password + "\x00notadmin"))
	var out struct {
		UserID string `json:"user_id"`
	}
	err := call(http.MethodPost, map[string]any{
		"nonce": nonce.Nonce, "username": user, "password": password, "admin": false,
		"mac": hex.EncodeToString(mac.Sum(nil)),
	}, &out)
	return out.UserID, err
}
