package plainrtp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/rtcp"
)

// rtcpState is the leg's RTCP: on the RTP socket with rtcp-mux, else on
// Config.RTCPConn toward the far end's RTCP address (a=rtcp, or its RTP
// port + 1). Set when the remote description is applied, under Leg.mu;
// read without it by the goroutines started after.
type rtcpState struct {
	sess       *media.RTCP // nil: the leg has no RTCP
	mux        bool
	remote     net.Addr
	stop       chan struct{}
	unreadable int // guarded by Leg.mu
}

// ListenPair opens an RTP socket on an even port of ip and an RTCP socket
// on the next port (RFC 3550 11), with listen (the agent's
// socket.Net.ListenPacket), trying a few ports before it gives up.
func ListenPair(listen func(network, address string) (net.PacketConn, error), ip netip.Addr) (rtpConn, rtcpConn net.PacketConn, err error) {
	const attempts = 20
	for range attempts {
		rtpConn, err = listen("udp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			return nil, nil, fmt.Errorf("plainrtp: RTP socket: %w", err)
		}
		port, perr := netip.ParseAddrPort(rtpConn.LocalAddr().String())
		if perr == nil && port.Port()%2 == 0 && port.Port() < 65535 {
			rtcpConn, err = listen("udp", netip.AddrPortFrom(ip, port.Port()+1).String())
			if err == nil {
				return rtpConn, rtcpConn, nil
			}
		}
		_ = rtpConn.Close()
	}
	return nil, nil, fmt.Errorf("plainrtp: no free even port with its odd neighbour on %s after %d attempts", ip, attempts)
}

// sdpRTCP is what our SDP says about RTCP.
func (l *Leg) sdpRTCP(mux bool) sdpRTCP {
	r := sdpRTCP{mux: mux}
	if c := l.cfg.RTCPConn; c != nil {
		if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil && ap.Port() != l.local.Port()+1 {
			r.port = int(ap.Port())
		}
	}
	return r
}

// negotiateRTCP sets where RTCP goes once the remote description is known;
// the caller holds l.mu.
func (l *Leg) negotiateRTCP(r remoteDesc, mux bool) {
	if !mux && l.cfg.RTCPConn == nil {
		return
	}
	st := &l.rtcp
	st.mux = mux
	switch {
	case mux:
		st.remote = l.remote
	case r.rtcp.IsValid():
		st.remote = net.UDPAddrFromAddrPort(r.rtcp)
		if l.cfg.AllowRemote != nil && r.rtcp.Addr() != r.addr.Addr() {
			l.cfg.AllowRemote(r.rtcp.Addr())
		}
	default:
		st.remote = net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.addr.Addr(), r.addr.Port()+1))
	}
	cname := "gauntlet-" + strconv.FormatUint(rand.Uint64(), 36) + "@" + l.local.Addr().String()
	st.sess = media.NewRTCP(0, cname, l.codec)
}

func (l *Leg) rtcpSession() *media.RTCP {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtcp.sess
}

// startRTCP starts the RTCP reader (on its own socket) and the report
// loop; the caller holds l.mu.
func (l *Leg) startRTCP() {
	st := &l.rtcp
	if st.sess == nil {
		return
	}
	st.stop = make(chan struct{})
	if !st.mux {
		l.wg.Go(l.rtcpReadLoop)
	}
	interval := l.cfg.RTCPInterval
	if interval == 0 {
		interval = media.DefaultRTCPInterval
	}
	if interval > 0 {
		l.wg.Go(func() { l.rtcpLoop(interval) })
	}
}

// stopRTCP ends the report loop and closes the RTCP socket; Close waits
// for the goroutines.
func (l *Leg) stopRTCP() error {
	l.mu.Lock()
	stop := l.rtcp.stop
	l.rtcp.stop = nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	if l.cfg.RTCPConn == nil {
		return nil
	}
	return l.cfg.RTCPConn.Close()
}

func (l *Leg) rtcpConn() net.PacketConn {
	if l.rtcp.mux {
		return l.conn
	}
	return l.cfg.RTCPConn
}

// rtcpLoop sends a report after a randomised interval (the first after
// half of one, RFC 3550 6.2), until stopped.
func (l *Leg) rtcpLoop(interval time.Duration) {
	l.mu.Lock()
	stop := l.rtcp.stop
	l.mu.Unlock()
	st := &l.rtcp
	timer := time.NewTimer(media.NextRTCP(interval) / 2)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		raw, err := rtcp.Marshal(st.sess.Report(time.Now()))
		if err == nil {
			raw, err = l.sealRTCP(raw)
		}
		if err == nil {
			_, err = l.rtcpConn().WriteTo(raw, st.remote)
		}
		if err != nil {
			l.log.Debug("RTCP report not sent", "err", err)
		}
		timer.Reset(media.NextRTCP(interval))
	}
}

// rtcpReadLoop reads the RTCP socket until it closes.
func (l *Leg) rtcpReadLoop() {
	buf := make([]byte, 1500)
	for {
		n, _, err := l.cfg.RTCPConn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Debug("RTCP read ended", "err", err)
			}
			return
		}
		l.count(&l.rtcpCount)
		if b, ok := l.openRTCP(buf[:n]); ok {
			l.handleRTCP(b, time.Now())
		}
	}
}

// handleRTCP reads one compound RTCP packet.
func (l *Leg) handleRTCP(b []byte, arrival time.Time) {
	s := l.rtcp.sess
	if s == nil {
		return
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		l.count(&l.rtcp.unreadable)
		return
	}
	s.Handle(pkts, arrival)
}

// rtcpStatsLocked returns what the leg's RTCP exchanged; the caller holds
// l.mu.
func (l *Leg) rtcpStatsLocked() media.RTCPStats {
	var st media.RTCPStats
	if l.rtcp.sess != nil {
		st = l.rtcp.sess.Stats()
	}
	st.Unreadable = l.rtcp.unreadable
	return st
}
