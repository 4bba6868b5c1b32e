package nat

import "fmt"

// Path is the best path ICE can get between two agents.
type Path string

// Paths, from best to worst.
const (
	// PathDirect: a host, server-reflexive or peer-reflexive pair works,
	// so STUN is enough and a relay must not be used.
	PathDirect Path = "direct"
	// PathRelay: no direct pair works; a relay reached over UDP does.
	PathRelay Path = "relay"
	// PathRelayTCP: UDP is blocked on one side, which reaches the relay
	// over TCP or TLS only.
	PathRelayTCP Path = "relay-tcp"
)

// pairings is the expected path for each unordered pair of types. It is
// written from the behaviours' definitions (RFC 4787) and the hole-punching
// literature (RFC 5128 3.3; Ford, Srisuresh, Kegel, "Peer-to-Peer
// Communication Across NATs"), not from this package's code, so that the
// emulation is checked against it:
//
//   - an endpoint-independent filter (open, full cone) accepts the first
//     check from anyone, so it pairs directly with every NAT;
//   - a restricted cone accepts any port of an IP it has sent to: even a
//     symmetric NAT's fresh port for it gets in once it has sent to that
//     NAT's IP (its own mapping does not change), so it pairs directly
//     with everything;
//   - a port-restricted cone accepts only the exact endpoint it sent to;
//     a symmetric NAT uses a fresh port toward it, never the one learned
//     from STUN, so port-restricted with symmetric needs a relay;
//   - symmetric with symmetric needs a relay;
//   - a firewall that blocks UDP needs a relay reached over TCP or TLS
//     whatever is on the other side.
var pairings = []struct {
	a, b Type
	path Path
}{
	{Open, Open, PathDirect},
	{Open, FullCone, PathDirect},
	{Open, RestrictedCone, PathDirect},
	{Open, PortRestricted, PathDirect},
	{Open, Symmetric, PathDirect},
	{FullCone, FullCone, PathDirect},
	{FullCone, RestrictedCone, PathDirect},
	{FullCone, PortRestricted, PathDirect},
	{FullCone, Symmetric, PathDirect},
	{RestrictedCone, RestrictedCone, PathDirect},
	{RestrictedCone, PortRestricted, PathDirect},
	{RestrictedCone, Symmetric, PathDirect},
	{PortRestricted, PortRestricted, PathDirect},
	{PortRestricted, Symmetric, PathRelay},
	{Symmetric, Symmetric, PathRelay},
}

// ExpectedPath returns the best path ICE can get between agents behind a
// and b.
func ExpectedPath(a, b Type) (Path, error) {
	for _, t := range []Type{a, b} {
		if _, err := ParseType(string(t)); err != nil {
			return "", err
		}
		if t == UDPBlocked || t == TCPOnePort {
			return PathRelayTCP, nil
		}
	}
	for _, p := range pairings {
		if (p.a == a && p.b == b) || (p.a == b && p.b == a) {
			return p.path, nil
		}
	}
	return "", fmt.Errorf("%w: no pairing for %s and %s", ErrConfig, a, b)
}

// Outcome is what a call between two agents should end in.
type Outcome string

// Outcomes of a call.
const (
	OutcomeDirect Outcome = "direct" // connected on a pair without a relay
	OutcomeRelay  Outcome = "relay"  // connected, with a relay on at least one side
	OutcomeFail   Outcome = "fail"   // ICE fails
)

// TURN says which relays the agents have.
type TURN int

// What the agents may use besides STUN.
const (
	NoTURN  TURN = iota // STUN only
	TURNUDP             // TURN over UDP
	TURNAll             // TURN over UDP, TCP and TLS
)

// Expected is the outcome a call between agents behind a and b must have
// when both use policy "all" with the given relays: the direct path where
// there is one (a relay must not be chosen then), else a relay if one they
// can reach is there, else failure.
func Expected(a, b Type, turn TURN) (Outcome, error) {
	p, err := ExpectedPath(a, b)
	if err != nil {
		return "", err
	}
	switch {
	case p == PathDirect:
		return OutcomeDirect, nil
	case p == PathRelay && turn >= TURNUDP, p == PathRelayTCP && turn == TURNAll:
		return OutcomeRelay, nil
	}
	return OutcomeFail, nil
}
