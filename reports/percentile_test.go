package reports

import (
	"math"
	"testing"
)

func TestPercentileNearestRank(t *testing.T) {
	ten := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5} // 1..10, unsorted
	tests := []struct {
		name   string
		xs     []float64
		p      float64
		want   float64
		wantOK bool
	}{
		{"empty", nil, 50, 0, false},
		{"p below 0", ten, -1, 0, false},
		{"p above 100", ten, 101, 0, false},
		{"p NaN", ten, math.NaN(), 0, false},
		{"single p5", []float64{4.2}, 5, 4.2, true},
		{"single p95", []float64{4.2}, 95, 4.2, true},
		{"p0 is min", ten, 0, 1, true},
		{"p5 of 10 is rank 1", ten, 5, 1, true},
		{"p10 of 10 is rank 1", ten, 10, 1, true},
		{"p11 of 10 is rank 2", ten, 11, 2, true},
		{"p50 of 10 is rank 5", ten, 50, 5, true},
		{"p95 of 10 is rank 10", ten, 95, 10, true},
		{"p100 is max", ten, 100, 10, true},
		{"p50 of 4 is rank 2", []float64{4.41, 4.05, 4.40, 4.31}, 50, 4.31, true},
		{"p95 of 20 is rank 19 exactly", seq(20), 95, 19, true},
		{"p95 of 21 is rank 20", seq(21), 95, 20, true},
		{"duplicates", []float64{3, 3, 3, 1}, 50, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]float64(nil), tt.xs...)
			got, ok := Percentile(tt.xs, tt.p)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("Percentile(%v, %v) = %v, %v; want %v, %v", tt.xs, tt.p, got, ok, tt.want, tt.wantOK)
			}
			for i := range before {
				if before[i] != tt.xs[i] {
					t.Fatal("Percentile modified its input")
				}
			}
		})
	}
}

func TestSamplesDist(t *testing.T) {
	var s samples
	if d := s.dist(); d.N != 0 || d.P50 != nil || d.P95 != nil {
		t.Fatalf("empty dist = %+v, want N 0 and nil percentiles", d)
	}
	for _, v := range []float64{5, math.NaN(), 1, math.Inf(1), 3} {
		s.add(v)
	}
	d := s.dist()
	if d.N != 3 || *d.P50 != 3 || *d.P95 != 5 {
		t.Fatalf("dist = N %d p50 %v p95 %v, want 3, 3, 5 (NaN and Inf dropped)", d.N, *d.P50, *d.P95)
	}
}

// seq returns 1..n.
func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return xs
}
