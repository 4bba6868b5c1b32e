package peer

import (
	"errors"
	"io"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Report is what a leg negotiated and measured.
type Report struct {
	ICE       reports.ICE
	Security  reports.Security // as seen on the wire, plus the remote fingerprint hash and our DTLS role
	Codec     media.Codec      // negotiated (zero before the remote description)
	ICEMS     float64          // Connect called to ICE connected
	DTLSMS    float64          // ICE connected to SRTP keyed
	Connected time.Time        // SRTP keyed (zero if not reached)

	RTPReceived    int  // decrypted and handed to OnRTP
	RTCPReceived   int  // counted, not decrypted
	SRTPAuthFailed int  // dropped: authentication tag did not verify
	SRTPRejected   int  // dropped: replayed, too old, or unreadable
	EarlyDropped   int  // dropped: arrived before the keys, beyond the early buffer
	RemoteClosed   bool // the far end sent close_notify
}

// Report returns the leg's figures so far.
func (p *Peer) Report() Report {
	p.mu.Lock()
	r := Report{
		ICE: reports.ICE{
			SDPExchanged: p.stage >= stageNegotiated,
			Connected:    p.iceConn != nil,
			Policy:       p.cfg.Policy,
		},
		Codec:     p.codec,
		ICEMS:     p.iceMS,
		DTLSMS:    p.dtlsMS,
		Connected: p.connected,
	}
	negotiated := p.stage >= stageNegotiated
	fps := p.remote.fps
	client := p.dtlsClient
	connected := p.iceConn != nil
	p.mu.Unlock()

	if connected {
		if pair, err := p.agent.GetSelectedCandidatePair(); err == nil && pair != nil {
			r.ICE.LocalCandidate = pair.Local.Type().String()
			r.ICE.RemoteCandidate = pair.Remote.Type().String()
			r.ICE.Relay = r.ICE.LocalCandidate == "relay"
		}
	}
	r.Security = p.observer.Security()
	if negotiated {
		if len(fps) > 0 {
			r.Security.FingerprintHash = fps[0].hash
		}
		r.Security.DTLSRole = "server"
		if client {
			r.Security.DTLSRole = "client"
		}
	}

	s := &p.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	r.RTPReceived = s.rtp
	r.RTCPReceived = s.rtcp
	r.SRTPAuthFailed = s.authFailed
	r.SRTPRejected = s.otherDropped
	r.EarlyDropped = s.earlyDropped
	r.RemoteClosed = errors.Is(s.dtlsClosed, io.EOF)
	return r
}
