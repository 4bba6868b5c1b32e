package reports

import (
	"maps"
	"math"
	"slices"
	"time"
)

// MaxTimelinePoints bounds Timeline.Points: a run longer than this many
// seconds gets buckets several seconds wide, so summary.json and the report
// stay small however long the run.
const MaxTimelinePoints = 1200

// Where a Timeline's quality figures come from.
const (
	// QualityCallsEnding: each call's figures count in the second it ended
	// (its MOS as mos.p50 takes it, its directions' loss and jitter).
	QualityCallsEnding = "calls-ending"
	// QualitySamples: per-interval readings of calls in progress
	// (Summarizer.AddSample), such as per-second RTP or RTCP figures.
	QualitySamples = "samples"
)

// Timeline is the run second by second: load (calls and room participants
// in progress, started, ended, failed) and quality. Points are consecutive buckets of StepS
// seconds from Start, from the first to the last second any call touched
// (the run's start, when it came earlier), with none missing, so a chart can
// draw them as they are.
type Timeline struct {
	Start time.Time `json:"start"` // whole second (UTC) where point 0 begins; zero with no points
	StepS int       `json:"step_s"`
	// QualitySource is QualityCallsEnding, or QualitySamples once any
	// sample arrived: the two are never mixed in one timeline.
	QualitySource string      `json:"quality_source"`
	Points        []TimePoint `json:"points"`
}

// TimePoint is one bucket of a Timeline. Quality figures are means over the
// bucket's readings and null when it had none.
type TimePoint struct {
	T int `json:"t"` // seconds from Timeline.Start to the bucket's start
	// Active is the mean number of calls (and room participants, each
	// a record of its own) in progress over the bucket: the call-seconds
	// spent in it divided by its length (two decimals). Calls
	// that follow each other within a second are not counted as concurrent,
	// and a call shorter than the bucket counts for its share of it.
	Active   float64  `json:"active"`
	Started  int      `json:"started"`
	Ended    int      `json:"ended"`  // calls that ended, whatever the outcome
	Failed   int      `json:"failed"` // of those, failed for a cause other than canceled
	MOS      *float64 `json:"mos"`
	LossPct  *float64 `json:"loss_pct"`
	JitterMS *float64 `json:"jitter_ms"`
}

// QualitySample is one reading of a call direction over a short interval,
// for the timeline. A NaN field was not measured; MOS 0 means not computed.
type QualitySample struct {
	At       time.Time
	MOS      float64
	LossPct  float64
	JitterMS float64
}

// timeline accumulates per-second buckets keyed by Unix second. Memory is
// bounded by the run's length in seconds, not by its call count.
type timeline struct {
	seconds map[int64]*second
	sampled bool // some QualitySample arrived: quality comes from samples only
}

type second struct {
	started, ended, failed int
	delta                  int     // change, at this second's start, in the calls that span whole seconds
	partial                float64 // call-seconds of calls that start or end within this second
	ending, sampled        quality
}

type quality struct{ mos, loss, jitter mean }

func (q *quality) merge(o quality) {
	q.mos.merge(o.mos)
	q.loss.merge(o.loss)
	q.jitter.merge(o.jitter)
}

type mean struct {
	sum float64
	n   int
}

func (m *mean) add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	m.sum += v
	m.n++
}

func (m *mean) merge(o mean) { m.sum += o.sum; m.n += o.n }

func (m mean) value() *float64 {
	if m.n == 0 {
		return nil
	}
	return ptrTo(m.sum / float64(m.n))
}

func newTimeline() timeline { return timeline{seconds: map[int64]*second{}} }

func (tl *timeline) at(sec int64) *second {
	b := tl.seconds[sec]
	if b == nil {
		b = &second{}
		tl.seconds[sec] = b
	}
	return b
}

// addCall counts r in the seconds from its start to its end. A record with
// no start time is left out; one that ends before it starts is taken as
// ending when it started.
func (tl *timeline) addCall(r Result) {
	if r.Start.IsZero() {
		return
	}
	end := r.End
	if end.Before(r.Start) {
		end = r.Start
	}
	s, e := r.Start.Unix(), end.Unix()
	fs, fe := float64(r.Start.Nanosecond())/1e9, float64(end.Nanosecond())/1e9
	if s == e {
		tl.at(s).partial += fe - fs
	} else {
		tl.at(s).partial += 1 - fs
		tl.at(e).partial += fe
		tl.at(s+1).delta++ // seconds s+1 .. e-1 are spent whole
		tl.at(e).delta--
	}
	tl.at(s).started++
	b := tl.at(e)
	b.ended++
	if r.Outcome != OutcomeOK && r.Cause != CauseCanceled {
		b.failed++
	}
	if r.Outcome == OutcomeOK {
		if m, ok := callMOS(r.Media); ok {
			b.ending.mos.add(m)
		}
	}
	for _, d := range r.Media {
		if d.Sent+d.Received+d.Lost > 0 {
			b.ending.loss.add(d.LossPct)
		}
		if d.Received > 0 {
			b.ending.jitter.add(d.JitterMS)
		}
	}
}

func (tl *timeline) addSample(s QualitySample) {
	if s.At.IsZero() {
		return
	}
	tl.sampled = true
	q := &tl.at(s.At.Unix()).sampled
	if s.MOS > 0 {
		q.mos.add(s.MOS)
	}
	q.loss.add(s.LossPct)
	q.jitter.add(s.JitterMS)
}

// summary lays the seconds out as consecutive points from the earlier of
// runStart and the first second seen.
func (tl *timeline) summary(runStart time.Time) Timeline {
	out := Timeline{StepS: 1, QualitySource: QualityCallsEnding, Points: []TimePoint{}}
	if tl.sampled {
		out.QualitySource = QualitySamples
	}
	if len(tl.seconds) == 0 {
		return out
	}
	keys := slices.Sorted(maps.Keys(tl.seconds))
	first, last := keys[0], keys[len(keys)-1]
	if !runStart.IsZero() && runStart.Unix() < first {
		first = runStart.Unix()
	}
	span := last - first + 1
	step := int64(1)
	if span > MaxTimelinePoints {
		step = (span + MaxTimelinePoints - 1) / MaxTimelinePoints
	}
	out.Start = time.Unix(first, 0).UTC()
	out.StepS = int(step)
	pts := make([]TimePoint, (span+step-1)/step)
	qs := make([]quality, len(pts))
	callSeconds := make([]float64, len(pts))
	for i := range pts {
		pts[i].T = i * int(step)
	}
	whole := 0 // calls spending the whole of the current second
	for ki, k := range keys {
		b := tl.seconds[k]
		whole += b.delta
		i := (k - first) / step
		callSeconds[i] += b.partial
		// whole holds from k until the next second that changes it.
		next := last + 1
		if ki+1 < len(keys) {
			next = keys[ki+1]
		}
		for sec := k; whole > 0 && sec < next; {
			p := (sec - first) / step
			end := min(next, first+(p+1)*step)
			callSeconds[p] += float64(whole) * float64(end-sec)
			sec = end
		}
		pts[i].Started += b.started
		pts[i].Ended += b.ended
		pts[i].Failed += b.failed
		if tl.sampled {
			qs[i].merge(b.sampled)
		} else {
			qs[i].merge(b.ending)
		}
	}
	for i := range pts {
		width := min(step, last+1-first-int64(pts[i].T))
		pts[i].Active = math.Round(callSeconds[i]/float64(width)*100) / 100
		pts[i].MOS, pts[i].LossPct, pts[i].JitterMS = qs[i].mos.value(), qs[i].loss.value(), qs[i].jitter.value()
	}
	out.Points = pts
	return out
}
