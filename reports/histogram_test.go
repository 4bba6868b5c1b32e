package reports

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestHistogram(t *testing.T) {
	tests := []struct {
		name   string
		edges  []float64
		xs     []float64
		counts []int
		labels string
	}{
		{"upper edges inclusive", []float64{1, 2}, []float64{0.5, 1, 1.5, 2, 2.5, 99},
			[]int{2, 2, 2}, "≤ 1|1–2|> 2"},
		{"zero edge is its own bucket", []float64{0, 0.5, 1}, []float64{0, 0, 0.2, 0.5, 0.7, 3},
			[]int{2, 2, 1, 1}, "0|0–0.5|0.5–1|> 1"},
		{"no samples", []float64{2, 2.5}, nil, []int{0, 0, 0}, "≤ 2|2–2.5|> 2.5"},
		{"infinities land at the ends", []float64{1}, []float64{math.Inf(-1), math.Inf(1)}, []int{1, 1}, "≤ 1|> 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistogram(tt.edges, tt.xs)
			if !reflect.DeepEqual(h.Counts, tt.counts) {
				t.Errorf("counts = %v, want %v", h.Counts, tt.counts)
			}
			if h.N() != len(tt.xs) {
				t.Errorf("N = %d, want %d", h.N(), len(tt.xs))
			}
			if got := strings.Join(h.Labels(), "|"); got != tt.labels {
				t.Errorf("labels = %q, want %q", got, tt.labels)
			}
		})
	}
	if l := (Histogram{Edges: []float64{1}, Counts: []int{1}}).Labels(); l != nil {
		t.Errorf("labels of a mismatched histogram = %q, want nil", l)
	}
}

func TestSummaryHistograms(t *testing.T) {
	s := summarize([]Result{
		call("a", 4.41, 4.35), call("b", 3.55), call("c", 1.2),
		with(call("d"), func(r *Result) { r.Phases.TotalMS = 2500 }),
		with(failed("e", CauseICE), func(r *Result) {
			r.Phases.TotalMS = 9999 // failed: not a setup sample
			r.Media = []Direction{{Sent: 10, Received: 0, Lost: 10, LossPct: 100}}
		}),
	})
	h := s.Histograms
	if h.MOS.N() != s.MOS.N || h.MOS.Counts[0] != 1 || h.MOS.Counts[4] != 1 || h.MOS.Counts[len(h.MOS.Counts)-2] != 1 {
		t.Errorf("mos histogram = %+v (n %d)", h.MOS, s.MOS.N)
	}
	if h.SetupMS.N() != s.SetupMS.N || h.SetupMS.Counts[5] != 3 || h.SetupMS.Counts[14] != 1 { // 100 ms and 2500 ms
		t.Errorf("setup histogram = %+v", h.SetupMS)
	}
	if h.LossPct.N() != s.Media.LossPct.N || h.LossPct.Counts[len(h.LossPct.Counts)-1] != 1 {
		t.Errorf("loss histogram = %+v (n %d)", h.LossPct, s.Media.LossPct.N)
	}
	if h.JitterMS.N() != s.Media.JitterMS.N {
		t.Errorf("jitter histogram counts %d, jitter n %d", h.JitterMS.N(), s.Media.JitterMS.N)
	}
}
