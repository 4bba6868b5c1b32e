// Package capacity_test measures what one concurrent call costs the load
// generator: goroutines and heap bytes per call held up, with the reference
// gateway in a separate process so that only the harness's side is counted.
//
//	go test -run '^$' -bench . ./suites/capacity
//	GAUNTLET_BENCH_CALLS=200 go test -run '^$' -bench . ./suites/capacity
package capacity_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

func callsPerBatch(b *testing.B) int {
	n := 50
	if v := os.Getenv("GAUNTLET_BENCH_CALLS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("GAUNTLET_BENCH_CALLS=%q: want a positive integer", v)
		}
	}
	return n
}

// BenchmarkConcurrentCall holds a batch of calls up at once and reports the
// load generator's goroutines and live heap per call: against the default
// reference, whose target file gives browsers TURN relays over UDP, TCP
// and TLS (each a TURN client per browser), and against one without TURN.
func BenchmarkConcurrentCall(b *testing.B) {
	b.Run("turn", func(b *testing.B) { benchmarkCalls(b, "") })
	b.Run("no-turn", func(b *testing.B) { benchmarkCalls(b, "turn: null\nrooms: null\n") })
}

func benchmarkCalls(b *testing.B, config string) {
	n := callsPerBatch(b)
	b.Setenv(fixture.TargetEnv, referenceProcess(b, config))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fx, err := fixture.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer fx.Close()

	callers, callees := make([]*endpoint.Endpoint, n), make([]*endpoint.Endpoint, n)
	for i := range n {
		if callers[i], err = fx.Endpoint(ctx, fixture.Population(scenarios.KindWebRTC)); err != nil {
			b.Fatal(err)
		}
		if callees[i], err = fx.Endpoint(ctx, fixture.Population(scenarios.KindSIP)); err != nil {
			b.Fatal(err)
		}
		if r := callees[i].Register(ctx); r.Outcome != reports.OutcomeOK {
			b.Fatalf("REGISTER %s: %s", callees[i].User(), r.Error)
		}
	}

	var goroutines, heap float64
	for b.Loop() {
		g0, h0 := settle()
		legs := make([]*endpoint.Leg, 0, 2*n)
		accepted := make(chan *endpoint.Leg, n)
		for i := range n {
			go func() { accepted <- callees[i].Accept(ctx) }()
			out := callers[i].Dial(ctx, callees[i].User())
			if out.Err() != nil {
				b.Fatalf("call %d: %v", i, out.Err())
			}
			legs = append(legs, out)
		}
		for range n {
			in := <-accepted
			if in.Err() != nil {
				b.Fatalf("accept: %v", in.Err())
			}
			legs = append(legs, in)
		}
		g1, h1 := settle()
		goroutines = float64(g1-g0) / float64(n)
		heap = (float64(h1) - float64(h0)) / float64(n)
		for i := 0; i < n; i++ {
			_ = legs[i].Hangup(ctx)
		}
		for _, l := range legs {
			_ = l.Close()
		}
	}
	b.ReportMetric(goroutines, "goroutines/call")
	b.ReportMetric(heap, "heap-B/call")
	b.ReportMetric(float64(n), "calls/batch")
}

// settle lets the calls' media run a moment, collects garbage and returns
// the goroutine count and live heap.
func settle() (int, uint64) {
	time.Sleep(500 * time.Millisecond) // media flowing in steady state, not a readiness wait
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// referenceProcess builds gauntlet, runs `gauntlet reference` in its own
// process on free ports (with config, a reference config, when not empty),
// and returns its target file.
func referenceProcess(b *testing.B, config string) string {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "gauntlet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gauntlet-rtc/gauntlet/cmd/gauntlet").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	target := filepath.Join(dir, "target.yaml")
	args := []string{"reference", "--ws", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--print-target", target}
	if config != "" {
		path := filepath.Join(dir, "reference.yaml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			b.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "running until interrupted") {
			go func() {
				for sc.Scan() {
				}
			}()
			return target
		}
	}
	b.Fatal("the reference process exited before it was ready")
	return ""
}
