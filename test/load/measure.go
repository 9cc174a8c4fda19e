package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// snapshot is what is read from the bot and the system at one moment.
type snapshot struct {
	families        map[string]*dto.MetricFamily
	botCPU, hsCPU   time.Duration
	botPeakRSSBytes int64
	// pid is the bot's process: a cluster run's ingress holder.
	pid int
}

// sample reads the bot's metrics and the processes' CPU and memory.
func (r *run) sample() (snapshot, error) {
	stack := r.stack
	addr, pid := stack.HTTPAddr(), stack.Bot.Pid()
	if r.cluster != nil {
		m := r.cluster.current()
		addr, pid = m.addr, m.proc.Pid()
	}
	var s snapshot
	s.pid = pid
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return s, fmt.Errorf("failed to scrape the bot: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if s.families, err = parser.TextToMetricFamilies(resp.Body); err != nil {
		return s, fmt.Errorf("failed to parse the bot's metrics: %w", err)
	}
	s.botCPU = cpuTime(pid)
	s.hsCPU = cpuTime(stack.HS.Pid())
	if r.db != nil {
		// The homeserver's work includes its database's: every backend
		// of the PostgreSQL server, which share its process group.
		s.hsCPU += groupCPUTime(r.db.Pid())
	}
	s.botPeakRSSBytes = peakRSS(pid)
	return s, nil
}

// sum adds the samples of a counter whose labels include match.
func (s snapshot) sum(name string, match map[string]string) float64 {
	f, ok := s.families[name]
	if !ok {
		return 0
	}
	total := 0.0
metrics:
	for _, m := range f.GetMetric() {
		for k, v := range match {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue metrics
			}
		}
		total += m.GetCounter().GetValue()
	}
	return total
}

// stageMedians estimates each stage's median over the run from the
// histogram buckets' growth (linear inside the bucket), in ms.
func stageMedians(before, after snapshot) map[string]float64 {
	out := map[string]float64{}
	f, ok := after.families["surfaces_turn_stage_seconds"]
	if !ok {
		return out
	}
	prev := map[string]*dto.Histogram{}
	if bf, ok := before.families["surfaces_turn_stage_seconds"]; ok {
		for _, m := range bf.GetMetric() {
			prev[stageOf(m)] = m.GetHistogram()
		}
	}
	for _, m := range f.GetMetric() {
		stage, h := stageOf(m), m.GetHistogram()
		count := float64(h.GetSampleCount())
		var prevBuckets []*dto.Bucket
		if p := prev[stage]; p != nil {
			count -= float64(p.GetSampleCount())
			prevBuckets = p.GetBucket()
		}
		if count <= 0 {
			continue
		}
		cum := func(i int) float64 {
			n := float64(h.GetBucket()[i].GetCumulativeCount())
			if i < len(prevBuckets) {
				n -= float64(prevBuckets[i].GetCumulativeCount())
			}
			return n
		}
		out[stage] = bucketQuantile(h.GetBucket(), cum, count, 0.5)
	}
	return out
}

// bucketQuantile estimates the q-quantile, in ms, of count samples in
// buckets whose i-th cumulative count is cum(i), linear inside a bucket;
// past the last finite bucket it is that bucket's bound.
func bucketQuantile(buckets []*dto.Bucket, cum func(int) float64, count, q float64) float64 {
	lower, below := 0.0, 0.0
	for i, b := range buckets {
		n := cum(i)
		if n >= q*count {
			frac := 0.0
			if n > below {
				frac = (q*count - below) / (n - below)
			}
			return (lower + frac*(b.GetUpperBound()-lower)) * 1000
		}
		lower, below = b.GetUpperBound(), n
	}
	return lower * 1000
}

// histogramQuantiles is the p50, p95 and p99 (ms) of the samples of the
// unlabelled histogram name in s, from its buckets.
func histogramQuantiles(s snapshot, name string) Quantiles {
	f, ok := s.families[name]
	if !ok || len(f.GetMetric()) == 0 {
		return Quantiles{}
	}
	h := f.GetMetric()[0].GetHistogram()
	count := float64(h.GetSampleCount())
	if count == 0 {
		return Quantiles{}
	}
	cum := func(i int) float64 { return float64(h.GetBucket()[i].GetCumulativeCount()) }
	return Quantiles{N: int(count), P50: bucketQuantile(h.GetBucket(), cum, count, 0.50),
		P95: bucketQuantile(h.GetBucket(), cum, count, 0.95), P99: bucketQuantile(h.GetBucket(), cum, count, 0.99)}
}

func stageOf(m *dto.Metric) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == "stage" {
			return lp.GetValue()
		}
	}
	return ""
}

// cpuTime is a process's user and system CPU time (Linux /proc; 0
// elsewhere).
func cpuTime(pid int) time.Duration {
	// utime is the 12th field from state, stime the 13th, in clock ticks
	// of 1/100 s.
	fields := statFields(pid)
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// groupCPUTime is the CPU time of every live process in the process group
// pgid (Linux /proc; 0 elsewhere).
func groupCPUTime(pgid int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if fields := statFields(pid); len(fields) > 2 && fields[2] == strconv.Itoa(pgid) {
			total += cpuTime(pid)
		}
	}
	return total
}

// statFields are the fields of /proc/PID/stat after the command's closing
// parenthesis (state first), nil when unreadable.
func statFields(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	return strings.Fields(rest)
}

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quantiles of ds in ms (nearest rank).
func quantiles(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(sorted)))) - 1
		return ms(sorted[max(i, 0)])
	}
	return Quantiles{N: len(sorted), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(sorted[len(sorted)-1])}
}

// logMark is where each of the bot's logs ended when a run began, so that
// the run reads only its own turns.
type logMark map[string]int64

func markLogs(paths []string) logMark {
	m := logMark{}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			m[p] = fi.Size()
		}
	}
	return m
}

// logStageMedians is the median of each stage, in ms, over the "turn
// ended" lines the bot logged past from in the logs at paths: exact, where
// the histogram's doubling buckets give a median only to within its
// bucket (16–32 ms for a first visible reply). A stage a turn did not
// reach (0) is left out, as the histogram leaves it out; taken, which is
// observed for every turn, is not; a turn restored from the record (no
// clock) is left out whole, as the histogram leaves it out. Nil when no
// turn ended, or when a log could not be read whole (the buckets then).
func logStageMedians(paths []string, from logMark) map[string]float64 {
	samples := map[string][]time.Duration{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		if _, err := f.Seek(from[p], io.SeekStart); err != nil {
			_ = f.Close()
			return nil
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.Contains(line, []byte(`"message":"turn ended"`)) {
				continue
			}
			var entry struct {
				Stages map[string]float64 `json:"stages_ms"`
			}
			if json.Unmarshal(line, &entry) != nil || entry.Stages == nil ||
				entry.Stages["recorded"] == 0 && entry.Stages["final"] == 0 {
				continue
			}
			for stage, ms := range entry.Stages {
				if ms > 0 || stage == "taken" {
					samples[stage] = append(samples[stage], time.Duration(math.Round(ms*float64(time.Millisecond))))
				}
			}
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil
		}
	}
	if len(samples) == 0 {
		return nil
	}
	out := map[string]float64{}
	for stage, v := range samples {
		// The same median as the table's first visible reply (nearest
		// rank), so that the stages and the reply read alike.
		out[stage] = quantiles(v).P50
	}
	return out
}
