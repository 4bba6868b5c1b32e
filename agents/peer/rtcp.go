package peer

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/rtcp"
)

// rtcpLeg is the leg's RTCP (rtcp-mux, on the ICE conn, protected as
// SRTCP with the SRTP keys): reports sent on a timer from the leg's own
// goroutine, the far end's read on the read loop.
type rtcpLeg struct {
	sess   atomic.Pointer[media.RTCP]
	failed atomic.Int64 // SRTCP that did not decrypt or parse

	mu   sync.Mutex
	stop chan struct{} // closed by stopRTCP; nil before the loop starts
}

// newRTCP creates the leg's RTCP state for the negotiated codec; the
// caller holds p.mu.
func (p *Peer) newRTCP() *media.RTCP {
	s := media.NewRTCP(p.ssrc, p.cname, p.codec)
	p.rtcp.sess.Store(s)
	return s
}

// startRTCP starts the report loop unless reports are off; the caller holds
// p.mu and has checked the leg is not closed.
func (p *Peer) startRTCP(tx *sender, conn net.Conn) {
	interval := p.cfg.RTCPInterval
	if interval == 0 {
		interval = media.DefaultRTCPInterval
	}
	sess := p.rtcp.sess.Load()
	if interval < 0 || sess == nil {
		return
	}
	stop := make(chan struct{})
	p.rtcp.mu.Lock()
	p.rtcp.stop = stop
	p.rtcp.mu.Unlock()
	p.wg.Go(func() { p.rtcpLoop(tx, conn, sess, interval, stop) })
}

// stopRTCP ends the report loop (Close waits for it).
func (p *Peer) stopRTCP() {
	p.rtcp.mu.Lock()
	defer p.rtcp.mu.Unlock()
	if p.rtcp.stop != nil {
		close(p.rtcp.stop)
		p.rtcp.stop = nil
	}
}

// rtcpLoop sends a report after a randomised interval (the first after
// half of one, RFC 3550 6.2), until stop.
func (p *Peer) rtcpLoop(tx *sender, conn net.Conn, sess *media.RTCP, interval time.Duration, stop <-chan struct{}) {
	timer := time.NewTimer(media.NextRTCP(interval) / 2)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		raw, err := rtcp.Marshal(sess.Report(time.Now()))
		if err == nil {
			err = tx.writeRTCP(raw, conn, p.observer)
		}
		if err != nil {
			p.log.Debug("RTCP report not sent", "err", err)
		}
		timer.Reset(media.NextRTCP(interval))
	}
}

// writeRTCP protects a compound RTCP packet as SRTCP and sends it.
func (s *sender) writeRTCP(raw []byte, conn net.Conn, obs *wire.Observer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc, err := s.ctx.EncryptRTCP(nil, raw, nil)
	if err != nil {
		return fmt.Errorf("peer: SRTCP protect: %w", err)
	}
	obs.Observe(wire.Out, enc)
	if _, err := conn.Write(enc); err != nil {
		return fmt.Errorf("peer: send RTCP: %w", err)
	}
	return nil
}

// handleRTCP decrypts and reads an SRTCP packet on the read goroutine;
// before the SRTP keys, or if it does not verify, it is only counted.
func (p *Peer) handleRTCP(rx *receiver, b []byte, arrival time.Time) {
	ctx, sess := rx.ctx.Load(), rx.rtcp
	if ctx == nil || sess == nil {
		return
	}
	dec, err := ctx.DecryptRTCP(nil, b, nil)
	if err != nil {
		p.rtcp.failed.Add(1)
		return
	}
	pkts, err := rtcp.Unmarshal(dec)
	if err != nil {
		p.rtcp.failed.Add(1)
		return
	}
	sess.Handle(pkts, arrival)
}

// rtcpStats returns what the leg's RTCP exchanged so far.
func (p *Peer) rtcpStats() media.RTCPStats {
	var st media.RTCPStats
	if s := p.rtcp.sess.Load(); s != nil {
		st = s.Stats()
	}
	st.Unreadable = int(p.rtcp.failed.Load())
	return st
}
