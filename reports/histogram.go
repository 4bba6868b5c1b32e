package reports

import (
	"slices"
	"strconv"
)

// Histogram counts samples in fixed buckets. Edges are ascending upper
// bounds, inclusive, as Prometheus "le" buckets but not cumulative:
// Counts[0] counts samples <= Edges[0], Counts[i] those in
// (Edges[i-1], Edges[i]], and Counts[len(Edges)] those above the last edge.
// So len(Counts) == len(Edges)+1, and the counts sum to the samples.
// Fixed edges keep summary.json small for any run length and make two runs'
// histograms comparable bucket by bucket.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int     `json:"counts"`
}

// Histograms are the distributions report.html draws: per-call MOS and
// setup time (over connected calls, as mos and setup_ms) and per-direction
// loss and jitter (over the directions media.loss_pct and media.jitter_ms
// count).
type Histograms struct {
	MOS      Histogram `json:"mos"`
	SetupMS  Histogram `json:"setup_ms"`
	LossPct  Histogram `json:"loss_pct"`
	JitterMS Histogram `json:"jitter_ms"`
}

// Bucket edges of each histogram (summary.json states them too). They are
// finer where healthy runs land (MOS near 4.4, setup under a second, loss
// under 1%), so that a drift shows.
var (
	mosEdges      = []float64{2, 2.5, 3, 3.5, 3.6, 3.7, 3.8, 3.9, 4, 4.1, 4.2, 4.3, 4.4}
	setupMSEdges  = []float64{10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000}
	lossPctEdges  = []float64{0, 0.5, 1, 2, 3, 5, 10, 20}
	jitterMSEdges = []float64{1, 2, 5, 10, 20, 30, 50, 100}
)

// newHistogram counts xs in the buckets edges define.
func newHistogram(edges []float64, xs []float64) Histogram {
	h := Histogram{Edges: slices.Clone(edges), Counts: make([]int, len(edges)+1)}
	for _, x := range xs {
		i, _ := slices.BinarySearch(edges, x) // first edge >= x: x <= edges[i]
		h.Counts[i]++
	}
	return h
}

// N returns how many samples h counts.
func (h Histogram) N() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Labels names each bucket for a chart axis: "≤ 2", "2–2.5", ..., "> 4.4".
// A first edge of 0 with nothing below it is labelled "0" (no loss).
// It returns nil when Counts does not match Edges (a hand-edited file).
func (h Histogram) Labels() []string {
	if len(h.Counts) != len(h.Edges)+1 || len(h.Edges) == 0 {
		return nil
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	labels := make([]string, len(h.Counts))
	labels[0] = "≤ " + f(h.Edges[0])
	if h.Edges[0] == 0 {
		labels[0] = "0"
	}
	for i := 1; i < len(h.Edges); i++ {
		labels[i] = f(h.Edges[i-1]) + "–" + f(h.Edges[i])
	}
	labels[len(h.Edges)] = "> " + f(h.Edges[len(h.Edges)-1])
	return labels
}
