package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/surfaces-bot/surfaces/config"
)

// healthcheckTimeout bounds the whole request: a container health check
// must answer well within its own timeout.
const healthcheckTimeout = 3 * time.Second

// cmdHealthcheck asks the running bot's /readyz (PRODUCT R8.2) and exits 0
// when it answers 200, 1 otherwise, with one line on stderr saying why. It
// is the image's HEALTHCHECK: the distroless image has no curl. It reads
// only http.listen, so it works with any credentials or none.
func cmdHealthcheck(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("healthcheck", stderr)
	rawURL := fs.String("url", "", "URL to GET (default: http://<http.listen>/readyz, 127.0.0.1 for a wildcard host)")
	if !parseArgs(fs, args, stderr) {
		return exitUsage
	}
	target := *rawURL
	if target == "" {
		target = readyzURL(httpListen(*path, env))
	} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "surfaces healthcheck: --url %q is not an http(s) URL\n", target)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "surfaces: not ready: %v\n", err)
		return exitFailed
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "surfaces: not ready: %s\n", oneLine(err.Error()))
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "surfaces: not ready: %s answered %s: %s\n", target, resp.Status, oneLine(string(body)))
		return exitFailed
	}
	fmt.Fprintf(stdout, "ready: %s\n", target)
	return exitOK
}

// httpListen is the configured http.listen. The configuration is loaded
// without validation, so missing or wrong Matrix settings do not matter;
// when even that fails (a file that does not parse), it falls back to
// SURFACES_HTTP_LISTEN, then the default.
func httpListen(path string, env []string) string {
	cfg, err := config.Load(config.LoadOptions{ConfigPath: path, Env: env, SkipValidation: true})
	if err == nil && cfg.HTTP.Listen != "" {
		return cfg.HTTP.Listen
	}
	listen := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "SURFACES_HTTP_LISTEN="); ok && v != "" {
			listen = v
		}
	}
	if listen != "" {
		return listen
	}
	return config.Defaults().HTTP.Listen
}

// readyzURL is the /readyz URL of a listen address; a wildcard host
// (":8080", "0.0.0.0:8080", "[::]:8080") is reached on 127.0.0.1.
func readyzURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/readyz"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
