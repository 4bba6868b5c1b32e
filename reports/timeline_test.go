package reports

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// at returns r started s and ended e seconds after t0.
func at(r Result, s, e float64) Result {
	r.Start = t0.Add(time.Duration(s * float64(time.Second)))
	r.End = t0.Add(time.Duration(e * float64(time.Second)))
	return r
}

// points renders a timeline compactly: "t:active/started/ended/failed mos".
func points(tl Timeline) string {
	var b strings.Builder
	for _, p := range tl.Points {
		fmt.Fprintf(&b, "%d:%g/%d/%d/%d", p.T, p.Active, p.Started, p.Ended, p.Failed)
		if p.MOS != nil {
			fmt.Fprintf(&b, " %.2f", *p.MOS)
		}
		b.WriteString("|")
	}
	return b.String()
}

func TestTimeline(t *testing.T) {
	tests := []struct {
		name     string
		runStart time.Time
		recs     []Result
		want     string
	}{
		{"overlapping calls", time.Time{}, []Result{
			at(call("a", 4.4), 0.2, 2.5), at(call("b", 4.0), 1.9, 3.1), at(failed("c", CauseICE), 2.0, 2.4),
		}, "0:0.8/1/0/0|1:1.1/1/0/0|2:1.9/1/2/1 4.40|3:0.1/0/1/0 4.00|"},
		{"a sub-second call counts for its share", time.Time{}, []Result{at(call("a"), 5.1, 5.3)},
			"0:0.2/1/1/0|"},
		{"back-to-back waves are not concurrent", time.Time{}, []Result{
			at(call("a1"), 0, 3.1), at(call("a2"), 0, 3.1), at(call("b1"), 3.1, 6), at(call("b2"), 3.1, 6),
		}, "0:2/2/0/0|1:2/0/0/0|2:2/0/0/0|3:2/2/2/0|4:2/0/0/0|5:2/0/0/0|6:0/0/2/0|"},
		{"canceled ends but does not fail", time.Time{}, []Result{at(failed("a", CauseCanceled), 0, 0.5)},
			"0:0.5/1/1/0|"},
		{"starts at the run start", t0.Add(-2 * time.Second), []Result{at(call("a"), 0, 0)},
			"0:0/0/0/0|1:0/0/0/0|2:0/1/1/0|"},
		{"end before start counts as instant", time.Time{}, []Result{at(call("a"), 3, 1)},
			"0:0/1/1/0|"},
		{"no start time: left out", time.Time{}, []Result{{Kind: KindCall, ID: "x", Outcome: OutcomeOK}}, ""},
		{"room participants are load too", time.Time{}, []Result{
			at(Result{Kind: KindRoom, ID: "r/a", Outcome: OutcomeOK, Room: &Room{ID: "r"}}, 0, 2),
			at(Result{Kind: KindRoom, ID: "r/b", Outcome: OutcomeOK, Room: &Room{ID: "r"}}, 0, 2),
		}, "0:2/2/0/0|1:2/0/0/0|2:0/0/2/0|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := NewSummarizer(RunMeta{Start: tt.runStart})
			for _, r := range tt.recs {
				z.Add(r)
			}
			tl := z.Summary().Timeline
			if got := points(tl); got != tt.want {
				t.Errorf("points = %q\n          want %q", got, tt.want)
			}
			if tl.StepS != 1 || tl.QualitySource != QualityCallsEnding {
				t.Errorf("step %d source %q", tl.StepS, tl.QualitySource)
			}
		})
	}
}

func TestTimelineQualityMeans(t *testing.T) {
	a := at(call("a"), 0, 1.5)
	a.Media = []Direction{
		{Sent: 100, Received: 90, Lost: 10, LossPct: 10, JitterMS: 4, MOS: 3.5},
		{Sent: 100, Received: 100, LossPct: 0, JitterMS: 2, MOS: 4.3},
	}
	b := at(with(failed("b", CauseMedia), func(r *Result) {
		r.Media = []Direction{{Sent: 100, Received: 0, Lost: 100, LossPct: 100, MOS: 1}}
	}), 0, 1.2)
	p := summarize([]Result{a, b}).Timeline.Points[1]
	// MOS over the connected call only (its lowest direction); loss over
	// the three directions; jitter over the two that received.
	wantF(t, "mos", p.MOS, 3.5)
	wantF(t, "loss", p.LossPct, 110.0/3)
	wantF(t, "jitter", p.JitterMS, 3)
}

func TestTimelineSamplesReplaceCallQuality(t *testing.T) {
	z := NewSummarizer(RunMeta{})
	z.Add(at(call("a", 4.4), 0, 2))
	z.AddSample(QualitySample{At: t0.Add(1500 * time.Millisecond), MOS: 4.0, LossPct: 2, JitterMS: 5})
	z.AddSample(QualitySample{At: t0.Add(1700 * time.Millisecond), MOS: 0, LossPct: 4, JitterMS: math.NaN()})
	z.AddSample(QualitySample{}) // no time: ignored
	tl := z.Summary().Timeline
	if tl.QualitySource != QualitySamples {
		t.Fatalf("source = %q", tl.QualitySource)
	}
	p := tl.Points[1]
	wantF(t, "mos", p.MOS, 4.0)
	wantF(t, "loss", p.LossPct, 3)
	wantF(t, "jitter", p.JitterMS, 5)
	wantNil(t, "mos at the call's end", tl.Points[2].MOS)
}

func TestTimelineLongRunIsBounded(t *testing.T) {
	z := NewSummarizer(RunMeta{})
	const span = 3*MaxTimelinePoints + 7 // seconds
	for i := range 50 {
		s := float64(i * span / 50)
		z.Add(at(call(fmt.Sprint(i), 4), s, s+30))
	}
	z.Add(at(call("peak1"), 100, 101))
	z.Add(at(call("peak2"), 100, 100))
	z.Add(at(call("last"), span, span)) // seconds 0 .. span+1: 3608 > 3*1200
	tl := z.Summary().Timeline
	if tl.StepS != 4 || len(tl.Points) > MaxTimelinePoints {
		t.Fatalf("step %d, %d points", tl.StepS, len(tl.Points))
	}
	started, callSeconds := 0, 0.0
	for i, p := range tl.Points {
		if p.T != i*tl.StepS {
			t.Fatalf("point %d at t=%d, want %d", i, p.T, i*tl.StepS)
		}
		started += p.Started
		callSeconds += p.Active * float64(min(tl.StepS, span+1-p.T))
	}
	// 50 calls of 30 s and one of 1 s; each point is rounded to 0.01.
	if started != 53 || math.Abs(callSeconds-1501) > 0.005*float64(tl.StepS*len(tl.Points)) {
		t.Fatalf("started %d, call-seconds %.2f; want 53 and 1501", started, callSeconds)
	}
	if p := tl.Points[25]; p.T != 100 || p.Active != 0.75 {
		t.Fatalf("point 25 = %+v, want t=100 with 3 call-seconds in 4 s", p)
	}

	// Far-apart times (a bad clock) do not make a huge timeline.
	z = NewSummarizer(RunMeta{})
	z.Add(at(call("old"), -1e8, -1e8))
	z.Add(at(call("new"), 0, 1))
	if n := len(z.Summary().Timeline.Points); n > MaxTimelinePoints {
		t.Fatalf("%d points", n)
	}
}
