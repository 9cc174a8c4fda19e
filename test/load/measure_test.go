package load

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Quantiles read off a histogram's buckets are linear inside the bucket
// they fall in.
func TestHistogramQuantiles(t *testing.T) {
	const text = `# TYPE surfaces_room_activation_seconds histogram
surfaces_room_activation_seconds_bucket{le="0.001"} 0
surfaces_room_activation_seconds_bucket{le="0.002"} 50
surfaces_room_activation_seconds_bucket{le="0.004"} 90
surfaces_room_activation_seconds_bucket{le="1.024"} 100
surfaces_room_activation_seconds_bucket{le="+Inf"} 100
surfaces_room_activation_seconds_sum 3
surfaces_room_activation_seconds_count 100
`
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{families: families}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"p50: the top of the 1-2 ms bucket", histogramQuantiles(s, "surfaces_room_activation_seconds").P50, 2},
		{"p95: half way through the 4-1024 ms bucket", histogramQuantiles(s, "surfaces_room_activation_seconds").P95, 514},
		{"p99: nine tenths of it", histogramQuantiles(s, "surfaces_room_activation_seconds").P99, 922},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := tc.got - tc.want; diff > 0.001 || diff < -0.001 {
				t.Fatalf("got %.3f ms, want %.3f", tc.got, tc.want)
			}
		})
	}
	if q := histogramQuantiles(s, "absent"); q.N != 0 {
		t.Fatalf("an absent histogram gave %+v", q)
	}
	if q := histogramQuantiles(s, "surfaces_room_activation_seconds"); q.N != 100 {
		t.Fatalf("n = %d, want 100", q.N)
	}
}

// The stage medians come from the turns the bot logged during the run:
// exact, a run's own (a log's earlier lines are skipped), a stage a turn
// did not reach left out but taken kept at 0, a restored turn left out.
func TestLogStageMedians(t *testing.T) {
	dir := t.TempDir()
	line := func(stages string) string {
		return `{"level":"info","turn_id":1,"stages_ms":{` + stages + `},"time":"2026-12-08T01:17:28Z","message":"turn ended"}` + "\n"
	}
	earlier := line(`"taken":900,"first_visible":900`)
	a := filepath.Join(dir, "surfaces-1.log")
	b := filepath.Join(dir, "surfaces-2.log")
	if err := os.WriteFile(a, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	from := markLogs([]string{a, b})
	appendTo := func(p, s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	appendTo(a, line(`"taken":0,"recorded":3.5,"first_visible":20`)+`{"message":"turn started"}`+"\n")
	appendTo(a, line(`"taken":1,"recorded":2.5,"first_visible":0`))
	appendTo(b, line(`"taken":2,"recorded":4.5,"first_visible":30`)+"not json\n")
	// A turn restored from the record has no clock: left out whole.
	appendTo(b, line(`"taken":0,"recorded":0,"first_visible":0,"final":0`))
	got := logStageMedians([]string{a, b}, from)
	want := map[string]float64{"taken": 1, "recorded": 3.5, "first_visible": 20} // nearest rank, as the table's
	if !maps.Equal(got, want) {
		t.Fatalf("medians %v, want %v", got, want)
	}
	if got := logStageMedians([]string{a, b}, markLogs([]string{a, b})); got != nil {
		t.Fatalf("no turn since the mark: %v, want nil", got)
	}
}
