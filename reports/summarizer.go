package reports

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Limits on what a Summary keeps of free text, so that a long run's
// summary stays readable.
const (
	MaxFailureExamples = 5  // record IDs kept per failure cause
	MaxEvidence        = 20 // evidence lines kept per attack
)

// Summarizer aggregates a stream of Results into a Summary. It keeps counts
// and one float slice per distribution, never the records themselves. It is
// safe for concurrent use, and Summary may be called at any time (for live
// status) as well as at the end.
//
// Definitions (DESIGN.md):
//   - calls: call records; connected = outcome ok; failed = any other
//     outcome except cause canceled, counted apart.
//   - ICE success rate = calls with ice.connected / calls with
//     ice.sdp_exchanged; relay ratio = of those ICE-connected calls, the ones
//     with ice.relay.
//   - MOS per call = the lowest MOS over its directions that carry one
//     (MOS 0 means not computed and is skipped), over connected calls.
//   - setup_ms = phases.total_ms of connected calls; setup_phases likewise,
//     each phase over the connected calls that reached it (non-zero).
//   - loss over every direction of every call record that sent, received or
//     lost packets; jitter and delay over directions that received packets.
//   - negotiated counts every call and room record that observed the
//     value, except candidate_pair and relay_protocol, over the
//     ICE-connected call records (the ICE section's figures).
//   - failures group failed call and REGISTER records by cause.
//   - rooms: the room records, counted there only (see RoomsSummary);
//     absent when there are none.
//   - attacks merge the attack records of one name: the worst verdict wins.
//   - histograms count the samples of mos, setup_ms, media.loss_pct and
//     media.jitter_ms in fixed buckets; the timeline counts call records
//     per second (see Timeline).
//
// Spec records (conformance specs) are not summarised: ginkgo reports them.
type Summarizer struct {
	mu         sync.Mutex
	meta       RunMeta
	thresholds []Threshold

	calls    Calls
	regs     Registrations
	ice      ICESummary
	oneWay   int
	noAudio  int
	unknown  map[string]int // records of unknown kind, by kind
	first    time.Time
	last     time.Time
	neg      Negotiated
	failures []*FailureGroup
	attacks  []*attackAgg
	timeline timeline
	rooms    *roomsAgg // nil until the first room record

	mos, setup, signaling, iceMS, dtls, firstMedia samples
	loss, jitter, delay                            samples
}

// attackAgg merges one attack's probes. Evidence is kept per verdict
// (each list capped at MaxEvidence) so that the lines behind the worst
// verdict are listed first and never crowded out by earlier, milder probes.
type attackAgg struct {
	AttackSummary
	evidence [3][]evidenceLine // by verdictRank
	total    int               // evidence lines seen
}

type evidenceLine struct {
	probe, text string
}

// SummarizerOption configures a Summarizer.
type SummarizerOption func(*Summarizer)

// WithThresholds sets the thresholds Summary evaluates. With none (the
// default), DefaultThresholds apply, marked as such.
func WithThresholds(ts ...Threshold) SummarizerOption {
	return func(z *Summarizer) { z.thresholds = slices.Clone(ts) }
}

// NewSummarizer returns an empty Summarizer for the run meta describes.
// Zero meta.Start and meta.End are filled from the records' own times.
func NewSummarizer(meta RunMeta, opts ...SummarizerOption) *Summarizer {
	z := &Summarizer{
		meta:     meta,
		unknown:  map[string]int{},
		neg:      newNegotiated(),
		timeline: newTimeline(),
	}
	z.meta.Warnings = slices.Clone(meta.Warnings)
	for _, o := range opts {
		o(z)
	}
	return z
}

func newNegotiated() Negotiated {
	return Negotiated{
		Codec: map[string]int{}, DTLSVersion: map[string]int{}, CipherSuite: map[string]int{},
		SRTPProfile: map[string]int{}, FingerprintHash: map[string]int{}, CandidatePair: map[string]int{},
		RelayProtocol: map[string]int{}, TrunkSRTP: map[string]int{},
	}
}

// SetMeta replaces the run metadata (the runner learns the run's end,
// whether it was interrupted and its warnings only after the last record).
func (z *Summarizer) SetMeta(meta RunMeta) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.meta = meta
	z.meta.Warnings = slices.Clone(meta.Warnings)
}

// Close does nothing: a Summarizer holds no resources. It makes a
// Summarizer a Reporter.
func (z *Summarizer) Close() error { return nil }

// Add folds one record into the aggregate.
func (z *Summarizer) Add(r Result) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !r.Start.IsZero() && (z.first.IsZero() || r.Start.Before(z.first)) {
		z.first = r.Start
	}
	if r.End.After(z.last) {
		z.last = r.End
	}
	switch r.Kind {
	case KindCall:
		z.addCall(r)
	case KindRegister:
		z.regs.Attempted++
		if r.Outcome == OutcomeOK {
			z.regs.OK++
		} else {
			z.regs.Failed++
			z.failures = addFailure(z.failures, r)
		}
	case KindAttack:
		z.addAttack(r)
	case KindRoom:
		if z.rooms == nil {
			z.rooms = newRoomsAgg()
		}
		z.rooms.add(r)
		z.addSecurity(r)
		z.timeline.addCall(r) // a participant in a room is load in progress, as a call is
	case KindInterval:
		if r.Interval != nil && r.Interval.Directions > 0 {
			z.timeline.addSample(r.Interval.sample(r))
		}
	case KindSpec:
	default:
		z.unknown[r.Kind]++
	}
}

// AddSample folds a reading of a call in progress into the timeline's
// quality figures. Once one sample arrived, the timeline takes quality from
// samples only (QualitySamples), no longer from calls as they end.
func (z *Summarizer) AddSample(s QualitySample) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.timeline.addSample(s)
}

func (z *Summarizer) addCall(r Result) {
	z.calls.Attempted++
	z.timeline.addCall(r)
	switch {
	case r.Outcome == OutcomeOK:
		z.calls.Connected++
	case r.Cause == CauseCanceled:
		z.calls.Canceled++
	default:
		z.calls.Failed++
		z.failures = addFailure(z.failures, r)
	}

	z.addExpectation(r)
	if r.ICE.SDPExchanged {
		z.ice.SDPExchanged++
		if r.ICE.Connected {
			z.ice.Connected++
			if r.ICE.Relay {
				z.ice.Relay++
			}
		}
	}
	if r.OneWayAudio {
		z.oneWay++
	}
	if r.NoAudio {
		z.noAudio++
	}

	if r.Outcome == OutcomeOK {
		z.addPhases(r.Phases)
		if m, ok := callMOS(r.Media); ok {
			z.mos.add(m)
		}
	}
	for _, d := range r.Media {
		if d.Sent+d.Received+d.Lost > 0 {
			z.loss.add(d.LossPct)
		}
		if d.Received > 0 {
			z.jitter.add(d.JitterMS)
			z.delay.add(d.DelayMS)
		}
	}
	z.addSecurity(r)
	if r.ICE.Connected && r.ICE.LocalCandidate != "" {
		remote := r.ICE.RemoteCandidate
		if remote == "" {
			remote = "?"
		}
		z.neg.CandidatePair[r.ICE.LocalCandidate+"/"+remote]++
	}
	if r.ICE.Connected && r.ICE.Relay {
		countIf(z.neg.RelayProtocol, r.ICE.RelayProtocol)
	}
}

// addSecurity counts the codec and what DTLS-SRTP negotiated, for a call
// or room record.
func (z *Summarizer) addSecurity(r Result) {
	countIf(z.neg.Codec, r.Codec)
	countIf(z.neg.DTLSVersion, r.Security.DTLSVersion)
	countIf(z.neg.CipherSuite, r.Security.CipherSuite)
	countIf(z.neg.SRTPProfile, r.Security.SRTPProfile)
	countIf(z.neg.FingerprintHash, r.Security.FingerprintHash)
	countIf(z.neg.TrunkSRTP, r.Security.TrunkSRTP)
}

// addExpectation counts a call against its expected ICE outcome. A call
// that failed before ICE could run (signaling) still counts: a pairing
// that should connect did not.
func (z *Summarizer) addExpectation(r Result) {
	if r.ICE.Expected == "" || r.Cause == CauseCanceled {
		return
	}
	z.ice.Expected++
	if !r.ICE.AsExpected() {
		z.ice.Unexpected++
	}
	if z.ice.ByPairing == nil {
		z.ice.ByPairing = map[string]*PairingStat{}
	}
	key := r.ICE.NAT + "/" + r.ICE.PeerNAT
	ps := z.ice.ByPairing[key]
	if ps == nil {
		ps = &PairingStat{Expected: r.ICE.Expected, Outcomes: map[string]int{}}
		z.ice.ByPairing[key] = ps
	}
	ps.Outcomes[r.ICE.Outcome()]++
}

func (z *Summarizer) addPhases(p Phases) {
	for _, ph := range []struct {
		v float64
		s *samples
	}{
		{p.TotalMS, &z.setup},
		{p.SignalingMS, &z.signaling},
		{p.ICEMS, &z.iceMS},
		{p.DTLSMS, &z.dtls},
		{p.FirstMediaMS, &z.firstMedia},
	} {
		if ph.v > 0 {
			ph.s.add(ph.v)
		}
	}
}

// callMOS is the lowest MOS over the directions that carry one.
func callMOS(media []Direction) (float64, bool) {
	lowest, ok := 0.0, false
	for _, d := range media {
		if d.MOS <= 0 {
			continue
		}
		if !ok || d.MOS < lowest {
			lowest, ok = d.MOS, true
		}
	}
	return lowest, ok
}

func countIf(m map[string]int, key string) {
	if key != "" {
		m[key]++
	}
}

// addFailure counts a failed record into the group of its cause and
// returns the groups.
func addFailure(groups []*FailureGroup, r Result) []*FailureGroup {
	cause := r.Cause
	if cause == "" {
		cause = "unknown"
	}
	i := slices.IndexFunc(groups, func(g *FailureGroup) bool { return g.Cause == cause })
	if i < 0 {
		groups = append(groups, &FailureGroup{Cause: cause, Examples: []string{}, Error: Redact(r.Error)})
		i = len(groups) - 1
	}
	g := groups[i]
	g.Count++
	if len(g.Examples) < MaxFailureExamples {
		g.Examples = append(g.Examples, r.ID)
	}
	return groups
}

// verdictRank orders verdicts from best to worst.
func verdictRank(v string) int {
	switch v {
	case VerdictResisted:
		return 0
	case VerdictInconclusive:
		return 1
	case VerdictVulnerable:
		return 2
	}
	return -1
}

func (z *Summarizer) addAttack(r Result) {
	f := Finding{Name: r.ID, Verdict: VerdictInconclusive}
	if r.Attack != nil {
		f = *r.Attack
	}
	var evidence []string
	if verdictRank(f.Verdict) < 0 {
		evidence = append(evidence, fmt.Sprintf("unknown verdict %q, counted as %s", f.Verdict, VerdictInconclusive))
		f.Verdict = VerdictInconclusive
	}
	evidence = append(evidence, f.Evidence...)
	if r.Error != "" {
		evidence = append(evidence, "error: "+r.Error)
	}

	i := slices.IndexFunc(z.attacks, func(a *attackAgg) bool { return a.Name == f.Name })
	if i < 0 {
		z.attacks = append(z.attacks, &attackAgg{AttackSummary: AttackSummary{
			Name: f.Name, Verdict: f.Verdict, Severity: f.Severity,
		}})
		i = len(z.attacks) - 1
	}
	a := z.attacks[i]
	a.Probes++
	rank := verdictRank(f.Verdict)
	if rank > verdictRank(a.Verdict) {
		a.Verdict = f.Verdict
		if f.Severity != "" {
			a.Severity = f.Severity
		}
	}
	if a.Severity == "" {
		a.Severity = f.Severity
	}
	if a.Remediation == "" {
		a.Remediation = Redact(f.Remediation)
	}
	for _, e := range evidence {
		a.total++
		if len(a.evidence[rank]) < MaxEvidence {
			a.evidence[rank] = append(a.evidence[rank], evidenceLine{probe: r.ID, text: Redact(e)})
		}
	}
}

// summary lists the evidence of the worst verdict first. When probes
// disagree, each line names its probe and that probe's verdict.
func (a *attackAgg) summary() AttackSummary {
	c := a.AttackSummary
	c.Evidence = []string{}
	mixed := 0
	for _, lines := range a.evidence {
		if len(lines) > 0 {
			mixed++
		}
	}
	for rank := len(a.evidence) - 1; rank >= 0; rank-- {
		for _, l := range a.evidence[rank] {
			if len(c.Evidence) == MaxEvidence {
				break
			}
			text := l.text
			if mixed > 1 {
				text = fmt.Sprintf("%s (%s): %s", l.probe, verdictNames[rank], l.text)
			}
			c.Evidence = append(c.Evidence, text)
		}
	}
	if n := a.total - len(c.Evidence); n > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("(%d more evidence lines not kept)", n))
	}
	return c
}

var verdictNames = [3]string{VerdictResisted, VerdictInconclusive, VerdictVulnerable}

// Summary returns the aggregate so far, with the thresholds evaluated and
// the status set. The result shares nothing with the Summarizer.
func (z *Summarizer) Summary() *Summary {
	z.mu.Lock()
	defer z.mu.Unlock()
	s := &Summary{
		Run:           z.runMeta(),
		Calls:         z.calls,
		Registrations: z.regs,
		ICE:           z.ice,
		SetupMS:       z.setup.dist(),
		SetupPhases: SetupPhases{
			SignalingMS:  z.signaling.dist(),
			ICEMS:        z.iceMS.dist(),
			DTLSMS:       z.dtls.dist(),
			FirstMediaMS: z.firstMedia.dist(),
		},
		Media: MediaSummary{
			LossPct:     z.loss.dist(),
			JitterMS:    z.jitter.dist(),
			DelayMS:     z.delay.dist(),
			OneWayAudio: z.oneWay,
			NoAudio:     z.noAudio,
		},
		Negotiated: cloneNegotiated(z.neg),
		Failures:   copyFailures(z.failures),
		Attacks:    []AttackSummary{},
		Histograms: Histograms{
			MOS:      newHistogram(mosEdges, z.mos),
			SetupMS:  newHistogram(setupMSEdges, z.setup),
			LossPct:  newHistogram(lossPctEdges, z.loss),
			JitterMS: newHistogram(jitterMSEdges, z.jitter),
		},
	}
	s.Timeline = z.timeline.summary(s.Run.Start)
	s.ICE.ByPairing = clonePairings(z.ice.ByPairing)
	if z.ice.SDPExchanged > 0 {
		s.ICE.SuccessRate = ptrTo(float64(z.ice.Connected) / float64(z.ice.SDPExchanged))
	}
	if z.ice.Connected > 0 {
		s.ICE.RelayRatio = ptrTo(float64(z.ice.Relay) / float64(z.ice.Connected))
	}
	s.MOS = mosOf(z.mos)
	if z.rooms != nil {
		s.Rooms = z.rooms.summary()
	}
	for _, a := range z.attacks {
		s.Attacks = append(s.Attacks, a.summary())
	}
	s.ApplyThresholds(z.thresholds)
	return s
}

func (z *Summarizer) runMeta() RunMeta {
	m := z.meta
	m.Target = Redact(m.Target)
	m.Warnings = make([]string, 0, len(z.meta.Warnings)+len(z.unknown))
	for _, w := range z.meta.Warnings {
		m.Warnings = append(m.Warnings, Redact(w))
	}
	for _, kind := range slices.Sorted(maps.Keys(z.unknown)) {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d records of unknown kind %q ignored", z.unknown[kind], kind))
	}
	if m.Start.IsZero() {
		m.Start = z.first
	}
	if m.End.IsZero() {
		m.End = z.last
	}
	if m.DurationMS == 0 && !m.Start.IsZero() && m.End.After(m.Start) {
		m.DurationMS = float64(m.End.Sub(m.Start)) / float64(time.Millisecond)
	}
	return m
}

func cloneNegotiated(n Negotiated) Negotiated {
	c := newNegotiated()
	for _, p := range []struct{ dst, src map[string]int }{
		{c.Codec, n.Codec}, {c.DTLSVersion, n.DTLSVersion}, {c.CipherSuite, n.CipherSuite},
		{c.SRTPProfile, n.SRTPProfile}, {c.FingerprintHash, n.FingerprintHash}, {c.CandidatePair, n.CandidatePair},
		{c.RelayProtocol, n.RelayProtocol}, {c.TrunkSRTP, n.TrunkSRTP},
	} {
		maps.Copy(p.dst, p.src)
	}
	if len(c.TrunkSRTP) == 0 {
		c.TrunkSRTP = nil // omitted from summary.json when no record had a phone leg
	}
	return c
}

// clonePairings copies a ByPairing map, its stats included (nil stays nil).
func clonePairings(m map[string]*PairingStat) map[string]*PairingStat {
	if m == nil {
		return nil
	}
	c := make(map[string]*PairingStat, len(m))
	for k, p := range m {
		c[k] = &PairingStat{Expected: p.Expected, Outcomes: maps.Clone(p.Outcomes)}
	}
	return c
}

// ApplyThresholds evaluates ts (DefaultThresholds when empty) against s,
// stores the results in s.Thresholds and sets s.Status.
func (s *Summary) ApplyThresholds(ts []Threshold) {
	s.Thresholds = EvalThresholds(s, ts)
	s.Status = s.computeStatus()
}

// computeStatus: FAIL when a threshold failed or an attack found a
// weakness; else INCONCLUSIVE when an attack could not decide; else PASS.
func (s *Summary) computeStatus() Status {
	for _, t := range s.Thresholds {
		if !t.OK {
			return StatusFail
		}
	}
	if s.attackCount(VerdictVulnerable) > 0 {
		return StatusFail
	}
	if s.attackCount(VerdictInconclusive) > 0 {
		return StatusInconclusive
	}
	return StatusPass
}
