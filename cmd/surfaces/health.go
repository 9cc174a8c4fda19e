package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// health is the state /healthz and /readyz report.
type health struct {
	loggedIn atomic.Bool
	synced   atomic.Bool
	// reconciled is set once start-up reconciliation is over and the tree
	// serves events.
	reconciled atomic.Bool
	// failingFor holds a func() time.Duration saying how long syncing has
	// been failing (set once the Matrix client exists), and unreadyAfter how
	// long that may last before /readyz says 503.
	failingFor   atomic.Value
	unreadyAfter time.Duration
	// failingWrites holds a func() int counting the rooms whose record
	// writes are failing (set once the tree's metrics exist): their
	// events stay unacked, so the bot is not ready while any fails.
	failingWrites atomic.Value
	announced     sync.Once
	// standby is set while this member of a cluster waits for the ingress
	// (cluster.go): alive, not serving.
	standby atomic.Bool
}

// announce logs the one "ready" line, the first time the bot is both synced
// and reconciled (tests and operators wait for it).
func (h *health) announce(log *zerolog.Logger) {
	if h.synced.Load() && h.reconciled.Load() {
		h.announced.Do(func() { log.Info().Msg("ready: synced and reconciled") })
	}
}

// syncFailingFor is how long syncing has been failing, 0 while it works.
func (h *health) syncFailingFor() time.Duration {
	if f, ok := h.failingFor.Load().(func() time.Duration); ok {
		return f()
	}
	return 0
}

// collectors exports what /readyz says, so that Prometheus, which cannot
// read /readyz, can alert on it: surfaces_ready (1 while /readyz answers
// 200) and surfaces_sync_failing_seconds (why it may not).
func (h *health) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "surfaces_ready",
			Help: "1 while /readyz answers 200 (logged in, synced, reconciled, syncing not failing past http.unready_after, record writes landing), else 0.",
		}, func() float64 {
			if h.ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "surfaces_sync_failing_seconds",
			Help: "How long the sync loop has been failing to reach the homeserver, 0 while syncs go through.",
		}, func() float64 { return h.syncFailingFor().Seconds() }),
	}
}

func (h *health) ready() bool {
	if !h.loggedIn.Load() || !h.synced.Load() || !h.reconciled.Load() {
		return false
	}
	if n, ok := h.failingWrites.Load().(func() int); ok && n() > 0 {
		return false
	}
	return h.unreadyAfter <= 0 || h.syncFailingFor() < h.unreadyAfter
}

// serveHTTP serves /healthz (the process is up), /readyz (logged in, the
// first sync processed and start-up reconciliation done) and /metrics on addr until ctx ends. It returns
// the bound address, so ":0" works in tests.
func serveHTTP(ctx context.Context, addr string, h *health, reg prometheus.Gatherer, profile bool) (string, <-chan error, error) {
	mux := http.NewServeMux()
	if profile {
		// http.pprof: net/http/pprof's handlers, on this mux only (its
		// init registers them on the default mux, which nothing serves).
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if h.standby.Load() {
			http.Error(w, "standby: another member of the cluster holds the ingress; this one takes over if it dies", http.StatusServiceUnavailable)
			return
		}
		if !h.ready() {
			http.Error(w, "not ready: not logged in, first sync or reconciliation not done, syncing has been failing, or record writes are failing", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("failed to listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("http server shutdown")
		}
	}()
	return ln.Addr().String(), done, nil
}

// newMetricsRegistry holds the process metrics; the bot's own metrics are
// registered by the packages that own them, through the returned
// Registerer, which labels every series with member when it is not empty
// (a member of a cluster: the members' series stay apart once scraped
// together).
func newMetricsRegistry(member string) (*prometheus.Registry, prometheus.Registerer) {
	reg := prometheus.NewRegistry()
	var r prometheus.Registerer = reg
	if member != "" {
		r = prometheus.WrapRegistererWith(prometheus.Labels{"member": member}, reg)
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, r
}
