package reports

import (
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 <= p <= 100) of xs by the
// nearest-rank method: sort ascending and take the value of rank
// ceil(p/100 * n), counting from 1; p = 0 gives the minimum. The result is
// always one of the samples, which suits the small sample counts of short
// runs (no interpolation invents a figure nobody measured). ok is false when
// xs is empty or p is out of range. xs is not modified.
func Percentile(xs []float64, p float64) (v float64, ok bool) {
	if len(xs) == 0 || p < 0 || p > 100 || math.IsNaN(p) {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return nearestRank(s, p), true
}

// nearestRank is Percentile over an already sorted, non-empty slice.
func nearestRank(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// samples collects one metric's values for percentiles. NaN and infinite
// values are dropped: they are not measurements.
type samples []float64

func (s *samples) add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	*s = append(*s, v)
}

// dist summarises s as median and 95th percentile.
func (s samples) dist() Dist {
	d := Dist{N: len(s)}
	if len(s) == 0 {
		return d
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	d.P50 = ptrTo(nearestRank(sorted, 50))
	d.P95 = ptrTo(nearestRank(sorted, 95))
	return d
}

func ptrTo(f float64) *float64 { return &f }
