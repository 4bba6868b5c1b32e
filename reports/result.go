// Package reports defines the result record every Gauntlet attempt produces,
// and turns a stream of those records into summaries, thresholds and report
// files. It is a leaf: it imports none of Gauntlet's other packages.
package reports

import "time"

// Kinds of attempt a Result can describe.
const (
	KindCall     = "call"
	KindRegister = "register"
	KindAttack   = "attack"
	KindSpec     = "spec"
	KindRoom     = "room" // one participant of a browser-to-browser room
	// KindInterval is a reading of the calls in progress over one interval
	// (a second): the run's quality time series (see Interval).
	KindInterval = "interval"
)

// Outcomes of an attempt.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// Failure causes: short, stable, machine-matchable. A cause says in which
// phase an attempt failed; Error carries the human detail.
const (
	CauseUnreachable = "unreachable" // the target did not answer at all (connect refused, no response)
	CauseRegister    = "register"    // REGISTER failed
	CauseSignaling   = "signaling"   // INVITE got a final non-2xx or bad SDP
	CauseTimeout     = "timeout"     // a phase ran past its deadline
	CauseICE         = "ice"         // ICE did not reach connected
	CauseDTLS        = "dtls"        // the DTLS handshake failed or the fingerprint did not match
	CauseMedia       = "media"       // connected, but no audio in one or both directions
	CauseDropped     = "dropped"     // the call was torn down early by the far side or the target
	CauseAction      = "action"      // a mid-call action (hold, ICE restart, DTMF) failed
	CauseCanceled    = "canceled"    // the run was stopped (SIGINT, deadline) before the attempt ended
)

// Result is one attempt: a call, a registration, an attack probe or a
// conformance spec. Every reporter consumes the same stream of these.
// Durations are in milliseconds as float64 so that JSON lines stay readable.
type Result struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	Population string    `json:"population,omitempty"`
	From       string    `json:"from,omitempty"` // caller identity (user part or AOR), never a secret
	To         string    `json:"to,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Outcome    string    `json:"outcome"`
	Cause      string    `json:"cause,omitempty"`
	Error      string    `json:"error,omitempty"`
	SIPStatus  int       `json:"sip_status,omitempty"` // final status of the INVITE (or REGISTER)

	Phases   Phases      `json:"phases"`
	ICE      ICE         `json:"ice"`
	Security Security    `json:"security"`
	Codec    string      `json:"codec,omitempty"` // negotiated, as in the answer, e.g. "opus/48000/2", "PCMU/8000"
	Media    []Direction `json:"media,omitempty"`

	// OneWayAudio is set when exactly one direction received audio.
	OneWayAudio bool `json:"one_way_audio"`
	// NoAudio is set when the call connected and neither direction received audio.
	NoAudio bool `json:"no_audio,omitempty"`

	Attack *Finding `json:"attack,omitempty"`
	Room   *Room    `json:"room,omitempty"`
	// Actions are the call's mid-call actions, in the order they ran.
	Actions []Action `json:"actions,omitempty"`
	// Reoffers are the re-offers either leg received mid-call and
	// answered, in time order: holds and unholds from the far end (or the
	// target passing the other party's on), ICE restarts.
	Reoffers []Reoffer `json:"reoffers,omitempty"`
	// Interval is set on KindInterval records.
	Interval *Interval `json:"interval,omitempty"`
}

// Phases are the setup phases of a call, each in ms from the moment the
// phase began; zero means the phase was not reached.
type Phases struct {
	SignalingMS  float64 `json:"signaling_ms,omitempty"`   // INVITE sent to 200 OK received
	ICEMS        float64 `json:"ice_ms,omitempty"`         // answer applied to ICE connected
	DTLSMS       float64 `json:"dtls_ms,omitempty"`        // ICE connected to DTLS handshake done
	FirstMediaMS float64 `json:"first_media_ms,omitempty"` // DTLS done (or 200 OK for plain RTP) to first audio packet received
	TotalMS      float64 `json:"total_ms,omitempty"`       // dial to first audio received
}

// ICE describes what ICE did on the agent's side of the call.
type ICE struct {
	SDPExchanged    bool   `json:"sdp_exchanged"` // offer and answer both arrived
	Connected       bool   `json:"connected"`
	Policy          string `json:"policy,omitempty"`           // "all" or "relay"
	LocalCandidate  string `json:"local_candidate,omitempty"`  // type of the selected pair's local candidate: host, srflx, prflx, relay
	RemoteCandidate string `json:"remote_candidate,omitempty"` // type of the selected pair's remote candidate
	Relay           bool   `json:"relay"`                      // the selected pair has a relay candidate on the agent's side
	RelayProtocol   string `json:"relay_protocol,omitempty"`   // how the agent reaches its relay on the selected pair: udp, tcp, tls
	// NAT and PeerNAT are the NAT or firewall types the caller and the
	// callee sat behind, when the run emulated them; Expected is what an
	// independent table of NAT pairings says the call must end in:
	// "direct", "relay" or "fail" (see agents/nat.Expected).
	NAT      string `json:"nat,omitempty"`
	PeerNAT  string `json:"peer_nat,omitempty"`
	Expected string `json:"expected,omitempty"`
}

// ICE outcomes, as Expected names them and Outcome returns them.
const (
	ICEDirect = "direct"
	ICERelay  = "relay"
	ICEFail   = "fail"
)

// Outcome is what ICE ended in: "direct", "relay" or "fail".
func (i ICE) Outcome() string {
	switch {
	case !i.Connected:
		return ICEFail
	case i.Relay:
		return ICERelay
	}
	return ICEDirect
}

// AsExpected reports whether the call ended as its Expected outcome says
// (true when there is no expectation).
func (i ICE) AsExpected() bool { return i.Expected == "" || i.Expected == i.Outcome() }

// Security is what the DTLS-SRTP handshake negotiated, as observed on the
// wire (the ServerHello travels in the clear), never as configured; and
// what the phone-side leg's SDP exchange negotiated (TrunkSRTP).
type Security struct {
	DTLSVersion          string `json:"dtls_version,omitempty"`     // e.g. "DTLS 1.2"
	CipherSuite          string `json:"cipher_suite,omitempty"`     // IANA name, e.g. "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	SRTPProfile          string `json:"srtp_profile,omitempty"`     // IANA name, e.g. "SRTP_AES128_CM_HMAC_SHA1_80"
	FingerprintHash      string `json:"fingerprint_hash,omitempty"` // hash of the far end's SDP fingerprint, e.g. "sha-256"
	ExtendedMasterSecret bool   `json:"extended_master_secret"`
	DTLSRole             string `json:"dtls_role,omitempty"`   // the agent's role: "client" or "server"
	ObservedBy           string `json:"observed_by,omitempty"` // where the figures came from, e.g. "wire"
	// TrunkSRTP is what the call's phone-side (plain SIP) leg negotiated,
	// as read from the SDP it received: "SDES <crypto-suite>" (RFC 4568),
	// e.g. "SDES AES_CM_128_HMAC_SHA1_80", or "none" for plain RTP/AVP;
	// empty when the record has no phone leg or it got no SDP.
	TrunkSRTP string `json:"trunk_srtp,omitempty"`
}

// Direction is the media measured in one direction of a call.
type Direction struct {
	Name         string  `json:"name"` // "caller->callee" or "callee->caller"
	Sent         int     `json:"sent"`
	Received     int     `json:"received"`
	Lost         int     `json:"lost"`
	LossPct      float64 `json:"loss_pct"`
	JitterMS     float64 `json:"jitter_ms"`
	DelayMS      float64 `json:"delay_ms"`
	MOS          float64 `json:"mos,omitempty"`
	LongestGapMS float64 `json:"longest_gap_ms"`
	Audio        bool    `json:"audio"`            // audio that matches what the far end sent arrived
	Method       string  `json:"method,omitempty"` // how the figures were taken, e.g. "rtp-marks" or "rtcp"

	// EffectiveLossPct is the loss a listener hears: packets lost on the
	// network plus those that arrived too late for the jitter-buffer model
	// (Late), in percent of Expected. MOS is computed from it.
	EffectiveLossPct float64 `json:"effective_loss_pct,omitempty"`
	Late             int     `json:"late,omitempty"`             // received after their playout time
	PlayoutDelayMS   float64 `json:"playout_delay_ms,omitempty"` // the jitter-buffer model's fixed delay
	DelayP50MS       float64 `json:"delay_p50_ms,omitempty"`
	DelayP95MS       float64 `json:"delay_p95_ms,omitempty"`
	DelayMaxMS       float64 `json:"delay_max_ms,omitempty"`
	RTTMS            float64 `json:"rtt_ms,omitempty"` // RTCP round trip (A - LSR - DLSR), mean, of the sending side
	// How each figure was taken: LossMethod and JitterMethod are
	// MethodRTP (from the RTP that arrived) or MethodRTCP (from the far
	// end's receiver reports); DelayMethod is MethodMarks (send times
	// carried in the payload) or MethodRTT (RTCP round trip / 2).
	LossMethod   string `json:"loss_method,omitempty"`
	JitterMethod string `json:"jitter_method,omitempty"`
	DelayMethod  string `json:"delay_method,omitempty"`
}

// Methods a Direction's figures were taken by.
const (
	MethodRTP   = "rtp"        // RFC 3550 A.1/A.8 over the RTP that arrived
	MethodMarks = "rtp-marks"  // one-way delay from send times in the payload marks
	MethodRTCP  = "rtcp-rr"    // the far end's RTCP receiver reports
	MethodRTT   = "rtcp-rtt/2" // half the RTCP round-trip time
)

// Verdicts an attack can reach.
const (
	VerdictResisted     = "resisted"
	VerdictVulnerable   = "VULNERABLE"
	VerdictInconclusive = "inconclusive"
)

// Finding is an attack's verdict with its evidence.
type Finding struct {
	Name        string   `json:"name"`
	Verdict     string   `json:"verdict"`
	Severity    string   `json:"severity,omitempty"`
	Evidence    []string `json:"evidence,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
}

// Duration returns how long the attempt took.
func (r Result) Duration() time.Duration { return r.End.Sub(r.Start) }
