package peer

import (
	"errors"
	"io"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/ice/v4"
)

// Report is what a leg negotiated and measured.
type Report = media.LegReport

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
			if rc, ok := pair.Local.(*ice.CandidateRelay); ok {
				r.ICE.RelayProtocol = rc.RelayProtocol()
			}
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
	r.AuthFailed = s.authFailed
	r.Rejected = s.otherDropped
	r.EarlyDropped = s.earlyDropped
	r.RemoteClosed = errors.Is(s.dtlsClosed, io.EOF)
	r.RTCP = p.rtcpStats()
	return r
}
