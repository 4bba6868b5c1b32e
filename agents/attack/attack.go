// Package attack holds the attack agents security reviewers run against a
// deployment: each attack probes one defence on the wire and returns a
// verdict with its evidence. Verdicts come only from what the target did
// (answers, packets, timings), never from its configuration, and each
// attack is proven both ways against the reference: VULNERABLE with the
// matching defence weakened, resisted with it on.
package attack

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Verdicts.
const (
	Resisted     = "resisted"
	Vulnerable   = "VULNERABLE"
	Inconclusive = "inconclusive"
)

// Severities, as a reviewer ranks them.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
	Info   = "info"
)

// Attack is one named attack.
type Attack struct {
	Name    string // as --only and scenarios name it, e.g. "dtls-downgrade"
	Summary string // one line: what it probes
	// Needs names the target file sections it cannot run without ("sip",
	// "turn", "rooms"); a target lacking one gets an inconclusive verdict
	// saying so, without running.
	Needs []string
	Run   func(ctx context.Context, env *Env) Outcome
	// PartOf names the attack this one is a part of: it runs only when
	// named, never in "all" (the whole runs it).
	PartOf string
}

// Outcome is what an attack found.
type Outcome struct {
	Verdict     string
	Severity    string   // of the weakness, when found (or of what a warning is about)
	Reason      string   // one line: why this verdict (for inconclusive, what stopped it)
	Evidence    []string // what the target did, one fact per line
	Remediation string
	Warnings    []string // weaker-than-best findings that are not a vulnerability (e.g. a SHA-1-only fingerprint)
	Capture     string   // path of the pcap of the attack's own traffic, if one was written
}

// Finding returns the outcome as the result record's finding.
func (o Outcome) Finding(name string) reports.Finding {
	ev := make([]string, 0, len(o.Evidence)+len(o.Warnings)+2)
	if o.Reason != "" {
		ev = append(ev, o.Reason)
	}
	ev = append(ev, o.Evidence...)
	for _, w := range o.Warnings {
		ev = append(ev, "warning: "+w)
	}
	if o.Capture != "" {
		ev = append(ev, "capture: "+o.Capture)
	}
	return reports.Finding{Name: name, Verdict: o.Verdict, Severity: o.Severity, Evidence: ev, Remediation: o.Remediation}
}

// Inconclusivef returns an inconclusive outcome with the reason.
func Inconclusivef(format string, args ...any) Outcome {
	return Outcome{Verdict: Inconclusive, Reason: fmt.Sprintf(format, args...)}
}

// Env is everything an attack may use: the target's sections, as the
// target file gives them, and factories for agents on the guarded socket
// layer. The harness (package scenarios) fills it in.
type Env struct {
	SIP   SIPEnv
	TURN  TURNEnv
	Rooms RoomsEnv

	// Endpoint brings up a new virtual user of kind "webrtc" or "sip" on
	// its own source address (not yet registered), with tweak applied to
	// its config. Attacks close what they open.
	Endpoint func(ctx context.Context, kind string, tweak ...func(*endpoint.Config)) (*endpoint.Endpoint, error)
	// Net returns a fresh socket layer on its own source address, behind
	// the target's guard, for attacks that speak a protocol by hand. opts
	// come after the harness's own (a recorder's observer, a wrapper).
	Net func(opts ...socket.Option) (*socket.Net, error)
	// CaptureDir, when set, is where each attack writes a pcap of its own
	// traffic (see Capture).
	CaptureDir string
	Log        *slog.Logger
}

// Has reports whether the target file gave the named section.
func (e *Env) Has(section string) bool {
	switch section {
	case "sip":
		return e.SIP.configured()
	case "turn":
		return e.TURN.configured()
	case "rooms":
		return e.Rooms.configured()
	}
	return false
}

// Logger returns the env's logger, or one that discards.
func (e *Env) Logger() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// Run runs a, or returns an inconclusive outcome naming the sections the
// target lacks.
func Run(ctx context.Context, a Attack, env *Env) Outcome {
	var missing []string
	for _, s := range a.Needs {
		if !env.Has(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return Inconclusivef("the target file has no %s section", strings.Join(missing, ", "))
	}
	return a.Run(ctx, env)
}

// All returns every attack, by name.
func All() []Attack {
	all := slices.Concat(mediaAttacks(), sipAttacks(), turnAttacks(), roomAttacks(), tortureAttacks())
	slices.SortFunc(all, func(a, b Attack) int { return strings.Compare(a.Name, b.Name) })
	return all
}

// Select returns the attacks named (every whole attack when names is
// empty), or an error naming one that does not exist.
func Select(names []string) ([]Attack, error) {
	all := All()
	if len(names) == 0 {
		return slices.DeleteFunc(all, func(a Attack) bool { return a.PartOf != "" }), nil
	}
	var out []Attack
	for _, n := range names {
		i := slices.IndexFunc(all, func(a Attack) bool { return a.Name == n })
		if i < 0 {
			known := make([]string, len(all))
			for j, a := range all {
				known[j] = a.Name
			}
			return nil, fmt.Errorf("attack: no attack named %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
