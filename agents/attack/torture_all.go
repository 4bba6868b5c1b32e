package attack

import (
	"context"
	"slices"
	"strings"
)

// tortureAttacks are the torture attack and its two halves, which can be
// run alone: the RFC 4475 SIP messages and the malformed STUN/TURN ones.
func tortureAttacks() []Attack {
	return []Attack{
		{
			Name:    "torture",
			Summary: "malformed messages on every protocol the target file names: RFC 4475 SIP torture messages over UDP, TCP, TLS and WebSocket with stream framing cases, and malformed STUN/TURN (RFC 8489 6.3); answered as the RFCs ask, and the target keeps answering",
			Run:     TortureAll,
		},
		{
			Name:    "sip-torture",
			Summary: "the torture attack's SIP half: the RFC 4475 messages over every SIP transport the target names (UDP, TCP, TLS, ws/wss), and over TCP and TLS stream framing cases (Content-Length lying or missing, pipelining, dribbling, oversize)",
			Needs:   []string{"sip"},
			Run:     Torture,
			PartOf:  "torture",
		},
		{
			Name:    "turn-torture",
			Summary: "the torture attack's STUN/TURN half: malformed messages, bad integrity and fingerprint, unknown attributes",
			Needs:   []string{"turn"},
			Run:     TURNTorture,
			PartOf:  "torture",
		},
	}
}

// TortureAll runs the SIP half against the target's SIP side and the
// STUN/TURN half against its relays, as far as the target file names
// them, and merges the outcomes.
func TortureAll(ctx context.Context, env *Env) Outcome {
	var parts []part
	if env.Has("sip") {
		parts = append(parts, part{"sip", Torture(ctx, env)})
	}
	if env.Has("turn") {
		parts = append(parts, part{"turn", TURNTorture(ctx, env)})
	}
	if len(parts) == 0 {
		return Inconclusivef("the target file has neither a sip nor a turn section")
	}
	return mergeParts(parts)
}

// part is one named sub-outcome of an attack.
type part struct {
	name string
	out  Outcome
}

// mergeParts combines sub-outcomes: VULNERABLE when any part is (at the worst
// severity found), resisted when some part resisted and none is
// vulnerable (an inconclusive part becomes a warning), else inconclusive.
// Every line is prefixed with its part's name.
func mergeParts(parts []part) Outcome {
	var o Outcome
	var vulnerable, resisted bool
	var reasons, remediations []string
	for _, p := range parts {
		tag := "[" + p.name + "] "
		switch p.out.Verdict {
		case Vulnerable:
			vulnerable = true
			o.Severity = worseSeverity(o.Severity, p.out.Severity)
			if p.out.Remediation != "" && !slices.Contains(remediations, p.out.Remediation) {
				remediations = append(remediations, p.out.Remediation)
			}
		case Resisted:
			resisted = true
		default:
			o.Warnings = append(o.Warnings, tag+"inconclusive: "+p.out.Reason)
		}
		reasons = append(reasons, tag+p.out.Verdict+": "+p.out.Reason)
		for _, e := range p.out.Evidence {
			o.Evidence = append(o.Evidence, tag+e)
		}
		for _, w := range p.out.Warnings {
			o.Warnings = append(o.Warnings, tag+w)
		}
		switch {
		case p.out.Capture == "":
		case o.Capture == "":
			o.Capture = p.out.Capture
		default:
			o.Evidence = append(o.Evidence, tag+"capture: "+p.out.Capture)
		}
	}
	switch {
	case vulnerable:
		o.Verdict = Vulnerable
	case resisted:
		o.Verdict = Resisted
	default:
		o.Verdict = Inconclusive
	}
	o.Reason = strings.Join(reasons, "; ")
	o.Remediation = strings.Join(remediations, " ")
	return o
}
