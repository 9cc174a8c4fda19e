package load

import (
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
