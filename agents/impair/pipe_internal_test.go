package impair

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

const ms = time.Millisecond

// run offers n datagrams of size bytes every gap to a fresh pipe.
func run(p Profile, seed uint64, n int, gap time.Duration, size int) []verdict {
	q := newPipe(seed, 1)
	out := make([]verdict, n)
	for i := range out {
		out[i] = q.decide(p, t0.Add(time.Duration(i)*gap), size)
	}
	return out
}

func lossRate(vs []verdict) float64 {
	lost := 0
	for _, v := range vs {
		if v.drop != "" {
			lost++
		}
	}
	return float64(lost) / float64(len(vs))
}

// bursts returns the mean length of runs of consecutive drops.
func meanBurst(vs []verdict) float64 {
	runs, lost, in := 0, 0, false
	for _, v := range vs {
		if v.drop != "" {
			lost++
			if !in {
				runs++
			}
		}
		in = v.drop != ""
	}
	if runs == 0 {
		return 0
	}
	return float64(lost) / float64(runs)
}

func TestLossRatesConverge(t *testing.T) {
	const n = 1000000
	tests := []struct {
		name  string
		p     Profile
		want  float64
		burst float64 // expected mean burst length
	}{
		{"random 1%", Profile{Loss: 0.01}, 0.01, 1 / 0.99},
		{"random 2%", Profile{Loss: 0.02}, 0.02, 1 / 0.98},
		{"random 5%", Profile{Loss: 0.05}, 0.05, 1 / 0.95},
		{"random 30%", Profile{Loss: 0.3}, 0.3, 1 / 0.7},
	}
	for _, loss := range []float64{0.01, 0.02, 0.05} {
		g, err := BurstLoss(loss, 4)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name  string
			p     Profile
			want  float64
			burst float64
		}{"burst " + formatPct(loss), Profile{Burst: &g}, loss, 4})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := run(tc.p, 7, n, 20*ms, 200)
			// Four standard deviations. The loss indicator of a Markov
			// chain with P+R = 1-l has its variance inflated by (1+l)/(1-l);
			// bursts are geometric, with standard deviation sqrt(1-r)/r.
			r := 1 / tc.burst
			l := 1 - r/(1-tc.want)
			sigma := math.Sqrt(tc.want * (1 - tc.want) / n * (1 + l) / (1 - l))
			got := lossRate(vs)
			if math.Abs(got-tc.want) > 4*sigma {
				t.Errorf("loss %.5f, want %.5f (sigma %.5f)", got, tc.want, sigma)
			}
			bursts := got * n / tc.burst
			if b := meanBurst(vs); math.Abs(b-tc.burst) > 4*math.Sqrt(1-r)/r/math.Sqrt(bursts) {
				t.Errorf("mean burst %.3f, want %.3f", b, tc.burst)
			}
		})
	}
}

func formatPct(f float64) string { return string(rune('0'+int(math.Round(f*100)))) + "%" }

func TestGilbertElliottBurstRatio(t *testing.T) {
	// G.113's BurstR is the observed mean burst length over the one random
	// loss at the same rate would give, 1/(1-p): the model's 1/(P+R).
	for _, burst := range []float64{1.5, 2, 4} {
		g, err := BurstLoss(0.05, burst)
		if err != nil {
			t.Fatal(err)
		}
		vs := run(Profile{Burst: &g}, 11, 300000, 20*ms, 200)
		loss := lossRate(vs)
		observed := meanBurst(vs) * (1 - loss)
		if math.Abs(observed-g.BurstRatio()) > 0.05*g.BurstRatio() {
			t.Errorf("burst %v: observed BurstR %.3f, model %.3f", burst, observed, g.BurstRatio())
		}
	}
	// Loss in the good state, none in the bad: the general model.
	g := GilbertElliott{P: 0.1, R: 0.1, LossGood: 0.02, LossBad: 0.5}
	vs := run(Profile{Burst: &g}, 3, 200000, 20*ms, 200)
	if got := lossRate(vs); math.Abs(got-g.LossRate()) > 0.05*g.LossRate() {
		t.Errorf("general model loss %.4f, want %.4f", got, g.LossRate())
	}
}

func TestDelayAndJitterDistribution(t *testing.T) {
	tests := []struct {
		name          string
		p             Profile
		gap           time.Duration
		lo, hi        time.Duration // every delay within
		mean          time.Duration
		inMiddleHalf  float64 // share within Delay±Jitter/2 (uniform: 0.5)
		allowReorders bool
	}{
		{"fixed 100ms", Profile{Delay: 100 * ms}, 20 * ms, 100 * ms, 100 * ms, 100 * ms, 1, false},
		{"zero", Profile{}, 20 * ms, 0, 0, 0, 1, false},
		{"100±10ms", Profile{Delay: 100 * ms, Jitter: 10 * ms}, 20 * ms, 90 * ms, 110 * ms, 100 * ms, 0.5, false},
		{"50±50ms", Profile{Delay: 50 * ms, Jitter: 50 * ms}, 200 * ms, 0, 100 * ms, 50 * ms, 0.5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const n = 50000
			vs := run(tc.p, 5, n, tc.gap, 200)
			var sum time.Duration
			middle := 0
			for i, v := range vs {
				d := v.due.Sub(t0.Add(time.Duration(i) * tc.gap))
				if d < tc.lo || d > tc.hi {
					t.Fatalf("packet %d delayed %v, outside [%v, %v]", i, d, tc.lo, tc.hi)
				}
				sum += d
				if (d - tc.p.Delay).Abs() <= tc.p.Jitter/2 {
					middle++
				}
			}
			mean := sum / n
			if (mean - tc.mean).Abs() > tc.p.Jitter/50+time.Microsecond {
				t.Errorf("mean delay %v, want %v", mean, tc.mean)
			}
			if share := float64(middle) / n; math.Abs(share-tc.inMiddleHalf) > 0.02 {
				t.Errorf("%.3f within ±jitter/2, want %.2f", share, tc.inMiddleHalf)
			}
		})
	}
}

func TestJitterKeepsOrderReorderDoesNot(t *testing.T) {
	// 1 ms apart with ±40 ms jitter: left to itself, jitter would reorder
	// almost every packet; the release floor keeps them in order.
	vs := run(Profile{Delay: 50 * ms, Jitter: 40 * ms}, 9, 10000, ms, 200)
	for i := 1; i < len(vs); i++ {
		if vs[i].due.Before(vs[i-1].due) {
			t.Fatalf("packet %d released at %v, before packet %d at %v", i, vs[i].due, i-1, vs[i-1].due)
		}
	}
	// Reorder 10% with a 50 ms gap, packets 20 ms apart: a picked packet is
	// overtaken by the next one unless that one is picked too (9%).
	vs = run(Profile{Delay: 10 * ms, Reorder: 0.1, ReorderGap: 50 * ms}, 9, 100000, 20*ms, 200)
	overtaken := 0
	for i := 0; i+1 < len(vs); i++ {
		if vs[i+1].due.Before(vs[i].due) {
			overtaken++
		}
	}
	if share := float64(overtaken) / float64(len(vs)); math.Abs(share-0.09) > 0.004 {
		t.Errorf("%.4f of packets overtaken, want about 0.09", share)
	}
}

func TestDuplicateRate(t *testing.T) {
	vs := run(Profile{Duplicate: 0.03, Delay: 5 * ms}, 2, 100000, 20*ms, 200)
	dups := 0
	for _, v := range vs {
		if v.dup {
			dups++
			if !v.dupDue.Equal(v.due) {
				t.Fatalf("copy due %v, original %v", v.dupDue, v.due)
			}
		}
	}
	if share := float64(dups) / float64(len(vs)); math.Abs(share-0.03) > 0.003 {
		t.Errorf("%.4f duplicated, want 0.03", share)
	}
}

func TestRateCap(t *testing.T) {
	// 200-byte datagrams every 10 ms offer 160 kbit/s to an 80 kbit/s link:
	// each takes 20 ms on the link, so they leave 20 ms apart and the queue
	// grows by 10 ms per datagram.
	vs := run(Profile{RateBPS: 80000}, 1, 50, 10*ms, 200)
	for i, v := range vs {
		want := t0.Add(time.Duration(i+1) * 20 * ms)
		if !v.due.Equal(want) {
			t.Fatalf("datagram %d leaves at %v, want %v", i, v.due.Sub(t0), want.Sub(t0))
		}
	}
	// With a 100 ms queue limit, the queue settles: about half are dropped.
	vs = run(Profile{RateBPS: 80000, QueueLimit: 100 * ms, Delay: 30 * ms}, 1, 1000, 10*ms, 200)
	drops := 0
	for i, v := range vs {
		if v.drop == DropQueue {
			drops++
			continue
		}
		if wait := v.due.Sub(t0.Add(time.Duration(i) * 10 * ms)); wait > 150*ms {
			t.Fatalf("datagram %d waited %v: queue 100 + link 20 + delay 30 is the most", i, wait)
		}
	}
	if drops < 480 || drops > 520 {
		t.Errorf("%d of 1000 dropped at the queue, want about 500", drops)
	}
}

func TestSameSeedSameVerdicts(t *testing.T) {
	g, err := BurstLoss(0.05, 3)
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{Burst: &g, Delay: 40 * ms, Jitter: 20 * ms, Reorder: 0.01, ReorderGap: 30 * ms, Duplicate: 0.01}
	a, b := run(p, 42, 5000, 20*ms, 200), run(p, 42, 5000, 20*ms, 200)
	c := run(p, 43, 5000, 20*ms, 200)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 42 differs at %d: %+v vs %+v", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("seeds 42 and 43 gave the same verdicts")
	}
}
