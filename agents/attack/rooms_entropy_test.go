package attack

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"testing"
)

func TestEstimateIDEntropy(t *testing.T) {
	sample := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	random := func(bytes int, enc func([]byte) string) func(int) string {
		return func(int) string {
			b := make([]byte, bytes)
			_, _ = rand.Read(b)
			return enc(b)
		}
	}
	cases := []struct {
		name     string
		ids      []string
		min, max float64
	}{
		{"128-bit hex", sample(24, random(16, hex.EncodeToString)), 128, 128},
		{"128-bit base64url", sample(24, random(16, base64.RawURLEncoding.EncodeToString)), 128, 132},
		{"64-bit hex", sample(24, random(8, hex.EncodeToString)), 64, 64},
		{"counter in 32 hex digits", sample(24, func(i int) string { return fmt.Sprintf("%032x", i+1) }), 0, 8},
		{"decimal counter", sample(24, func(i int) string { return fmt.Sprint(1000 + i) }), 0, 8},
		{"clustered hex", sample(24, func(i int) string { return fmt.Sprintf("5f3a%028x", 7919*i) }), 0, 20},
		{"duplicates", []string{"abcd", "abcd", "ef01"}, 0, 0},
		{"one sample", []string{"abcd"}, 0, 0},
	}
	for _, tc := range cases {
		e := EstimateIDEntropy(tc.ids)
		if e.Bits < tc.min || e.Bits > tc.max {
			t.Errorf("%s: %.1f bits (%s), want [%v, %v]", tc.name, e.Bits, e.How, tc.min, tc.max)
		}
	}
}

func TestExpectedTimeToHit(t *testing.T) {
	cases := []struct {
		bits, live, rate, want float64
	}{
		{10, 1, 1, 1024},
		{20, 1024, 1, 1024},
		{128, 1e6, 5, math.Exp2(128) / 5e6},
		{128, 1e6, 0, math.Inf(1)},
	}
	for _, tc := range cases {
		if got := ExpectedTimeToHit(tc.bits, tc.live, tc.rate); got != tc.want {
			t.Errorf("ExpectedTimeToHit(%v, %v, %v) = %v, want %v", tc.bits, tc.live, tc.rate, got, tc.want)
		}
	}
}
