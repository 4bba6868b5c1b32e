package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// runProfile describes a synthetic run: what a healthy deployment and a
// degraded one look like to the Summarizer.
type runProfile struct {
	calls    int
	failRate float64 // chance a call fails (ICE)
	setupMS  float64 // median total setup
	lossPct  float64 // mean loss per direction
	attacks  map[string]string
}

var healthy = runProfile{calls: 300, failRate: 0.01, setupMS: 150, lossPct: 0.1,
	attacks: map[string]string{"srtp-replay": VerdictResisted}}

// synthRun summarises a run drawn from p with the given seed: two runs of
// one profile differ only by chance, as two real runs with other seeds do.
func synthRun(t testing.TB, seed uint64, p runProfile, thresholds ...string) *Summary {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var ts []Threshold
	for _, e := range thresholds {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	z := NewSummarizer(RunMeta{Scenario: "synthetic", Seed: int64(seed)}, WithThresholds(ts...))
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range p.calls {
		r := call(fmt.Sprintf("call-%03d", i))
		r.Start = start.Add(time.Duration(i) * 100 * time.Millisecond)
		r.End = r.Start.Add(time.Duration(5+rng.IntN(10)) * time.Second)
		if rng.Float64() < p.failRate {
			r = failed(r.ID, CauseICE)
			r.Start, r.End = start, start.Add(time.Second)
			z.Add(r)
			continue
		}
		setup := p.setupMS * math.Exp(rng.NormFloat64()*0.25)
		r.Phases = Phases{SignalingMS: setup * 0.3, ICEMS: setup * 0.4, DTLSMS: setup * 0.2, FirstMediaMS: setup * 0.1, TotalMS: setup}
		for _, name := range []string{"caller->callee", "callee->caller"} {
			loss := p.lossPct * rng.ExpFloat64()
			mos := 4.41 - 0.08*loss + rng.NormFloat64()*0.01
			r.Media = append(r.Media, Direction{Name: name, Sent: 1000, Received: 1000 - int(loss*10), Lost: int(loss * 10),
				LossPct: loss, JitterMS: 1 + rng.Float64()*2, DelayMS: 10 + rng.Float64()*5, MOS: mos, Audio: true})
		}
		z.Add(r)
	}
	for name, v := range p.attacks {
		z.Add(Result{Kind: KindAttack, ID: name, Attack: &Finding{Name: name, Verdict: v}})
	}
	return z.Summary()
}

func TestCompareRerunWithAnotherSeedIsNotARegression(t *testing.T) {
	thresholds := []string{"ice.success_rate >= 0.95", "setup_ms.p95 <= 1000"}
	for _, seeds := range [][2]uint64{{1, 2}, {3, 4}, {42, 43}} {
		base, cand := synthRun(t, seeds[0], healthy, thresholds...), synthRun(t, seeds[1], healthy, thresholds...)
		c := Compare(base, cand, CompareOptions{})
		if c.Regressed() {
			var buf bytes.Buffer
			_ = WriteComparison(&buf, c)
			t.Errorf("seeds %v: a rerun is flagged:\n%s", seeds, buf.String())
		}
		if len(c.Warnings) != 0 {
			t.Errorf("seeds %v: warnings %q", seeds, c.Warnings)
		}
	}
}

// TestCompareFalseAlarmRate checks the noise model over many reruns: a
// healthy run compared with itself under another seed is rarely flagged.
func TestCompareFalseAlarmRate(t *testing.T) {
	const pairs = 100
	flagged := 0
	p := healthy
	p.calls = 100
	p.failRate = 0.05 // plenty of chance differences in the rates
	for i := range uint64(pairs) {
		if Compare(synthRun(t, 1000+2*i, p), synthRun(t, 1001+2*i, p), CompareOptions{}).Regressed() {
			flagged++
		}
	}
	// Five rate rules at 5% each, all conservative (Fisher's test on
	// counts): at most a tenth of reruns may be flagged.
	if flagged > pairs/10 {
		t.Fatalf("%d of %d reruns flagged as regressions", flagged, pairs)
	}
	t.Logf("%d of %d reruns flagged", flagged, pairs)
}

func TestComparePlantedRegressions(t *testing.T) {
	base := synthRun(t, 1, healthy, "mos.p5 >= 4.2")
	tests := []struct {
		name    string
		profile func(p *runProfile)
		want    string // the row that must regress
	}{
		{"fewer successful calls", func(p *runProfile) { p.failRate = 0.08 }, "calls.connected"},
		{"injected loss lowers MOS", func(p *runProfile) { p.lossPct = 3 }, "mos.p5"},
		{"injected loss shows as loss", func(p *runProfile) { p.lossPct = 3 }, "media.loss_pct.p95"},
		{"slower setup", func(p *runProfile) { p.setupMS = 400 }, "setup_ms.p95"},
		{"new weakness", func(p *runProfile) {
			p.attacks = map[string]string{"srtp-replay": VerdictVulnerable}
		}, "attack srtp-replay"},
		{"threshold that held now fails", func(p *runProfile) { p.lossPct = 3 }, "threshold mos.p5 >= 4.2"},
		{"nothing connects", func(p *runProfile) { p.failRate = 1 }, "mos.p50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := healthy
			tt.profile(&p)
			c := Compare(base, synthRun(t, 2, p, "mos.p5 >= 4.2"), CompareOptions{})
			var names []string
			for _, r := range c.Regressions() {
				names = append(names, r.Name)
			}
			found := false
			for _, n := range names {
				found = found || n == tt.want
			}
			if !found {
				t.Fatalf("regressions %q lack %q", names, tt.want)
			}
		})
	}
}

func TestCompareRates(t *testing.T) {
	withCalls := func(connected, failed int) *Summary {
		return &Summary{Calls: Calls{Attempted: connected + failed, Connected: connected, Failed: failed}}
	}
	tests := []struct {
		name       string
		base, cand *Summary
		want       Change
	}{
		{"same", withCalls(10, 0), withCalls(10, 0), ChangeSame},
		{"10/10 to 7/10 is within noise", withCalls(10, 0), withCalls(7, 3), ChangeNoise},
		{"10/10 to 6/10 regresses", withCalls(10, 0), withCalls(6, 4), ChangeRegression},
		{"1000/1000 to 995/1000 regresses", withCalls(1000, 0), withCalls(995, 5), ChangeRegression},
		{"1000/1000 to 997/1000 is within noise", withCalls(1000, 0), withCalls(997, 3), ChangeNoise},
		{"6/10 to 10/10 improves", withCalls(6, 4), withCalls(10, 0), ChangeImproved},
		{"canceled calls are not trials", withCalls(10, 0),
			&Summary{Calls: Calls{Attempted: 10, Connected: 4, Canceled: 6}}, ChangeSame},
		{"candidate with no calls", withCalls(10, 0), &Summary{}, ChangeRegression},
		{"neither has calls", &Summary{}, &Summary{}, ChangeNoData},
	}
	rule := CompareRule{Metric: "calls.connected", Better: BetterHigher, Rate: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(tt.base, tt.cand, CompareOptions{Rules: []CompareRule{rule}})
			if got := c.Rows[0]; got.Change != tt.want {
				t.Fatalf("change = %s (%s), want %s", got.Change, got.Why, tt.want)
			}
		})
	}
}

func TestCompareFigures(t *testing.T) {
	setup := func(p95 float64) *Summary { return &Summary{SetupMS: Dist{N: 20, P95: &p95}} }
	rule := CompareRule{Metric: "setup_ms.p95", Better: BetterLower, Abs: 100, Rel: 0.5}
	tests := []struct {
		name       string
		base, cand *Summary
		want       Change
	}{
		{"same", setup(150), setup(150), ChangeSame},
		{"+90 ms is within 100 ms", setup(150), setup(240), ChangeNoise},
		{"+110 ms is beyond 100 ms", setup(150), setup(260), ChangeRegression},
		{"+40% of a slow base is within 50%", setup(1000), setup(1400), ChangeNoise},
		{"+60% of a slow base regresses", setup(1000), setup(1600), ChangeRegression},
		{"faster improves", setup(1000), setup(300), ChangeImproved},
		{"no data in the candidate regresses", setup(150), &Summary{}, ChangeRegression},
		{"no data in the base is info", &Summary{}, setup(150), ChangeInfo},
		{"worse beyond tolerance on too few samples is noise", &Summary{SetupMS: Dist{N: 2, P95: ptrTo(150)}}, setup(400), ChangeNoise},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(tt.base, tt.cand, CompareOptions{Rules: []CompareRule{rule}})
			if got := c.Rows[0]; got.Change != tt.want {
				t.Fatalf("change = %s (%s), want %s", got.Change, got.Why, tt.want)
			}
		})
	}
	// A context row never regresses.
	c := Compare(setup(100), setup(9000), CompareOptions{Rules: []CompareRule{{Metric: "setup_ms.p95"}}})
	if c.Rows[0].Change != ChangeInfo {
		t.Fatalf("context row = %+v", c.Rows[0])
	}
}

func TestFisherGreater(t *testing.T) {
	tests := []struct {
		bad1, n1, bad2, n2 int
		want               float64
	}{
		{0, 10, 3, 10, 120.0 / 1140}, // C(10,3)/C(20,3)
		{0, 10, 4, 10, 210.0 / 4845},
		{0, 10, 0, 10, 1},
		{5, 10, 0, 10, 1},
		{1, 2, 1, 2, 5.0 / 6}, // P(X >= 1), X ~ H(4, 2, 2)
	}
	for _, tt := range tests {
		if got := fisherGreater(tt.bad1, tt.n1, tt.bad2, tt.n2); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("fisherGreater(%d/%d, %d/%d) = %v, want %v", tt.bad1, tt.n1, tt.bad2, tt.n2, got, tt.want)
		}
	}
}

func TestCompareAttacksAndThresholds(t *testing.T) {
	atk := func(pairs ...string) []AttackSummary {
		var out []AttackSummary
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, AttackSummary{Name: pairs[i], Verdict: pairs[i+1]})
		}
		return out
	}
	base := &Summary{
		Attacks:    atk("a", VerdictResisted, "b", VerdictVulnerable, "c", VerdictResisted, "gone", VerdictResisted),
		Thresholds: []ThresholdResult{{Name: "x", OK: true}, {Name: "y", OK: false}, {Name: "z", OK: true}},
	}
	cand := &Summary{
		Attacks:    atk("a", VerdictVulnerable, "b", VerdictResisted, "c", VerdictInconclusive, "new", VerdictVulnerable),
		Thresholds: []ThresholdResult{{Name: "x", OK: false}, {Name: "y", OK: true}, {Name: "z", OK: true}, {Name: "w", OK: false}},
	}
	got := map[string]Change{}
	for _, r := range Compare(base, cand, CompareOptions{Rules: []CompareRule{}}).Rows {
		got[r.Name] = r.Change
	}
	want := map[string]Change{
		"attack a": ChangeRegression, "attack b": ChangeImproved, "attack c": ChangeNoise,
		"attack gone": ChangeInfo, "attack new": ChangeRegression,
		"threshold x": ChangeRegression, "threshold y": ChangeImproved, "threshold z": ChangeSame, "threshold w": ChangeInfo,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows = %v", got)
	}
}

func TestCompareWarnsOfDifferentRuns(t *testing.T) {
	base := &Summary{Run: RunMeta{Scenario: "smoke"}, Calls: Calls{Attempted: 10}}
	cand := &Summary{Run: RunMeta{Scenario: "load", Interrupted: true}, Calls: Calls{Attempted: 1000}}
	w := strings.Join(Compare(base, cand, CompareOptions{}).Warnings, "\n")
	for _, want := range []string{"different scenarios", "different numbers of calls", "candidate run was interrupted"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	c := Compare(base, cand, CompareOptions{Rules: []CompareRule{{Metric: "no.such"}}})
	if len(c.Rows) != 0 || !strings.Contains(strings.Join(c.Warnings, ""), `unknown metric "no.such"`) {
		t.Errorf("unknown rule: rows %v warnings %q", c.Rows, c.Warnings)
	}
}

func TestComparisonGolden(t *testing.T) {
	p := healthy
	p.calls = 40
	base := synthRun(t, 1, p, "mos.p5 >= 4.2")
	base.Run.Target = "wss://127.0.0.1:8443/ws?token=abc123"
	p.failRate, p.lossPct, p.setupMS = 0.3, 3, 400
	p.attacks = map[string]string{"srtp-replay": VerdictVulnerable}
	cand := synthRun(t, 2, p, "mos.p5 >= 4.2")
	c := Compare(base, cand, CompareOptions{BaseLabel: "runs/base", CandidateLabel: "runs/candidate"})
	var text, js bytes.Buffer
	if err := WriteComparison(&text, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparisonJSON(&js, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/golden/compare.txt", text.Bytes())
	checkGolden(t, "testdata/golden/compare.json", js.Bytes())
	if bytes.Contains(js.Bytes(), []byte("abc123")) {
		t.Fatal("compare.json holds a secret")
	}
	var back Comparison
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Regressions()) != len(c.Regressions()) {
		t.Fatalf("compare.json does not read back: %v", err)
	}
}
