package reports

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// call returns a connected call record with the given per-direction MOS.
func call(id string, mos ...float64) Result {
	r := Result{
		Kind: KindCall, ID: id, Outcome: OutcomeOK,
		ICE:    ICE{SDPExchanged: true, Connected: true, LocalCandidate: "host", RemoteCandidate: "host"},
		Phases: Phases{SignalingMS: 10, ICEMS: 20, DTLSMS: 30, FirstMediaMS: 40, TotalMS: 100},
	}
	for i, m := range mos {
		r.Media = append(r.Media, Direction{Name: fmt.Sprint(i), Sent: 100, Received: 99, Lost: 1, LossPct: 1, JitterMS: 2, DelayMS: 20, MOS: m, Audio: true})
	}
	return r
}

func failed(id, cause string) Result {
	return Result{Kind: KindCall, ID: id, Outcome: OutcomeFailed, Cause: cause, ICE: ICE{SDPExchanged: true}}
}

func with(r Result, f func(*Result)) Result { f(&r); return r }

func summarize(rs []Result, opts ...SummarizerOption) *Summary {
	z := NewSummarizer(RunMeta{Scenario: "t"}, opts...)
	for _, r := range rs {
		z.Add(r)
	}
	return z.Summary()
}

func TestSummaryDefinitions(t *testing.T) {
	tests := []struct {
		name  string
		recs  []Result
		check func(t *testing.T, s *Summary)
	}{
		{"ice success = connected / sdp exchanged", []Result{
			call("a"), call("b"), failed("c", CauseICE),
			with(failed("d", CauseSignaling), func(r *Result) { r.ICE.SDPExchanged = false }),
		}, func(t *testing.T, s *Summary) {
			wantF(t, "ice.success_rate", s.ICE.SuccessRate, 2.0/3)
			wantI(t, "ice.sdp_exchanged", s.ICE.SDPExchanged, 3)
		}},
		{"no sdp exchanged gives null rates", []Result{
			with(failed("a", CauseSignaling), func(r *Result) { r.ICE.SDPExchanged = false }),
		}, func(t *testing.T, s *Summary) {
			wantNil(t, "ice.success_rate", s.ICE.SuccessRate)
			wantNil(t, "ice.relay_ratio", s.ICE.RelayRatio)
		}},
		{"relay ratio over ICE-connected calls", []Result{
			call("a"), call("b"), call("c"),
			with(call("d"), func(r *Result) { r.ICE.Relay = true; r.ICE.LocalCandidate = "relay" }),
			with(failed("e", CauseICE), func(r *Result) { r.ICE.Relay = true }),
		}, func(t *testing.T, s *Summary) {
			wantF(t, "ice.relay_ratio", s.ICE.RelayRatio, 0.25)
			wantI(t, "relay/host pairs", s.Negotiated.CandidatePair["relay/host"], 1)
			wantI(t, "host/host pairs", s.Negotiated.CandidatePair["host/host"], 3)
		}},
		{"mos per call is the lowest direction, skipping uncomputed", []Result{
			call("a", 4.4, 3.9), call("b", 0, 4.2), call("c", 0, 0), call("d", 4.1),
			with(call("e", 1.0), func(r *Result) { r.Outcome = OutcomeFailed; r.Cause = CauseMedia }),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "mos.n", s.MOS.N, 3) // a 3.9, b 4.2, d 4.1; c has none, e failed
			wantF(t, "mos.p50", s.MOS.P50, 4.1)
			wantF(t, "mos.p5", s.MOS.P5, 3.9)
		}},
		{"no connected call: mos and setup null, their thresholds fail", []Result{
			failed("a", CauseICE), failed("b", CauseTimeout),
		}, func(t *testing.T, s *Summary) {
			wantNil(t, "mos.p50", s.MOS.P50)
			wantNil(t, "setup_ms.p95", s.SetupMS.P95)
			wantNil(t, "media.loss_pct.p50", s.Media.LossPct.P50)
			if len(s.Thresholds) != 2 || !s.Thresholds[0].Default || s.Thresholds[0].OK {
				t.Errorf("default thresholds = %+v, want ice.success_rate failing", s.Thresholds)
			}
		}},
		{"setup over connected calls, phases only when reached", []Result{
			call("a"),
			with(call("b"), func(r *Result) { r.Phases = Phases{SignalingMS: 50, FirstMediaMS: 10, TotalMS: 300} }),
			with(failed("c", CauseDTLS), func(r *Result) { r.Phases = Phases{SignalingMS: 9999, ICEMS: 9999} }),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "setup_ms.n", s.SetupMS.N, 2)
			wantF(t, "setup_ms.p50", s.SetupMS.P50, 100)
			wantF(t, "setup_ms.p95", s.SetupMS.P95, 300)
			wantI(t, "ice_ms.n", s.SetupPhases.ICEMS.N, 1)
			wantF(t, "signaling_ms.p95", s.SetupPhases.SignalingMS.P95, 50)
		}},
		{"media distributions over directions", []Result{
			with(call("a"), func(r *Result) {
				r.Media = []Direction{
					{Sent: 100, Received: 100, LossPct: 0, JitterMS: 3, DelayMS: 30, Audio: true},
					{Sent: 100, Received: 0, Lost: 100, LossPct: 100},
					{}, // nothing sent or received: not a sample
				}
			}),
			with(failed("b", CauseDropped), func(r *Result) {
				r.Media = []Direction{{Sent: 50, Received: 45, Lost: 5, LossPct: 10, JitterMS: 7, DelayMS: 70}}
			}),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "loss.n", s.Media.LossPct.N, 3)
			wantF(t, "loss.p50", s.Media.LossPct.P50, 10)
			wantF(t, "loss.p95", s.Media.LossPct.P95, 100)
			wantI(t, "jitter.n", s.Media.JitterMS.N, 2)
			wantF(t, "jitter.p95", s.Media.JitterMS.P95, 7)
			wantF(t, "delay.p50", s.Media.DelayMS.P50, 30)
		}},
		{"one-way and no audio counted whatever the outcome", []Result{
			with(failed("a", CauseMedia), func(r *Result) { r.OneWayAudio = true }),
			with(call("b"), func(r *Result) { r.OneWayAudio = true }),
			with(failed("c", CauseMedia), func(r *Result) { r.NoAudio = true }),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "one_way_audio", s.Media.OneWayAudio, 2)
			wantI(t, "no_audio", s.Media.NoAudio, 1)
		}},
		{"counts by kind and outcome", []Result{
			call("a"), failed("b", CauseICE), failed("c", CauseCanceled),
			{Kind: KindRegister, ID: "r1", Outcome: OutcomeOK},
			{Kind: KindRegister, ID: "r2", Outcome: OutcomeFailed, Cause: CauseRegister},
			{Kind: KindSpec, ID: "s1", Outcome: OutcomeFailed},
			{Kind: "bogus", ID: "x1"}, {Kind: "bogus", ID: "x2"},
		}, func(t *testing.T, s *Summary) {
			want := Calls{Attempted: 3, Connected: 1, Failed: 1, Canceled: 1}
			if s.Calls != want {
				t.Errorf("calls = %+v, want %+v", s.Calls, want)
			}
			if want := (Registrations{Attempted: 2, OK: 1, Failed: 1}); s.Registrations != want {
				t.Errorf("registrations = %+v, want %+v", s.Registrations, want)
			}
			if len(s.Run.Warnings) != 1 || !strings.Contains(s.Run.Warnings[0], `2 records of unknown kind "bogus"`) {
				t.Errorf("warnings = %q", s.Run.Warnings)
			}
		}},
		{"failures grouped by cause, most frequent first", []Result{
			failed("a1", CauseICE), failed("t1", CauseTimeout), failed("t2", CauseTimeout),
			with(failed("u1", ""), func(r *Result) { r.Error = "Authorization: Bearer abc" }),
			failed("t3", CauseTimeout), failed("t4", CauseTimeout), failed("t5", CauseTimeout), failed("t6", CauseTimeout),
			failed("z", CauseCanceled),
			{Kind: KindRegister, ID: "r1", Outcome: OutcomeFailed, Cause: CauseRegister},
		}, func(t *testing.T, s *Summary) {
			var got []string
			for _, g := range s.Failures {
				got = append(got, fmt.Sprintf("%s:%d:%s", g.Cause, g.Count, strings.Join(g.Examples, ",")))
			}
			want := "timeout:6:t1,t2,t3,t4,t5|ice:1:a1|unknown:1:u1|register:1:r1"
			if strings.Join(got, "|") != want {
				t.Errorf("failures = %q, want %q", strings.Join(got, "|"), want)
			}
			if e := s.Failures[2].Error; e != "Authorization: Bearer "+Redacted {
				t.Errorf("failure error not redacted: %q", e)
			}
		}},
		{"attacks merged by name, worst verdict wins", []Result{
			{Kind: KindAttack, ID: "p1", Attack: &Finding{Name: "replay", Verdict: VerdictResisted, Evidence: []string{"r1"}}},
			{Kind: KindAttack, ID: "p2", Attack: &Finding{Name: "replay", Verdict: VerdictVulnerable, Severity: "high", Evidence: []string{"v1"}}},
			{Kind: KindAttack, ID: "p3", Attack: &Finding{Name: "replay", Verdict: VerdictInconclusive}},
			{Kind: KindAttack, ID: "enum", Outcome: OutcomeFailed, Error: "dial: refused"},
			{Kind: KindAttack, ID: "p4", Attack: &Finding{Name: "odd", Verdict: "maybe"}},
		}, func(t *testing.T, s *Summary) {
			if len(s.Attacks) != 3 {
				t.Fatalf("attacks = %+v", s.Attacks)
			}
			a := s.Attacks[0]
			if a.Name != "replay" || a.Verdict != VerdictVulnerable || a.Severity != "high" || a.Probes != 3 {
				t.Errorf("replay = %+v", a)
			}
			if want := "p2 (VULNERABLE): v1|p1 (resisted): r1"; strings.Join(a.Evidence, "|") != want {
				t.Errorf("evidence = %q, want %q", a.Evidence, want)
			}
			if e := s.Attacks[1]; e.Name != "enum" || e.Verdict != VerdictInconclusive || strings.Join(e.Evidence, "") != "error: dial: refused" {
				t.Errorf("record without finding = %+v", e)
			}
			if o := s.Attacks[2]; o.Verdict != VerdictInconclusive || !strings.Contains(o.Evidence[0], `unknown verdict "maybe"`) {
				t.Errorf("unknown verdict = %+v", o)
			}
		}},
		{"negotiated counts what was observed", []Result{
			with(call("a"), func(r *Result) {
				r.Codec = "opus/48000/2"
				r.Security = Security{DTLSVersion: "DTLS 1.2", CipherSuite: "X", SRTPProfile: "P", FingerprintHash: "sha-256"}
			}),
			with(call("b"), func(r *Result) { r.Codec = "PCMU/8000"; r.ICE.RemoteCandidate = "" }),
			with(failed("c", CauseDTLS), func(r *Result) { r.Codec = "opus/48000/2"; r.Security.DTLSVersion = "DTLS 1.0" }),
		}, func(t *testing.T, s *Summary) {
			n := s.Negotiated
			if n.Codec["opus/48000/2"] != 2 || n.Codec["PCMU/8000"] != 1 || n.DTLSVersion["DTLS 1.0"] != 1 ||
				n.CipherSuite["X"] != 1 || n.SRTPProfile["P"] != 1 || n.FingerprintHash["sha-256"] != 1 || n.CandidatePair["host/?"] != 1 {
				t.Errorf("negotiated = %+v", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, summarize(tt.recs)) })
	}
}

func TestSummaryStatus(t *testing.T) {
	pass, _ := ParseThreshold("calls.failed == 0")
	fail, _ := ParseThreshold("calls.failed > 0")
	atk := func(v string) Result { return Result{Kind: KindAttack, ID: v, Attack: &Finding{Name: v, Verdict: v}} }
	tests := []struct {
		name string
		ts   []Threshold
		recs []Result
		want Status
	}{
		{"all held", []Threshold{pass}, []Result{call("a")}, StatusPass},
		{"threshold failed", []Threshold{pass, fail}, []Result{call("a")}, StatusFail},
		{"vulnerable", []Threshold{pass}, []Result{atk(VerdictResisted), atk(VerdictVulnerable)}, StatusFail},
		{"inconclusive", []Threshold{pass}, []Result{atk(VerdictResisted), atk(VerdictInconclusive)}, StatusInconclusive},
		{"failed beats inconclusive", []Threshold{fail}, []Result{atk(VerdictInconclusive)}, StatusFail},
		{"defaults apply with no thresholds", nil, []Result{failed("a", CauseICE)}, StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.recs, WithThresholds(tt.ts...)).Status; got != tt.want {
				t.Fatalf("status = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummaryRunMeta(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	rec := func(s, e int) Result {
		return with(call("a"), func(r *Result) {
			r.Start = t0.Add(time.Duration(s) * time.Second)
			r.End = t0.Add(time.Duration(e) * time.Second)
		})
	}
	z := NewSummarizer(RunMeta{Target: "turn:127.0.0.1?password=pw", Warnings: []string{"secret: x"}})
	z.Add(rec(5, 9))
	z.Add(rec(2, 4))
	z.Add(with(failed("b", CauseCanceled), func(r *Result) { r.Start = t0.Add(20 * time.Second) }))
	s := z.Summary()
	if !s.Run.Start.Equal(t0.Add(2*time.Second)) || !s.Run.End.Equal(t0.Add(9*time.Second)) || s.Run.DurationMS != 7000 {
		t.Errorf("run = %v .. %v (%v ms), want 2s .. 9s (7000 ms)", s.Run.Start, s.Run.End, s.Run.DurationMS)
	}
	if s.Run.Target != "turn:127.0.0.1?password="+Redacted || s.Run.Warnings[0] != "secret: "+Redacted {
		t.Errorf("meta not redacted: %q %q", s.Run.Target, s.Run.Warnings)
	}
	given := NewSummarizer(RunMeta{Start: t0, End: t0.Add(time.Minute), DurationMS: 60000})
	given.Add(rec(5, 9))
	if m := given.Summary().Run; !m.Start.Equal(t0) || m.DurationMS != 60000 {
		t.Errorf("given meta overwritten: %+v", m)
	}
}

func TestSummaryIsACopy(t *testing.T) {
	z := NewSummarizer(RunMeta{Warnings: []string{"w"}})
	z.Add(failed("a", CauseICE))
	z.Add(Result{Kind: KindAttack, ID: "x", Attack: &Finding{Name: "x", Verdict: VerdictResisted, Evidence: []string{"e"}}})
	s := z.Summary()
	s.Failures[0].Examples[0] = "mutated"
	s.Attacks[0].Evidence[0] = "mutated"
	s.Negotiated.Codec["mutated"] = 1
	s.Run.Warnings[0] = "mutated"
	again := z.Summary()
	if again.Failures[0].Examples[0] != "a" || again.Attacks[0].Evidence[0] != "e" ||
		len(again.Negotiated.Codec) != 0 || again.Run.Warnings[0] != "w" {
		t.Fatalf("a Summary shares state with the Summarizer: %+v", again)
	}
}

func TestSummarizerConcurrentAdd(t *testing.T) {
	z := NewSummarizer(RunMeta{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				z.Add(call(fmt.Sprintf("%d-%d", g, i), 4.0))
				_ = z.Summary()
			}
		})
	}
	wg.Wait()
	if s := z.Summary(); s.Calls.Connected != 200 || s.MOS.N != 200 {
		t.Fatalf("calls = %+v, mos n = %d; want 200", s.Calls, s.MOS.N)
	}
}

func TestAttackEvidenceCapKeepsWorstFirst(t *testing.T) {
	z := NewSummarizer(RunMeta{})
	for i := range MaxEvidence + 5 {
		z.Add(Result{Kind: KindAttack, ID: fmt.Sprint("r", i), Attack: &Finding{Name: "a", Verdict: VerdictResisted, Evidence: []string{"calm"}}})
	}
	z.Add(Result{Kind: KindAttack, ID: "v", Attack: &Finding{Name: "a", Verdict: VerdictVulnerable, Evidence: []string{"broken"}}})
	ev := z.Summary().Attacks[0].Evidence
	if len(ev) != MaxEvidence+1 || ev[0] != "v (VULNERABLE): broken" || ev[MaxEvidence] != "(6 more evidence lines not kept)" {
		t.Fatalf("evidence = %q", ev)
	}
}

func wantF(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = null, want %v", name, want)
	} else if d := *got - want; d > 1e-12 || d < -1e-12 {
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}

func wantNil(t *testing.T, name string, got *float64) {
	t.Helper()
	if got != nil {
		t.Errorf("%s = %v, want null", name, *got)
	}
}

func wantI(t *testing.T, name string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", name, got, want)
	}
}

func TestHostMeta(t *testing.T) {
	m := HostMeta(RunMeta{Hostname: "given"})
	if m.GoVersion == "" || m.OS == "" || m.Arch == "" || m.Hostname != "given" {
		t.Fatalf("HostMeta = %+v", m)
	}
}

// What phone-side legs negotiated is counted beside the DTLS-SRTP figures,
// and left out of summary.json when no record has a phone leg.
func TestSummaryTrunkSRTP(t *testing.T) {
	sdes := func(r *Result) { r.Security.TrunkSRTP = "SDES AES_CM_128_HMAC_SHA1_80" }
	plain := func(r *Result) { r.Security.TrunkSRTP = "none" }
	s := summarize([]Result{with(call("a", 4.4), sdes), with(call("b", 4.4), sdes), with(call("c", 4.4), plain), call("d", 4.4)})
	want := map[string]int{"SDES AES_CM_128_HMAC_SHA1_80": 2, "none": 1}
	if !maps.Equal(s.Negotiated.TrunkSRTP, want) {
		t.Errorf("trunk_srtp %v, want %v", s.Negotiated.TrunkSRTP, want)
	}
	if s := summarize([]Result{call("e", 4.4)}); s.Negotiated.TrunkSRTP != nil {
		t.Errorf("no phone leg, yet trunk_srtp %v", s.Negotiated.TrunkSRTP)
	}
}
