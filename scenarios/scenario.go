// Package scenarios loads, validates and plans the YAML scenarios users
// write (who calls whom, how many, how fast, what must hold) and the target
// files that say where the deployment under test listens. Every mistake in
// a file is reported with its file:line:column and field path.
package scenarios

import (
	"fmt"
	"math"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Scenario is one scenario file: populations of virtual users, the flows
// of calls between them, how much load, timeouts and pass/fail thresholds.
// Build one with Load or Parse (which fill in defaults and validate), or in
// code from the presets below and then call Validate.
type Scenario struct {
	Name        string
	Description string
	// Seed makes the plan reproducible; nil when the file gave none (the
	// runner then picks one and records it; the CLI's --seed overrides).
	Seed *int64
	// Users is the total that population shares divide (optional).
	Users       int
	Populations []Population
	Flows       []Flow
	Load        LoadSpec
	Timeouts    Timeouts
	// Thresholds are expressions over summary fields, as written
	// ("ice.success_rate >= 0.99"). Nil means the defaults: see ParseThresholds.
	Thresholds []string
	// Attacks are run beside the load, one after another, from its start
	// (names as gauntlet attack --list gives them).
	Attacks []string

	src *source
}

// Kind is what a population's virtual users are.
type Kind string

const (
	// KindWebRTC is a browser-like endpoint: SIP over WebSocket, ICE, DTLS-SRTP.
	KindWebRTC Kind = "webrtc"
	// KindSIP is a desk phone or trunk: SIP over UDP, plain RTP.
	KindSIP Kind = "sip"
)

// Kinds lists the known kinds.
func Kinds() []Kind { return []Kind{KindWebRTC, KindSIP} }

// Codec names an audio codec as scenarios write it (lower case).
type Codec string

// Known codecs.
const (
	CodecOpus Codec = "opus"
	CodecPCMU Codec = "pcmu"
	CodecPCMA Codec = "pcma"
)

// Codecs lists the known codecs.
func Codecs() []Codec { return []Codec{CodecOpus, CodecPCMU, CodecPCMA} }

// DefaultCodecs is what a population offers when the file names none:
// Opus then PCMU for browsers, PCMU then PCMA for desk phones.
func DefaultCodecs(k Kind) []Codec {
	if k == KindWebRTC {
		return []Codec{CodecOpus, CodecPCMU}
	}
	return []Codec{CodecPCMU, CodecPCMA}
}

// SRTPProfile is a DTLS-SRTP protection profile by its IANA name.
type SRTPProfile string

// Known SRTP profiles: the IANA-registered ones pion implements. The NULL
// profiles (no encryption) are known so that attack scenarios can offer
// them; a deployment must refuse them.
const (
	SRTPAES128CMHMACSHA180 SRTPProfile = "SRTP_AES128_CM_HMAC_SHA1_80"
	SRTPAES128CMHMACSHA132 SRTPProfile = "SRTP_AES128_CM_HMAC_SHA1_32"
	SRTPAEADAES128GCM      SRTPProfile = "SRTP_AEAD_AES_128_GCM"
	SRTPAEADAES256GCM      SRTPProfile = "SRTP_AEAD_AES_256_GCM"
	SRTPNullHMACSHA180     SRTPProfile = "SRTP_NULL_HMAC_SHA1_80"
	SRTPNullHMACSHA132     SRTPProfile = "SRTP_NULL_HMAC_SHA1_32"
)

// SRTPProfiles lists the known SRTP profiles.
func SRTPProfiles() []SRTPProfile {
	return []SRTPProfile{
		SRTPAEADAES128GCM, SRTPAEADAES256GCM, SRTPAES128CMHMACSHA180,
		SRTPAES128CMHMACSHA132, SRTPNullHMACSHA180, SRTPNullHMACSHA132,
	}
}

// DefaultSRTPProfiles is what a webrtc population offers when the file
// names none: AEAD AES-128-GCM, then AES-128-CM with an 80-bit tag.
func DefaultSRTPProfiles() []SRTPProfile {
	return []SRTPProfile{SRTPAEADAES128GCM, SRTPAES128CMHMACSHA180}
}

// DTLSSetup is the a=setup role a webrtc population offers (RFC 5763).
type DTLSSetup string

// DTLS setup roles.
const (
	DTLSSetupActpass DTLSSetup = "actpass"
	DTLSSetupActive  DTLSSetup = "active"
	DTLSSetupPassive DTLSSetup = "passive"
)

// DTLSSetups lists the known setup roles; the first is the default.
func DTLSSetups() []DTLSSetup {
	return []DTLSSetup{DTLSSetupActpass, DTLSSetupActive, DTLSSetupPassive}
}

// Population is a group of identical virtual users.
type Population struct {
	Name   string
	Kind   Kind
	Count  int     // virtual users, >= 1 (from Share when the file gives a share)
	Share  float64 // share of the scenario's Users, (0, 1]; 0: Count was given
	Codecs []Codec // offered, in preference order
	// SRTPProfiles and DTLSSetup apply to KindWebRTC only and must be
	// empty for other kinds.
	SRTPProfiles []SRTPProfile
	DTLSSetup    DTLSSetup
	// ICEPolicy is "all" or "relay" (webrtc only; "" is all).
	ICEPolicy string
	// NAT is the NAT or firewall type the agents sit behind ("" or
	// "open": none), emulated in user space (agents/nat).
	NAT nat.Type
	// NoTURN takes the target's TURN servers away from the agents
	// (turn: false in the file).
	NoTURN bool
	// Signaling is SignalingSIP ("" too), SignalingDirect or
	// SignalingRooms.
	Signaling string
	// Network impairs the agents' media, nil for none.
	Network *Network
	// Transport is how sip populations speak SIP: "udp" (default), "tcp"
	// or "tls", to the target's sip.udp, sip.tcp or sip.tls.
	Transport string
}

// Direct reports whether the population's calls skip SIP.
func (p Population) Direct() bool { return p.Signaling == SignalingDirect }

// Rooms reports whether the population's agents are room participants
// (signaling: rooms) rather than SIP endpoints.
func (p Population) Rooms() bool { return p.Signaling == SignalingRooms }

// NewPopulation returns a population of count users of kind k with that
// kind's defaults (codecs, SRTP profiles, DTLS setup).
func NewPopulation(name string, k Kind, count int) Population {
	p := Population{Name: name, Kind: k, Count: count, Codecs: DefaultCodecs(k)}
	if k == KindWebRTC {
		p.SRTPProfiles = DefaultSRTPProfiles()
		p.DTLSSetup = DTLSSetupActpass
	}
	return p
}

// Hangup says which side of a call ends it.
type Hangup string

// Who hangs up.
const (
	HangupCaller Hangup = "caller"
	HangupCallee Hangup = "callee"
)

// Flow is one kind of call: from a caller population to a callee
// population, with a share of the calls and a hold time. A flow with a
// RoomSize places rooms instead: each unit of the plan is a room of that
// many participants of one rooms population (From == To).
type Flow struct {
	Name   string
	From   string // caller population name; must be a webrtc population (for now)
	To     string // callee population name
	Weight int    // share of calls among flows, >= 1
	Hold   Hold
	// Hangup is who ends a call; in a room, caller: the creator leaves
	// first, then the others in the order they joined; callee: the others
	// leave first, in the order they joined, and the creator last.
	Hangup Hangup
	// Actions run during each call of the flow (hold, ICE restart, DTMF).
	Actions []FlowAction
	// RoomSize, when not 0, makes the flow's units rooms of that many
	// participants (MinRoomSize..MaxRoomSize).
	RoomSize int
	// JoinSpread (rooms only) spreads the joins of a room's participants
	// after the creator over this window, each at an offset drawn with the
	// seed, still in order; 0 joins them back to back. Each participant's
	// setup timeout counts from the time its join is due.
	JoinSpread time.Duration
}

// Hold is how long a call stays up once connected: uniform in [Min, Max]
// (drawn from the plan's seed), fixed when Min == Max.
type Hold struct {
	Min time.Duration
	Max time.Duration
}

// FixedHold is a hold of exactly d.
func FixedHold(d time.Duration) Hold { return Hold{Min: d, Max: d} }

// Fixed reports whether the hold has one value.
func (h Hold) Fixed() bool { return h.Min == h.Max }

func (h Hold) String() string {
	if h.Fixed() {
		return h.Min.String()
	}
	return h.Min.String() + ".." + h.Max.String()
}

// MaxCalls bounds Load.Calls: a plan holds every call in memory, and load
// runs are bounded by design.
const MaxCalls = 1_000_000

// LoadSpec is how many calls to place, and how fast (the file's load:).
type LoadSpec struct {
	// Stages ramp the number of calls up at once (k6's ramping VUs): each
	// stage moves linearly from the previous target (0 at the start) to its
	// Concurrency over its Duration. The run places calls while the stages
	// last. Stages and Concurrency exclude each other.
	Stages []Stage
	// Duration, with Rate, places calls at that rate for that long.
	Duration    time.Duration
	Calls       int // total calls, 1..MaxCalls
	Concurrency int // calls up at once, >= 1 (more than Calls is fine)
	// Rate is the arrival rate; the zero Rate means unpaced (as fast as
	// Concurrency allows).
	Rate Rate
	// MaxDuration stops the whole run; zero means the computed bound (see
	// Scenario.RunLimit).
	MaxDuration time.Duration
}

// Timeouts bound each phase of a virtual user's life.
type Timeouts struct {
	Setup    time.Duration // dial to first audio
	Register time.Duration // REGISTER to its final answer
	Teardown time.Duration // BYE to its answer
}

// Stage is one step of a concurrency ramp.
type Stage struct {
	Duration    time.Duration
	Concurrency int
}

// ConcurrencyAt is how many calls may be up at once at elapsed time t:
// Load.Concurrency, or the stages' linear ramp. ok is false once the
// stages are over (no new calls). Pure: table-tested without sleeping.
func (l LoadSpec) ConcurrencyAt(t time.Duration) (limit int, ok bool) {
	if len(l.Stages) == 0 {
		return l.Concurrency, true
	}
	from := 0
	for _, st := range l.Stages {
		if t < st.Duration {
			frac := float64(t) / float64(st.Duration)
			return from + int(math.Round(frac*float64(st.Concurrency-from))), true
		}
		t -= st.Duration
		from = st.Concurrency
	}
	return 0, false
}

// Window is how long the run places new calls, when time bounds it
// (stages or duration); 0 when only the call count does.
func (l LoadSpec) Window() time.Duration {
	if len(l.Stages) > 0 {
		var d time.Duration
		for _, st := range l.Stages {
			d = satAdd(d, st.Duration)
		}
		return d
	}
	return l.Duration
}

// PeakConcurrency is the most calls the load may hold up at once.
func (l LoadSpec) PeakConcurrency() int {
	peak := l.Concurrency
	for _, st := range l.Stages {
		peak = max(peak, st.Concurrency)
	}
	return peak
}

// DefaultTimeouts are the timeouts of a scenario that gives none.
func DefaultTimeouts() Timeouts {
	return Timeouts{Setup: 15 * time.Second, Register: 5 * time.Second, Teardown: 5 * time.Second}
}

// ParseThresholds returns the scenario's thresholds parsed, or
// reports.DefaultThresholds (marked Default) when the scenario gives none.
// Validate has already checked each expression, so an error here means the
// scenario was changed after validation.
func (s *Scenario) ParseThresholds() ([]reports.Threshold, error) {
	if s.Thresholds == nil {
		return reports.DefaultThresholds(), nil
	}
	ts := make([]reports.Threshold, 0, len(s.Thresholds))
	for i, expr := range s.Thresholds {
		t, err := reports.ParseThreshold(expr)
		if err != nil {
			return nil, fmt.Errorf("thresholds[%d]: %w", i, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// Population returns the population called name.
func (s *Scenario) Population(name string) (Population, bool) {
	for _, p := range s.Populations {
		if p.Name == name {
			return p, true
		}
	}
	return Population{}, false
}

// File is the file the scenario was loaded from ("" when built in code).
func (s *Scenario) File() string { return s.src.fileName() }

// RunLimit is how long the whole run may take: Load.MaxDuration when set,
// else a computed bound (computed true) that a run whose every call obeys
// its timeouts cannot exceed:
//
//	register + (calls-1)/rate + ceil(calls/concurrency) * (setup + max hold + teardown)
//
// where a room flow's hold counts its join_spread too (the last
// participant's setup starts that late).
// rounded up to the second. The runner should say which one it used.
func (s *Scenario) RunLimit() (limit time.Duration, computed bool) {
	if s.Load.MaxDuration > 0 {
		return s.Load.MaxDuration, false
	}
	maxHold := time.Duration(0)
	for _, f := range s.Flows {
		maxHold = max(maxHold, satAdd(f.Hold.Max, max(f.JoinSpread, 0)))
	}
	perCall := satAdd(satAdd(s.Timeouts.Setup, maxHold), s.Timeouts.Teardown)
	if w := s.Load.Window(); w > 0 && s.Load.Calls == 0 {
		d := satAdd(satAdd(s.Timeouts.Register, w), perCall)
		return (d + time.Second - 1).Truncate(time.Second), true
	}
	calls, conc := int64(max(s.Load.Calls, 1)), int64(max(s.Load.PeakConcurrency(), 1))
	waves := (calls + conc - 1) / conc
	if perCall > 0 && waves > math.MaxInt64/int64(perCall) {
		return math.MaxInt64, true
	}
	d := satAdd(satAdd(s.Timeouts.Register, time.Duration(waves)*perCall), s.Load.Rate.Span(uint64(calls)))
	if d > math.MaxInt64-time.Second {
		return d, true
	}
	return (d + time.Second - 1).Truncate(time.Second), true
}

// satAdd adds durations that are >= 0, saturating instead of overflowing.
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// String is the scenario in one line, for logs.
func (s *Scenario) String() string {
	limit, computed := s.RunLimit()
	how := ""
	if computed {
		how = " (computed)"
	}
	return fmt.Sprintf("%s: %d calls, concurrency %d, rate %s, %d flows, %d populations, limit %s%s",
		s.Name, s.Load.Calls, s.Load.Concurrency, s.Load.Rate, len(s.Flows), len(s.Populations), limit, how)
}
