package reports

import "time"

// Summary is what summary.json holds: the aggregate of one run's records,
// the thresholds evaluated against it and the run's metadata. Its JSON shape
// is a contract (DESIGN.md): field names change only on purpose.
//
// Every figure that has no samples (no call connected, no SDP exchanged) is
// a nil pointer, encoded as JSON null, never as 0.
type Summary struct {
	Run           RunMeta         `json:"run"`
	Status        Status          `json:"status"`
	Calls         Calls           `json:"calls"`
	Registrations Registrations   `json:"registrations"`
	ICE           ICESummary      `json:"ice"`
	MOS           MOSSummary      `json:"mos"`
	SetupMS       Dist            `json:"setup_ms"`
	SetupPhases   SetupPhases     `json:"setup_phases"`
	Media         MediaSummary    `json:"media"`
	Negotiated    Negotiated      `json:"negotiated"`
	Failures      []FailureGroup  `json:"failures"`
	Attacks       []AttackSummary `json:"attacks"`
	// Rooms holds the room records' figures; absent when there were none.
	// Room participants count there, not in calls, ice, mos, setup_ms,
	// media or failures (see RoomsSummary).
	Rooms      *RoomsSummary     `json:"rooms,omitempty"`
	Thresholds []ThresholdResult `json:"thresholds"`
	// Histograms and Timeline feed report.html's charts.
	Histograms Histograms `json:"histograms"`
	Timeline   Timeline   `json:"timeline"`
}

// Status is a run's overall verdict.
type Status string

// Run verdicts. DESIGN.md maps them to exit codes: PASS 0, FAIL 1,
// INCONCLUSIVE 4 (no weakness found, but some attack could not decide).
const (
	StatusPass         Status = "PASS"
	StatusFail         Status = "FAIL"
	StatusInconclusive Status = "INCONCLUSIVE"
)

// RunMeta describes the run. Machine-dependent fields (Hostname, GoVersion,
// OS, Arch, CPUs) are injected by the caller (see HostMeta) so that tests and
// golden files stay reproducible.
type RunMeta struct {
	Scenario    string    `json:"scenario"`
	Seed        int64     `json:"seed"`
	Target      string    `json:"target"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	DurationMS  float64   `json:"duration_ms"`
	Interrupted bool      `json:"interrupted"`
	Version     string    `json:"gauntlet_version"`
	GoVersion   string    `json:"go_version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	Hostname    string    `json:"hostname"`
	CPUs        int       `json:"cpus,omitempty"` // logical CPUs of the machine that ran the load
	// MOSModel names the E-model variant and constants used for MOS, as
	// DESIGN.md requires the report to state them.
	MOSModel string   `json:"mos_model,omitempty"`
	Warnings []string `json:"warnings"`
}

// Calls counts call records. Attempted = Connected + Failed + Canceled.
type Calls struct {
	Attempted int `json:"attempted"`
	Connected int `json:"connected"` // outcome ok
	Failed    int `json:"failed"`    // outcome failed, cause other than canceled
	Canceled  int `json:"canceled"`  // stopped by the run (SIGINT, deadline) before the call ended
}

// Registrations counts REGISTER records.
type Registrations struct {
	Attempted int `json:"attempted"`
	OK        int `json:"ok"`
	Failed    int `json:"failed"`
}

// ICESummary holds the ICE figures of call records (room participants
// have theirs in RoomsSummary.ICE).
type ICESummary struct {
	// SuccessRate is Connected / SDPExchanged.
	SuccessRate *float64 `json:"success_rate"`
	// RelayRatio is Relay / Connected.
	RelayRatio   *float64 `json:"relay_ratio"`
	SDPExchanged int      `json:"sdp_exchanged"`
	Connected    int      `json:"connected"` // of the calls that exchanged SDP
	Relay        int      `json:"relay"`     // of the connected calls
	// Expected counts the calls that carried an expected ICE outcome (from
	// the NAT pairing table), Unexpected those that did not end that way;
	// ByPairing breaks both down by "NAT/peer NAT", with the outcome seen.
	Expected   int                     `json:"expected,omitempty"`
	Unexpected int                     `json:"unexpected"`
	ByPairing  map[string]*PairingStat `json:"by_pairing,omitempty"`
}

// PairingStat is what the calls of one NAT pairing ended in.
type PairingStat struct {
	Expected string         `json:"expected"`
	Outcomes map[string]int `json:"outcomes"` // direct, relay, fail
}

// MOSSummary is the distribution of per-call MOS (the lowest MOS of a
// call's directions) over connected calls. P5 is the low tail.
type MOSSummary struct {
	N   int      `json:"n"`
	P50 *float64 `json:"p50"`
	P5  *float64 `json:"p5"`
}

// Dist is a distribution summarised by its median and 95th percentile.
type Dist struct {
	N   int      `json:"n"`
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
}

// SetupPhases are the per-phase setup times of connected calls, in ms.
// A call contributes to a phase only if it reached it (plain RTP calls have
// no ICE or DTLS phase).
type SetupPhases struct {
	SignalingMS  Dist `json:"signaling_ms"`
	ICEMS        Dist `json:"ice_ms"`
	DTLSMS       Dist `json:"dtls_ms"`
	FirstMediaMS Dist `json:"first_media_ms"`
}

// MediaSummary holds distributions over media directions of call records,
// and counts of calls with missing audio.
type MediaSummary struct {
	LossPct     Dist `json:"loss_pct"`
	JitterMS    Dist `json:"jitter_ms"`
	DelayMS     Dist `json:"delay_ms"`
	OneWayAudio int  `json:"one_way_audio"`
	NoAudio     int  `json:"no_audio"`
}

// Negotiated counts what records observed being negotiated, keyed by
// value: a census of what was seen, not a metric. Codec and the DTLS-SRTP
// figures count call and room records. CandidatePair ("local/remote"
// candidate types) and RelayProtocol (how the relayed calls reached their
// relay: udp, tcp, tls, where the record says) count ICE-connected call
// records only, as the ICE section does (rooms have theirs in
// RoomsSummary.ICE).
type Negotiated struct {
	Codec           map[string]int `json:"codec"`
	DTLSVersion     map[string]int `json:"dtls_version"`
	CipherSuite     map[string]int `json:"cipher_suite"`
	SRTPProfile     map[string]int `json:"srtp_profile"`
	FingerprintHash map[string]int `json:"fingerprint_hash"`
	CandidatePair   map[string]int `json:"candidate_pair"`
	RelayProtocol   map[string]int `json:"relay_protocol"`
	// TrunkSRTP is what the phone-side legs negotiated (Security.TrunkSRTP:
	// "SDES <suite>" or "none"); absent when no record has a phone leg.
	TrunkSRTP map[string]int `json:"trunk_srtp,omitempty"`
}

// FailureGroup is the failed call and REGISTER records sharing one cause.
type FailureGroup struct {
	Cause    string   `json:"cause"`
	Count    int      `json:"count"`
	Examples []string `json:"examples"`        // up to MaxFailureExamples record IDs, in arrival order
	Error    string   `json:"error,omitempty"` // the first example's error, redacted
}

// AttackSummary is one attack's verdict, merged over its probe records: the
// worst verdict wins (VULNERABLE over inconclusive over resisted).
type AttackSummary struct {
	Name        string   `json:"name"`
	Verdict     string   `json:"verdict"`
	Severity    string   `json:"severity,omitempty"`
	Evidence    []string `json:"evidence"`
	Remediation string   `json:"remediation,omitempty"`
	Probes      int      `json:"probes"`
}
