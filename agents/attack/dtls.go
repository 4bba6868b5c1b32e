package attack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
)

// dtlsDowngradeTime bounds the whole matrix.
const dtlsDowngradeTime = 2 * time.Minute

// DTLSDowngrade runs the downgrade matrix of CONFORMANCE.md past ICE, on
// calls between a browser and a phone through the target: first with the
// target as DTLS server (the browser calls, offers a=setup:active and sends
// a weakened ClientHello), then as DTLS client (the phone calls the
// browser, which answers the target's actpass offer with a=setup:passive
// and its ClientHello with a weakened or forged ServerHello), then offers
// whose only fingerprint is MD5, and SHA-1. Each row is one call; a row the
// target accepts makes it VULNERABLE. A SHA-1-only fingerprint, taken or in
// the target's own SDP, is a warning (RFC 8122 allows it).
func DTLSDowngrade(ctx context.Context, env *Env) Outcome {
	ctx, cancel := context.WithTimeout(ctx, dtlsDowngradeTime)
	defer cancel()
	rig, err := newMediaRig(ctx, env, "dtls-downgrade")
	if err != nil {
		return Inconclusivef("%v", err)
	}
	var m dtlsMatrix
	for _, role := range []dtlsRole{targetServer, targetClient} {
		m.runRole(ctx, rig, role)
	}
	for _, row := range []dtlsRow{rowMD5, rowSHA1} {
		m.add(row.name, "", row.judge(rig.probe(ctx, anyRole, row.tweak)), row.remedy)
	}
	out := m.outcome()
	if err := rig.Close(); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	out.Capture = rig.capture.Path()
	return out
}

// dtlsRole is how a call gives the target a DTLS role.
type dtlsRole struct {
	name    string // the target's role: "server" or "client"
	setup   string // the browser's a=setup, in its offer or (inbound) its answer
	inbound bool   // the phone calls the browser: the target offers actpass
	how     string // the above in words
}

// The target is DTLS server when the browser offers a=setup:active, and
// client when it answers the target's actpass offer with a=setup:passive.
var (
	targetServer = dtlsRole{"server", peer.SetupActive, false, "the browser calls and offers a=setup:active"}
	targetClient = dtlsRole{"client", peer.SetupPassive, true, "the phone calls the browser, which answers a=setup:passive"}
	anyRole      = dtlsRole{"", peer.SetupActpass, false, "the browser calls and offers a=setup:actpass"}
)

// rowState is what a row found.
type rowState int

const (
	rowUnknown  rowState = iota // the probe never reached the point it tests
	rowRefused                  // the target refused the weak option
	rowAccepted                 // the target accepted it: a weakness
	rowWarning                  // the target accepted something weaker than best, but allowed
)

// rowVerdict is a row's finding.
type rowVerdict struct {
	state    rowState
	severity string // of an accepted row
	detail   string // what the target did
}

func weakRefused(format string, args ...any) rowVerdict {
	return rowVerdict{state: rowRefused, detail: fmt.Sprintf(format, args...)}
}

func weakTaken(severity, format string, args ...any) rowVerdict {
	return rowVerdict{state: rowAccepted, severity: severity, detail: fmt.Sprintf(format, args...)}
}

func unanswered(format string, args ...any) rowVerdict {
	return rowVerdict{state: rowUnknown, detail: fmt.Sprintf(format, args...)}
}

// dtlsProbe is what one call of the matrix showed.
type dtlsProbe struct {
	obs       *wire.Observer // the browser's UDP datagrams, as seen on the wire
	status    int            // final status of the INVITE (0: none)
	err       error          // why the browser's leg failed, if it did
	ice       bool           // ICE reached connected
	connected bool           // DTLS done and SRTP keyed on the browser's side

	mu        sync.Mutex
	remoteSDP []byte
}

func (p *dtlsProbe) setRemoteSDP(b []byte) {
	p.mu.Lock()
	p.remoteSDP = append([]byte(nil), b...)
	p.mu.Unlock()
}

// fingerprintHashes lists the hash names of the target's a=fingerprint
// lines, lower case.
func (p *dtlsProbe) fingerprintHashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(string(p.remoteSDP), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:")
		if !ok {
			continue
		}
		hash, _, _ := strings.Cut(v, " ")
		out = append(out, strings.ToLower(hash))
	}
	return out
}

// reachedDTLS says why the probe never got to DTLS ("" when it did).
func (p *dtlsProbe) reachedDTLS() string {
	switch {
	case p.status == 0 && p.err != nil:
		return fmt.Sprintf("the call did not get through: %v", p.err)
	case p.status != 200:
		return fmt.Sprintf("the INVITE was answered %d", p.status)
	case !p.ice:
		return fmt.Sprintf("ICE did not connect: %v", p.err)
	}
	return ""
}

// serverHello is the target's ServerHello, if it sent one.
func (p *dtlsProbe) serverHello() (wire.ServerHello, bool) {
	sh, dir, ok := p.obs.ServerHello()
	return sh, ok && dir == wire.In
}

// clientHello is the target's ClientHello, if it sent one.
func (p *dtlsProbe) clientHello() (wire.ClientHello, bool) {
	ch, dir, _, ok := p.obs.ClientHello()
	return ch, ok && dir == wire.In
}

// alerts lists the target's alerts.
func (p *dtlsProbe) alerts() string { return alertsFrom(p.obs, wire.In) }

// continued reports whether the target, as DTLS client, went on past our
// ServerHello flight (its key exchange or ChangeCipherSpec) instead of
// aborting.
func (p *dtlsProbe) continued() bool {
	pr := p.obs.Progress(wire.In)
	return pr.Sent(wire.HandshakeClientKeyExchange) || pr.ChangeCipherSpec
}

// probe runs one call of the matrix between a fresh browser, its leg
// adjusted by tweak, and the phone, as role says; the call is ended at once.
func (r *mediaRig) probe(ctx context.Context, role dtlsRole, tweak func(*dtlsProbe, *peer.Config)) *dtlsProbe {
	p := &dtlsProbe{obs: wire.NewObserver()}
	call, release := r.startProbe(ctx, role, p, func(c *endpoint.Config) {
		c.PeerConfig = func(pc *peer.Config) {
			pc.RemoteSDP = p.setRemoteSDP
			if tweak != nil {
				tweak(p, pc)
			}
		}
	})
	defer release()
	if call != nil {
		call.end(ctx)
	}
	return p
}

// startProbe brings up a fresh browser (its config adjusted), registers
// it when the phone is to call it, and places the probe's call as role
// says, filling p's status, ICE and media-up figures. It returns the call,
// which the caller ends (nil, with p.err set, when it did not get that
// far), and what releases the browser.
func (r *mediaRig) startProbe(ctx context.Context, role dtlsRole, p *dtlsProbe, adjust func(*endpoint.Config)) (*mediaCall, func()) {
	ep, err := r.browser(ctx, p.obs, func(c *endpoint.Config) {
		c.DTLSSetup = role.setup
		adjust(c)
	})
	if err != nil {
		p.err = err
		return nil, func() {}
	}
	release := func() { r.release(ctx, ep, role.inbound) }
	if err := r.register(ctx, ep, role.inbound); err != nil {
		p.err = err
		return nil, release
	}
	call, err := r.call(ctx, ep, role.inbound)
	if err != nil {
		p.err = err
		return nil, release
	}
	rep := call.browser.Report()
	p.status, p.err = call.outcome()
	p.ice = rep.Media.ICE.Connected
	p.connected = !rep.Media.Connected.IsZero()
	return call, release
}

// dtlsRow is one row of the matrix.
type dtlsRow struct {
	name   string
	tweak  func(*dtlsProbe, *peer.Config)
	judge  func(*dtlsProbe) rowVerdict
	remedy string // what to change when the row is accepted
}

// matrixRow is a row's result.
type matrixRow struct {
	name   string
	role   string // the target's DTLS role, "" when it does not matter
	v      rowVerdict
	remedy string
}

// dtlsMatrix collects the rows.
type dtlsMatrix struct {
	rows     []matrixRow
	usable   int      // roles whose normal handshake worked
	warnings []string // roles that could not be probed, SHA-1-only fingerprints
}

func (m *dtlsMatrix) add(name, role string, v rowVerdict, remedy string) {
	m.rows = append(m.rows, matrixRow{name: name, role: role, v: v, remedy: remedy})
}

// runRole runs a normal call in role, then, if it worked, the role's rows.
func (m *dtlsMatrix) runRole(ctx context.Context, rig *mediaRig, role dtlsRole) {
	base := rig.probe(ctx, role, nil)
	if why := base.reachedDTLS(); why != "" || !base.connected {
		if why == "" {
			why = fmt.Sprintf("the handshake failed: %v (%s)", base.err, base.alerts())
		}
		m.warnings = append(m.warnings, fmt.Sprintf("target as DTLS %s (%s): a normal call did not complete, so this half of the matrix was not run: %s", role.name, role.how, why))
		return
	}
	m.usable++
	sec := base.obs.Security()
	m.add("normal handshake", role.name, weakRefused("%s, %s, %s, extended master secret %v", sec.DTLSVersion, sec.CipherSuite, sec.SRTPProfile, sec.ExtendedMasterSecret), "")
	m.checkFingerprints(base)
	rows := clientHelloRows
	if role == targetClient {
		if ch, ok := base.clientHello(); ok {
			for _, v := range offeredWeaknesses(ch) {
				m.add("what its ClientHello offers", role.name, v.v, v.remedy)
			}
		}
		rows = serverHelloRows
	}
	for _, row := range rows {
		if ctx.Err() != nil {
			m.add(row.name, role.name, unanswered("not run: %v", ctx.Err()), "")
			continue
		}
		m.add(row.name, role.name, row.judge(rig.probe(ctx, role, row.tweak)), row.remedy)
	}
}

// checkFingerprints looks at the hashes of the target's own fingerprints:
// SHA-1 only is allowed by RFC 8122 (a warning); MD5 or MD2 only is not.
func (m *dtlsMatrix) checkFingerprints(p *dtlsProbe) {
	hashes := p.fingerprintHashes()
	if len(hashes) == 0 {
		return
	}
	weak := func(h string) bool { return h == "md5" || h == "md2" }
	switch {
	case !slices.ContainsFunc(hashes, func(h string) bool { return h != "sha-1" }):
		m.warnings = append(m.warnings, "the target's SDP carries only a sha-1 fingerprint (allowed by RFC 8122, but sha-256 is what browsers use)")
	case !slices.ContainsFunc(hashes, func(h string) bool { return !weak(h) }):
		m.add("its own SDP fingerprint", "", weakTaken(Medium, "the target's SDP fingerprints are %s only", strings.Join(hashes, ", ")), rowMD5.remedy)
	}
}

// outcome turns the rows into the attack's verdict.
func (m *dtlsMatrix) outcome() Outcome {
	out := Outcome{Warnings: m.warnings}
	var remedies, unknowns []string
	for _, r := range m.rows {
		where := r.name
		if r.role != "" {
			where = "target as DTLS " + r.role + " · " + r.name
		}
		state := map[rowState]string{rowUnknown: "no answer", rowRefused: "refused", rowAccepted: "ACCEPTED", rowWarning: "taken (a warning)"}[r.v.state]
		if r.name == "normal handshake" {
			state = "completed"
		}
		out.Evidence = append(out.Evidence, fmt.Sprintf("%s: %s: %s", where, state, r.v.detail))
		switch r.v.state {
		case rowAccepted:
			out.Severity = worseSeverity(out.Severity, r.v.severity)
			if r.remedy != "" && !slices.Contains(remedies, r.remedy) {
				remedies = append(remedies, r.remedy)
			}
		case rowUnknown:
			unknowns = append(unknowns, where)
		case rowWarning:
			out.Warnings = append(out.Warnings, where+": "+r.v.detail+" (RFC 8122 allows it; sha-256 is better)")
		}
	}
	switch {
	case out.Severity != "":
		out.Verdict = Vulnerable
		n := 0
		for _, r := range m.rows {
			if r.v.state == rowAccepted {
				n++
			}
		}
		out.Reason = fmt.Sprintf("the target accepted %d weak DTLS-SRTP option(s)", n)
		out.Remediation = strings.Join(remedies, "; ")
	case m.usable == 0:
		out.Verdict = Inconclusive
		out.Reason = "no normal call through the target completed DTLS in either role, so no downgrade could be tried"
	case len(unknowns) > 0:
		out.Verdict = Inconclusive
		out.Reason = "some probes got no answer: " + strings.Join(unknowns, "; ")
	default:
		out.Verdict = Resisted
		out.Reason = "the target refused every weak DTLS-SRTP option tried"
	}
	return out
}
