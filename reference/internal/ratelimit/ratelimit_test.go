package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// call is one Allow at an offset from t0.
type call struct {
	key  string
	at   time.Duration
	ok   bool
	wait time.Duration
}

func TestLimiterAllow(t *testing.T) {
	tests := []struct {
		name      string
		perSecond float64
		burst     int
		maxKeys   int
		calls     []call
	}{
		{
			name: "burst then refused", perSecond: 1, burst: 2, maxKeys: 4,
			calls: []call{{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, false, time.Second}},
		},
		{
			name: "refills at the steady rate", perSecond: 2, burst: 1, maxKeys: 4,
			calls: []call{
				{"a", 0, true, 0},
				{"a", 100 * time.Millisecond, false, 500 * time.Millisecond},
				{"a", 500 * time.Millisecond, true, 0},
				{"a", 500 * time.Millisecond, false, 500 * time.Millisecond},
			},
		},
		{
			name: "keys have their own buckets", perSecond: 1, burst: 1, maxKeys: 4,
			calls: []call{{"a", 0, true, 0}, {"b", 0, true, 0}, {"a", 0, false, time.Second}, {"b", 0, false, time.Second}},
		},
		{
			name: "a forgotten key comes back with a full bucket", perSecond: 1, burst: 1, maxKeys: 2,
			calls: []call{
				{"a", 0, true, 0}, {"b", 0, true, 0},
				{"c", 0, true, 0}, // forgets a, the least recently seen
				{"a", 0, true, 0}, // forgets b
				{"c", 0, false, time.Second},
				{"b", 0, true, 0},
			},
		},
		{
			name: "a key seen again is kept over older ones", perSecond: 1, burst: 1, maxKeys: 2,
			calls: []call{
				{"a", 0, true, 0}, {"b", 0, true, 0},
				{"a", 0, false, time.Second}, // a is now the most recent
				{"c", 0, true, 0},            // forgets b
				{"a", 0, false, time.Second},
			},
		},
		{
			name: "a bound below one keeps the last key", perSecond: 1, burst: 1, maxKeys: 0,
			calls: []call{{"a", 0, true, 0}, {"a", 0, false, time.Second}, {"b", 0, true, 0}, {"a", 0, true, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.perSecond, tt.burst, tt.maxKeys)
			for i, c := range tt.calls {
				ok, wait := l.Allow(c.key, t0.Add(c.at))
				if ok != c.ok || wait != c.wait {
					t.Errorf("call %d (%s at %v) = %v, %v; want %v, %v", i, c.key, c.at, ok, wait, c.ok, c.wait)
				}
			}
		})
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	for i := range 3 {
		if ok, wait := l.Allow("a", t0); !ok || wait != 0 {
			t.Fatalf("call %d = %v, %v; want true, 0", i, ok, wait)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	const burst = 50
	l := New(1, burst, 8)
	var wg sync.WaitGroup
	allowed := make(chan bool, 4*burst)
	for range 4 {
		wg.Go(func() {
			for range burst {
				ok, _ := l.Allow("a", t0)
				allowed <- ok
			}
		})
	}
	wg.Wait()
	close(allowed)
	n := 0
	for ok := range allowed {
		if ok {
			n++
		}
	}
	if n != burst {
		t.Fatalf("%d of %d allowed at one instant; want the burst, %d", n, 4*burst, burst)
	}
}

func TestKeys(t *testing.T) {
	type op struct {
		use  bool // Use, else Get
		key  string
		want int // the state returned (Get: -1 when not found)
	}
	tests := []struct {
		name    string
		maxKeys int
		ops     []op
		len     int
	}{
		{
			name: "fresh state once, then the same", maxKeys: 4,
			ops: []op{{true, "a", 1}, {true, "a", 1}, {false, "a", 1}, {true, "b", 2}},
			len: 2,
		},
		{
			name: "get does not create", maxKeys: 4,
			ops: []op{{false, "a", -1}},
			len: 0,
		},
		{
			name: "the least recently used goes first", maxKeys: 2,
			ops: []op{{true, "a", 1}, {true, "b", 2}, {true, "a", 1}, {true, "c", 3}, {false, "b", -1}, {false, "a", 1}},
			len: 2,
		},
		{
			name: "get does not make a key recent", maxKeys: 2,
			ops: []op{{true, "a", 1}, {true, "b", 2}, {false, "a", 1}, {true, "c", 3}, {false, "a", -1}, {false, "b", 2}},
			len: 2,
		},
		{
			name: "a forgotten key starts afresh", maxKeys: 1,
			ops: []op{{true, "a", 1}, {true, "b", 2}, {true, "a", 3}, {false, "b", -1}},
			len: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKeys[int](tt.maxKeys)
			next := 0
			fresh := func() int { next++; return next }
			for i, o := range tt.ops {
				got := -1
				if o.use {
					got = k.Use(o.key, fresh)
				} else if v, ok := k.Get(o.key); ok {
					got = v
				}
				if got != o.want {
					t.Errorf("op %d (use %v, %s) = %d; want %d", i, o.use, o.key, got, o.want)
				}
			}
			if k.Len() != tt.len {
				t.Errorf("Len = %d; want %d", k.Len(), tt.len)
			}
		})
	}
}

func TestKeysStayBounded(t *testing.T) {
	const maxKeys = 16
	k := NewKeys[string](maxKeys)
	var kept []string
	for i := range 1000 {
		key := fmt.Sprint("source-", i)
		k.Use(key, func() string { return key })
		if k.Len() > maxKeys {
			t.Fatalf("after %d keys Len = %d; want at most %d", i+1, k.Len(), maxKeys)
		}
	}
	for i := 1000 - maxKeys; i < 1000; i++ {
		if v, ok := k.Get(fmt.Sprint("source-", i)); ok {
			kept = append(kept, v)
		}
	}
	if len(kept) != maxKeys {
		t.Fatalf("kept %d of the %d most recent keys: %v", len(kept), maxKeys, kept)
	}
}
