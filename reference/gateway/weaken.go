package gateway

import (
	"fmt"
	"slices"
	"strings"
)

// Weaken switches: each turns one defence off, so that an attack can show
// it detects the weakness (and passes where the defence is on).
const (
	// WeakenStrongDTLS accepts CBC cipher suites and DTLS without the
	// extended master secret.
	WeakenStrongDTLS = "strong-dtls"
	// WeakenReplayProtection switches SRTP (and SRTCP) replay protection
	// off on the browser legs and on SDES phone legs (trunk_srtp: sdes):
	// a replayed packet is relayed again.
	WeakenReplayProtection = "replay-protection"
	// WeakenFingerprintCheck stops checking the browser's DTLS certificate
	// against the fingerprint in its SDP.
	WeakenFingerprintCheck = "fingerprint-check"
	// WeakenRateLimit switches every rate limit and call cap off.
	WeakenRateLimit = "rate-limit"
	// WeakenDigest makes the registrar and B2BUA open: no digest challenge.
	WeakenDigest = "digest"
	// WeakenSDPChecks accepts MD5 fingerprints and SDES a=crypto in
	// WebRTC offers.
	WeakenSDPChecks = "sdp-checks"
	// WeakenAuthLockout switches the digest guessing lockout off (see
	// LockoutConfig): wrong passwords can be tried without end.
	WeakenAuthLockout = "auth-lockout"
	// WeakenUniformAnswers answers requests for users outside the
	// directory at once, as naive registrars do (REGISTER 404, INVITE
	// from an unknown caller 403), instead of challenging them as if
	// they existed: users can be enumerated.
	WeakenUniformAnswers = "uniform-answers"
	// WeakenMalformedInput makes the SIP UDP listener give up at the
	// first datagram that does not parse, as a read loop that returns on
	// a parse error would: SIP over UDP goes silent. Hardened, such a
	// datagram is answered (see malformedConn) and the listener reads on.
	// It also makes the TCP and TLS listeners serve one message at a
	// time: while a connection holds an incomplete message no other
	// connection is accepted (see malformed_stream.go). And the first
	// WebSocket message that does not parse closes the ws (and wss)
	// listener: no new WebSocket connection is taken (see wsFront).
	WeakenMalformedInput = "malformed-input"
)

// WeakenNames lists every weaken switch.
func WeakenNames() []string {
	return []string{WeakenStrongDTLS, WeakenReplayProtection, WeakenFingerprintCheck, WeakenRateLimit, WeakenDigest, WeakenSDPChecks,
		WeakenAuthLockout, WeakenUniformAnswers, WeakenMalformedInput}
}

func (c Config) validateWeaken() error {
	seen := map[string]bool{}
	for i, w := range c.Weaken {
		if !slices.Contains(WeakenNames(), w) {
			return invalid(fmt.Sprintf("weaken[%d]", i), "%q is not one of %s", w, strings.Join(WeakenNames(), ", "))
		}
		if seen[w] {
			return invalid(fmt.Sprintf("weaken[%d]", i), "%q listed twice", w)
		}
		seen[w] = true
	}
	return nil
}

// weakened reports whether the named defence is switched off.
func (c Config) weakened(name string) bool { return slices.Contains(c.Weaken, name) }

// Faults the gateway can inject.
const (
	// FaultDropMedia drops the RTP of one direction on a share of calls.
	FaultDropMedia = "drop-media"
)

// Directions of a call's media, for faults.
const (
	DirCallerToCallee = "caller-to-callee"
	DirCalleeToCaller = "callee-to-caller"
)

// Fault is one injected breakage. The calls it hits are chosen from Seed
// and the order in which calls arrive: the n-th call is hit when a hash of
// (Seed, n) falls below Share, so a run with the same seed and order hits
// the same calls. Each hit is logged with the fault's name.
type Fault struct {
	Name      string  `yaml:"name"`      // drop-media
	Direction string  `yaml:"direction"` // caller-to-callee or callee-to-caller
	Share     float64 `yaml:"share"`     // 0 to 1: the share of calls hit
	Seed      uint64  `yaml:"seed"`
}

func (c Config) validateFaults() error {
	for i, f := range c.Faults {
		field := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.Name != FaultDropMedia:
			return invalid(field+".name", "%q is not %s", f.Name, FaultDropMedia)
		case f.Direction != DirCallerToCallee && f.Direction != DirCalleeToCaller:
			return invalid(field+".direction", "%q is neither %s nor %s", f.Direction, DirCallerToCallee, DirCalleeToCaller)
		case !(f.Share >= 0 && f.Share <= 1):
			return invalid(field+".share", "%v is outside [0, 1]", f.Share)
		}
	}
	return nil
}

// hits reports whether the fault hits call number n (from 0).
func (f Fault) hits(n uint64) bool {
	if f.Share <= 0 {
		return false
	}
	return float64(mix(f.Seed^mix(n))>>11)/(1<<53) < f.Share
}

// mix is SplitMix64's finalizer: every input bit reaches every output bit.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
