package scenarios

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// MaxCount bounds a population's Count and a flow's Weight: far beyond
// what one run can drive, small enough that sums cannot overflow.
const MaxCount = 1_000_000

// namePattern is what population, flow and users-entry names may look
// like: they end up in field paths, report keys and file names.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Validate checks the scenario as a whole: required fields, ranges, known
// names, and that flows refer to populations that can place their calls.
// It returns every mistake at once as *Errors; for a scenario loaded from a
// file each names the file, line and column. Load and Parse call it.
func (s *Scenario) Validate() error {
	l := &errorList{src: orEmpty(s.src)}
	s.validate(l)
	return l.err()
}

func (s *Scenario) validate(l *errorList) {
	v := validator{l: l}
	v.required("name", s.Name)
	if len(s.Populations) == 0 {
		v.l.add("populations", ErrRequired, "required: at least one population")
	}
	seen := map[string]int{}
	for i, p := range s.Populations {
		path := indexPath("populations", i)
		v.population(path, p)
		if p.Name == "" {
			continue
		}
		if first, dup := seen[p.Name]; dup {
			v.l.add(joinPath(path, "name"), ErrDuplicate, "duplicate population name %q (first at populations[%d]%s)", p.Name, first, v.line(indexPath("populations", first)))
			continue
		}
		seen[p.Name] = i
	}
	if len(s.Flows) == 0 {
		v.l.add("flows", ErrRequired, "required: at least one flow")
	}
	flowNames := map[string]int{}
	for i, f := range s.Flows {
		path := indexPath("flows", i)
		v.flow(path, f, s)
		if f.Name == "" {
			continue
		}
		if first, dup := flowNames[f.Name]; dup {
			v.l.add(joinPath(path, "name"), ErrDuplicate, "duplicate flow name %q (first at flows[%d]%s)", f.Name, first, v.line(indexPath("flows", first)))
			continue
		}
		flowNames[f.Name] = i
	}
	v.load(s)
	v.attacks(s.Attacks)
	v.positive("timeouts.setup", s.Timeouts.Setup)
	v.positive("timeouts.register", s.Timeouts.Register)
	v.positive("timeouts.teardown", s.Timeouts.Teardown)
	if s.Thresholds != nil && len(s.Thresholds) == 0 {
		v.l.add("thresholds", ErrRequired, "empty list; leave thresholds out (nil) to get the defaults")
	}
	for i, expr := range s.Thresholds {
		if _, err := reports.ParseThreshold(expr); err != nil {
			kind, hint := ErrSyntax, ""
			if errors.Is(err, reports.ErrUnknownMetric) {
				kind = ErrUnknownName
				metric, _, _ := strings.Cut(strings.TrimSpace(expr), " ")
				hint = strings.Replace(didYouMean(metric, reports.KnownMetrics()), " (", "; ", 1)
				hint = strings.TrimSuffix(hint, ")")
			}
			v.l.add(indexPath("thresholds", i), fmt.Errorf("%w: %w", kind, err), "%v%s", err, hint)
		}
	}
}

type validator struct {
	l *errorList
}

// line renders ", line N" for a path loaded from a file, else "".
func (v validator) line(path string) string {
	if p := v.l.src.lookup(path); p.Line > 0 {
		return fmt.Sprintf(", line %d", p.Line)
	}
	return ""
}

// written reports whether the file gave path; code-built values count as
// given, so their messages show the value rather than "required".
// given reports whether the file wrote path (false for scenarios built in code).
func (v validator) given(path string) bool {
	_, ok := v.l.src.pos[path]
	return v.l.src.file != "" && ok
}

func (v validator) written(path string) bool {
	if v.l.src.file == "" {
		return true
	}
	_, ok := v.l.src.pos[path]
	return ok
}

func (v validator) required(path, val string) bool {
	if val == "" {
		v.l.add(path, ErrRequired, "required")
		return false
	}
	return true
}

func (v validator) name(path, val string) {
	if v.required(path, val) && !namePattern.MatchString(val) {
		v.l.add(path, ErrSyntax, "bad name %q: use letters, digits, '-' and '_', starting with a letter or digit", val)
	}
}

// count checks lo <= n <= MaxCount; a zero the file left out is "required".
func (v validator) count(path string, n, lo int) {
	switch {
	case n == 0 && !v.written(path):
		v.l.add(path, ErrRequired, "required")
	case n < lo:
		v.l.add(path, ErrRange, "must be >= %d, got %d", lo, n)
	case n > MaxCount:
		v.l.add(path, ErrRange, "must be <= %d, got %d", MaxCount, n)
	}
}

func (v validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.l.add(path, ErrRange, "must be > 0, got %s", d)
	}
}

func (v validator) population(path string, p Population) {
	v.name(joinPath(path, "name"), p.Name)
	if p.Name == string(KindWebRTC) || p.Name == string(KindSIP) {
		v.l.add(joinPath(path, "name"), ErrConflict, "%q is reserved: target files use kind names as the fallback user entry; pick another name", p.Name)
	}
	kindPath := joinPath(path, "kind")
	known := v.required(kindPath, string(p.Kind))
	if known && !slices.Contains(Kinds(), p.Kind) {
		v.l.add(kindPath, ErrUnknownName, "unknown kind %q%s; known: %s", p.Kind, didYouMean(string(p.Kind), kindNames()), joinQuoted(Kinds()))
		known = false
	}
	if p.Share == 0 { // a share's problems were reported where it was decoded
		v.count(joinPath(path, "count"), p.Count, 1)
	}
	v.populationNet(path, p)
	codecsPath := joinPath(path, "codecs")
	if len(p.Codecs) == 0 {
		v.l.add(codecsPath, ErrRequired, "required: at least one codec (known: %s)", joinQuoted(Codecs()))
	}
	checkNames(v, codecsPath, "codec", p.Codecs, Codecs())
	if !known {
		return
	}
	srtpPath, setupPath := joinPath(path, "srtp_profiles"), joinPath(path, "dtls_setup")
	if p.Kind != KindWebRTC {
		if p.SRTPProfiles != nil {
			v.l.add(srtpPath, ErrConflict, "only webrtc populations use DTLS-SRTP; this one is %s (plain RTP)", p.Kind)
		}
		if p.DTLSSetup != "" {
			v.l.add(setupPath, ErrConflict, "only webrtc populations use DTLS; this one is %s (plain RTP)", p.Kind)
		}
		return
	}
	if len(p.SRTPProfiles) == 0 {
		v.l.add(srtpPath, ErrRequired, "required: at least one SRTP profile (default: %s)", joinQuoted(DefaultSRTPProfiles()))
	}
	checkNames(v, srtpPath, "SRTP profile", p.SRTPProfiles, SRTPProfiles())
	if v.required(setupPath, string(p.DTLSSetup)) && !slices.Contains(DTLSSetups(), p.DTLSSetup) {
		v.l.add(setupPath, ErrUnknownName, "unknown DTLS setup %q; known: %s", p.DTLSSetup, joinQuoted(DTLSSetups()))
	}
}

// checkNames reports unknown and repeated names in a list.
func checkNames[T ~string](v validator, path, what string, got, known []T) {
	knownStr := make([]string, len(known))
	for i, k := range known {
		knownStr[i] = string(k)
	}
	for i, g := range got {
		p := indexPath(path, i)
		switch {
		case !slices.Contains(known, g):
			v.l.add(p, ErrUnknownName, "unknown %s %q%s; known: %s", what, g, didYouMean(string(g), knownStr), joinQuoted(known))
		case slices.Index(got, g) < i:
			v.l.add(p, ErrDuplicate, "%s %q listed twice", what, g)
		}
	}
}

func orSIP(s string) string {
	if s == "" {
		return SignalingSIP
	}
	return s
}

func kindNames() []string {
	return []string{string(KindWebRTC), string(KindSIP)}
}

func (v validator) flow(path string, f Flow, s *Scenario) {
	v.name(joinPath(path, "name"), f.Name)
	fromPath, toPath := joinPath(path, "from"), joinPath(path, "to")
	from, fromOK := v.ref(fromPath, f.From, s)
	to, toOK := v.ref(toPath, f.To, s)
	isRoom := f.RoomSize != 0 || v.given(joinPath(path, "room_size"))
	switch {
	case isRoom:
		v.roomFlow(path, f, from, to, fromOK, toOK)
	case fromOK && from.Rooms() && from.Kind == KindWebRTC:
		v.l.add(fromPath, ErrConflict, "population %q joins rooms (signaling: rooms): its flows place rooms, so give room_size (%d..%d) and to: %q", from.Name, MinRoomSize, MaxRoomSize, from.Name)
	case toOK && to.Rooms() && to.Kind == KindWebRTC:
		v.l.add(toPath, ErrConflict, "population %q joins rooms (signaling: rooms): nobody calls it; its own flows place rooms (from and to %q, with room_size)", to.Name, to.Name)
	default:
		v.callFlow(path, from, to, fromOK, toOK)
	}
	wPath := joinPath(path, "weight")
	if f.Weight < 1 {
		v.l.add(wPath, ErrRange, "must be >= 1, got %d", f.Weight)
	} else if f.Weight > MaxCount {
		v.l.add(wPath, ErrRange, "must be <= %d, got %d", MaxCount, f.Weight)
	}
	v.hold(joinPath(path, "hold"), f.Hold)
	hPath := joinPath(path, "hangup")
	if v.required(hPath, string(f.Hangup)) && f.Hangup != HangupCaller && f.Hangup != HangupCallee {
		v.l.add(hPath, ErrUnknownName, "unknown hangup %q; known: %q, %q", f.Hangup, HangupCaller, HangupCallee)
	}
	if !isRoom {
		v.actions(path, f, from, to, fromOK && toOK)
		if f.JoinSpread != 0 || v.given(joinPath(path, "join_spread")) {
			v.l.add(joinPath(path, "join_spread"), ErrConflict, "join_spread spreads the joins of a room's participants; this flow places calls (a room flow gives room_size)")
		}
	}
}

// callFlow checks who may call whom.
func (v validator) callFlow(path string, from, to Population, fromOK, toOK bool) {
	fromPath, toPath := joinPath(path, "from"), joinPath(path, "to")
	if fromOK && from.Kind != KindWebRTC && slices.Contains(Kinds(), from.Kind) {
		v.l.add(fromPath, ErrUnsupported, "calls must start from a webrtc population for now (webrtc agents place the calls; sip-to-sip flows test no WebRTC edge and come later); %q is %s", from.Name, from.Kind)
	}
	if fromOK && toOK && from.Direct() != to.Direct() {
		v.l.add(toPath, ErrConflict, "a direct (signaling: direct) population calls only direct ones: %q is %s, %q is %s", from.Name, orSIP(from.Signaling), to.Name, orSIP(to.Signaling))
	}
	if fromOK && toOK && from.Name == to.Name && from.Count == 1 {
		v.l.add(toPath, ErrConflict, "a flow within one population needs count >= 2 (a user cannot call itself); %q has %d", from.Name, from.Count)
	}
}

// namesFailed reports whether some population name failed to decode, in
// which case an unknown population in a flow may be that one: say nothing.
func (v validator) namesFailed(s *Scenario) bool {
	if v.l.src.failed("populations") {
		return true
	}
	for i := range s.Populations {
		if v.l.src.failed(joinPath(indexPath("populations", i), "name")) {
			return true
		}
	}
	return false
}

// ref resolves a population name in a flow.
func (v validator) ref(path, name string, s *Scenario) (Population, bool) {
	if !v.required(path, name) {
		return Population{}, false
	}
	p, ok := s.Population(name)
	if !ok && !v.namesFailed(s) {
		names := make([]string, len(s.Populations))
		for i, p := range s.Populations {
			names[i] = p.Name
		}
		v.l.add(path, ErrUnknownName, "unknown population %q%s; populations: %s", name, didYouMean(name, names), joinQuoted(names))
	}
	return p, ok
}

func (v validator) hold(path string, h Hold) {
	if h == (Hold{}) && !v.written(path) {
		v.l.add(path, ErrRequired, "required: a duration (e.g. 3s) or {min: 2s, max: 5s}")
		return
	}
	minPath, maxPath := path, path
	if !h.Fixed() || v.l.src.pos[joinPath(path, "min")] != (Pos{}) {
		minPath, maxPath = joinPath(path, "min"), joinPath(path, "max")
	}
	v.positive(minPath, h.Min)
	if h.Max < h.Min {
		v.l.add(maxPath, ErrRange, "max %s is below min %s", h.Max, h.Min)
	}
}

func (v validator) load(s *Scenario) {
	ld := s.Load
	timed := len(ld.Stages) > 0 || ld.Duration > 0
	switch {
	case ld.Calls == 0 && timed && !v.written("load.calls"):
		// bounded by time instead
	case ld.Calls == 0 && !v.written("load.calls"):
		v.l.add("load.calls", ErrRequired, "required: how many calls to place (at most %d)", MaxCalls)
	case ld.Calls < 1:
		v.l.add("load.calls", ErrRange, "must be >= 1, got %d", ld.Calls)
	case ld.Calls > MaxCalls:
		v.l.add("load.calls", ErrRange, "must be <= %d, got %d", MaxCalls, ld.Calls)
	}
	v.loadShape(ld)
	if !ld.Rate.IsZero() && (ld.Rate.Freq < 1 || ld.Rate.Per <= 0) {
		v.l.add("load.rate", ErrRange, "must be at least 1 call per period, got %d per %s", ld.Rate.Freq, ld.Rate.Per)
		return
	}
	if ld.MaxDuration < 0 {
		v.l.add("load.max_duration", ErrRange, "must be > 0, got %s", ld.MaxDuration)
		return
	}
	if ld.MaxDuration > 0 && ld.Calls >= 1 {
		if last := ld.Rate.Span(uint64(ld.Calls)); last >= ld.MaxDuration {
			v.l.add("load.max_duration", ErrConflict, "%s ends the run before the last of %d calls is due at %s (at %s); raise it, or lower calls or raise rate", ld.MaxDuration, ld.Calls, ld.Rate, last)
		}
	}
}

// loadShape checks how calls are spread: a fixed concurrency or stages,
// and a duration only with a rate.
func (v validator) loadShape(ld LoadSpec) {
	switch {
	case len(ld.Stages) > 0 && (ld.Concurrency != 0 || v.given("load.concurrency")):
		v.l.add("load.stages", ErrConflict, "stages ramp the concurrency: give stages or concurrency, not both")
	case len(ld.Stages) == 0:
		v.count("load.concurrency", ld.Concurrency, 1)
	}
	peak := 0
	for i, st := range ld.Stages {
		p := indexPath("load.stages", i)
		if st.Duration <= 0 && v.written(joinPath(p, "duration")) {
			v.l.add(joinPath(p, "duration"), ErrRange, "must be > 0, got %s", st.Duration)
		}
		if st.Concurrency < 0 || st.Concurrency > MaxCount {
			v.l.add(joinPath(p, "concurrency"), ErrRange, "must be in 0..%d, got %d", MaxCount, st.Concurrency)
		}
		peak = max(peak, st.Concurrency)
	}
	if len(ld.Stages) > 0 && peak == 0 {
		v.l.add("load.stages", ErrRange, "every stage ramps to 0 calls: no call would ever start")
	}
	if ld.Duration != 0 || v.given("load.duration") {
		switch {
		case ld.Duration <= 0:
			v.l.add("load.duration", ErrRange, "must be > 0, got %s", ld.Duration)
		case ld.Rate.IsZero():
			v.l.add("load.duration", ErrConflict, "a duration needs a rate (calls per second) to place calls at; or give calls")
		case len(ld.Stages) > 0:
			v.l.add("load.duration", ErrConflict, "stages already set how long calls are placed: give stages or duration")
		}
	}
}
