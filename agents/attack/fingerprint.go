package attack

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3"
)

const (
	fingerprintTime = time.Minute
	// fingerprintWindow is how long a connected call is watched for media.
	fingerprintWindow = 2 * time.Second
	// fingerprintFlow is the packet of the browser's stream whose arrival
	// at the phone shows media flows.
	fingerprintFlow = 10
)

// FingerprintMismatch plays a signaling man in the middle: the browser's
// SDP carries the fingerprint of one certificate and its DTLS handshake
// presents another. With the target as DTLS server and as client, a normal
// call must carry media and the mismatched one must not: the target has to
// abort the handshake or the call (RFC 5763 5, RFC 8122 5).
func FingerprintMismatch(ctx context.Context, env *Env) Outcome {
	ctx, cancel := context.WithTimeout(ctx, fingerprintTime)
	defer cancel()
	sdpCert, err := peer.NewCertificate()
	if err != nil {
		return Inconclusivef("%v", err)
	}
	mitmCert, err := peer.NewCertificate()
	if err != nil {
		return Inconclusivef("%v", err)
	}
	rig, err := newMediaRig(ctx, env, "fingerprint-mismatch")
	if err != nil {
		return Inconclusivef("%v", err)
	}
	out := fingerprintMismatch(ctx, rig, sdpCert, mitmCert)
	if err := rig.Close(); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	out.Capture = rig.capture.Path()
	return out
}

func fingerprintMismatch(ctx context.Context, rig *mediaRig, sdpCert, mitmCert *tls.Certificate) Outcome {
	var o Outcome
	var unknowns []string
	usable := 0
	for _, role := range []dtlsRole{targetServer, targetClient} {
		where := "target as DTLS " + role.name
		base := rig.mediaProbe(ctx, role, sdpCert, nil)
		if why := base.reachedDTLS(); why != "" || base.toPhone == 0 {
			if why == "" {
				why = fmt.Sprintf("no media reached the phone (%v; %s)", base.err, base.alerts())
			}
			o.Warnings = append(o.Warnings, fmt.Sprintf("%s (%s): a normal call did not carry media, so the mismatch was not tried: %s", where, role.how, why))
			continue
		}
		usable++
		o.Evidence = append(o.Evidence, fmt.Sprintf("%s · matching certificate: media flowed (the phone got %d packets, the browser %d)", where, base.toPhone, base.fromPhone))
		mitm := rig.mediaProbe(ctx, role, sdpCert, mitmCert)
		v := mitm.judgeMismatch()
		switch v.state {
		case rowAccepted:
			o.Severity = worseSeverity(o.Severity, v.severity)
			o.Evidence = append(o.Evidence, where+" · mismatched certificate: ACCEPTED: "+v.detail)
		case rowRefused:
			o.Evidence = append(o.Evidence, where+" · mismatched certificate: refused: "+v.detail)
		default:
			unknowns = append(unknowns, where)
			o.Evidence = append(o.Evidence, where+" · mismatched certificate: no answer: "+v.detail)
		}
	}
	switch {
	case o.Severity != "":
		o.Verdict = Vulnerable
		o.Reason = "media flowed with a DTLS certificate that does not match the SDP fingerprint: a signaling man in the middle can read and inject the call's audio"
		o.Remediation = "compare the peer's DTLS certificate with the a=fingerprint of its SDP when the handshake completes, and on a mismatch send bad_certificate and end the call (RFC 5763 5, RFC 8122 5)"
	case usable == 0:
		o.Verdict = Inconclusive
		o.Reason = "no normal call through the target carried media in either DTLS role"
	case len(unknowns) > 0:
		o.Verdict = Inconclusive
		o.Reason = "the mismatched call never reached DTLS: " + strings.Join(unknowns, "; ")
	default:
		o.Verdict = Resisted
		o.Reason = "the target carried no media when the DTLS certificate did not match the SDP fingerprint"
	}
	return o
}

// mediaProbe is one call of fingerprint-mismatch.
type mediaProbe struct {
	dtlsProbe
	toPhone   int           // packets of the browser's stream that reached the phone
	fromPhone int           // RTP packets the browser decrypted
	ended     time.Duration // from media up to the call's end, when it ended within the window
}

// mediaProbe runs a call between the phone and a fresh browser whose SDP
// fingerprint is sdpCert's, presenting dtlsCert in the handshake (sdpCert's
// when nil), as role says, and watches the media for a short window.
func (r *mediaRig) mediaProbe(ctx context.Context, role dtlsRole, sdpCert, dtlsCert *tls.Certificate) *mediaProbe {
	p := &mediaProbe{dtlsProbe: dtlsProbe{obs: wire.NewObserver()}}
	call, release := r.startProbe(ctx, role, &p.dtlsProbe, func(c *endpoint.Config) {
		c.Certificate = sdpCert
		c.PeerConfig = func(pc *peer.Config) {
			if dtlsCert != nil {
				pc.DTLSOptions = append(pc.DTLSOptions, dtls.WithCertificates(*dtlsCert))
			}
		}
	})
	defer release()
	if call == nil {
		return p
	}
	defer call.end(ctx)
	rep := call.browser.Report()
	if call.browser.Err() == nil {
		up := time.Now()
		wctx, cancel := context.WithTimeout(ctx, fingerprintWindow)
		r.marks.waitFor(wctx, call.browser.Done(), rep.SendTag, fingerprintFlow)
		cancel()
		select {
		case <-call.browser.Done():
			p.ended = time.Since(up)
		default:
		}
	}
	p.toPhone = r.marks.distinct(call.browser.Report().SendTag, 0, ^uint32(0))
	p.fromPhone = call.browser.Report().Media.RTPReceived
	return p
}

// judgeMismatch judges the call made with the mismatched certificate.
func (p *mediaProbe) judgeMismatch() rowVerdict {
	if why := p.reachedDTLS(); why != "" {
		return unanswered("%s", why)
	}
	if p.toPhone > 0 || p.fromPhone > 0 {
		return weakTaken(High, "the phone got %d packets from the browser and the browser decrypted %d from the phone (%s)", p.toPhone, p.fromPhone, p.alerts())
	}
	var how []string
	if p.connected {
		how = append(how, "the handshake completed, but no media flowed")
	} else {
		how = append(how, fmt.Sprintf("the handshake failed (%v)", p.err))
	}
	how = append(how, "target sent "+p.alerts())
	if p.ended > 0 {
		how = append(how, fmt.Sprintf("the target ended the call %d ms after the handshake", p.ended.Milliseconds()))
	}
	return weakRefused("%s", strings.Join(how, "; "))
}
