package attack

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
)

// Alphabets room IDs are commonly written in.
const (
	alphaDigits    = "0123456789"
	alphaHex       = "0123456789abcdef"
	alphaHexUpper  = "0123456789ABCDEF"
	alphaBase64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	alphaBase64    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)

// IDEntropy is an estimate of how many random bits room IDs carry, from
// a sample of them.
type IDEntropy struct {
	Bits     float64 // the estimate (an upper bound: a sample cannot prove randomness)
	Alphabet string  // the smallest common alphabet holding every sample's characters
	Length   int     // the longest sample
	Varying  int     // character positions that differ between samples
	How      string  // one line: how the estimate was reached
}

// alphabetOf returns the smallest known alphabet holding every character
// of ids, else the characters seen.
func alphabetOf(ids []string) string {
	seen := map[rune]bool{}
	for _, id := range ids {
		for _, r := range id {
			seen[r] = true
		}
	}
	within := func(a string) bool {
		for r := range seen {
			if !strings.ContainsRune(a, r) {
				return false
			}
		}
		return true
	}
	for _, a := range []string{alphaDigits, alphaHex, alphaHexUpper, alphaBase64URL, alphaBase64} {
		if within(a) {
			return a
		}
	}
	var out []rune
	for r := range seen {
		out = append(out, r)
	}
	slices.Sort(out)
	return string(out)
}

// EstimateIDEntropy estimates the entropy of room IDs from samples: each
// character position that varies across the samples counts as a full
// character of the alphabet, one that never varies counts nothing; IDs
// that read as numbers (digits or hex) close together, as a counter's
// are, count only the bits of their spread; duplicates count nothing.
func EstimateIDEntropy(ids []string) IDEntropy {
	e := IDEntropy{Alphabet: alphabetOf(ids)}
	if len(ids) < 2 {
		e.How = "fewer than two samples"
		return e
	}
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	if len(uniq) < len(ids) {
		e.How = fmt.Sprintf("%d of %d sampled IDs repeat", len(ids)-len(uniq), len(ids))
		return e
	}
	for _, id := range ids {
		e.Length = max(e.Length, len(id))
	}
	for i := range e.Length {
		var first byte
		for j, id := range ids {
			c := byte(0)
			if i < len(id) {
				c = id[i]
			}
			if j == 0 {
				first = c
			} else if c != first {
				e.Varying++
				break
			}
		}
	}
	perChar := math.Log2(float64(len(e.Alphabet)))
	e.Bits = float64(e.Varying) * perChar
	e.How = fmt.Sprintf("%d of %d positions vary over %d samples, %.1f bits per character", e.Varying, e.Length, len(ids), perChar)
	if spread, ok := numericSpread(ids, e.Alphabet); ok && spread < e.Bits-16 {
		e.How = fmt.Sprintf("the IDs read as numbers spread over only 2^%.1f values (sequential or clustered); %s", spread, e.How)
		e.Bits = spread
	}
	return e
}

// numericSpread reads ids as numbers (decimal or hex) and returns log2 of
// the distance between the smallest and the largest.
func numericSpread(ids []string, alphabet string) (float64, bool) {
	base := 0
	switch alphabet {
	case alphaDigits:
		base = 10
	case alphaHex, alphaHexUpper:
		base = 16
	default:
		return 0, false
	}
	var lo, hi *big.Int
	for _, id := range ids {
		n, ok := new(big.Int).SetString(id, base)
		if !ok {
			return 0, false
		}
		if lo == nil || n.Cmp(lo) < 0 {
			lo = n
		}
		if hi == nil || n.Cmp(hi) > 0 {
			hi = n
		}
	}
	d := new(big.Int).Sub(hi, lo)
	d.Add(d, big.NewInt(1))
	f, _ := new(big.Float).SetInt(d).Float64()
	return math.Log2(f), true
}

// ExpectedTimeToHit is the expected time, in seconds, to hit one of live
// rooms by guessing IDs of bits random bits at rate guesses per second
// (CONFORMANCE.md: 2^bits / (live rooms * guesses per second)).
func ExpectedTimeToHit(bits float64, live, rate float64) float64 {
	if live <= 0 || rate <= 0 {
		return math.Inf(1)
	}
	return math.Exp2(bits) / (live * rate)
}

// humanSeconds writes a duration in seconds the way a reviewer reads it.
func roomHumanSeconds(s float64) string {
	const year = 365.25 * 24 * 3600
	switch {
	case math.IsInf(s, 1):
		return "never (no guess gets through)"
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 2*3600:
		return fmt.Sprintf("%.1f minutes", s/60)
	case s < 2*86400:
		return fmt.Sprintf("%.1f hours", s/3600)
	case s < 2*year:
		return fmt.Sprintf("%.1f days", s/86400)
	}
	return fmt.Sprintf("%.2g years", s/year)
}

// randomLike returns a random ID of the samples' length and alphabet.
func randomRoomLike(e IDEntropy, rnd func(n int) int) string {
	n := e.Length
	if n == 0 {
		n = 32
	}
	alpha := e.Alphabet
	if len(alpha) < 2 {
		alpha = alphaHex
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[rnd(len(alpha))]
	}
	return string(b)
}
