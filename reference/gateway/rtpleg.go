package gateway

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"

	"github.com/pion/rtp"
)

// pktKind says what an RTP packet carries, so each leg can give it its own
// payload type.
type pktKind uint8

const (
	kindAudio pktKind = iota
	kindDTMF          // RFC 4733 telephone-event
)

// deliverFunc takes one packet from a leg's far end; p is only valid
// during the call.
type deliverFunc func(k pktKind, p *rtp.Packet)

// mediaEnd is one leg's media toward its party: plain RTP or WebRTC.
type mediaEnd interface {
	// send forwards p toward the party with the leg's own payload type for
	// k, SSRC and sequence; p may be modified.
	send(k pktKind, p *rtp.Packet) error
	// start begins delivering what the party sends; call it once.
	start(spawn func(func()) bool, deliver deliverFunc)
	close() error
}

// rtpLeg is the plain-RTP side of one call: a UDP socket of its own on
// MediaIP, exchanging RTP (SRTP with SDES keys, when sdes is set) with the
// address in the phone's SDP, and its RTCP (rtcp.go): on the next port up
// (the RTP port is even), or on the RTP port when the phone asked for
// rtcp-mux, SRTCP on an SDES leg.
type rtpLeg struct {
	conn *net.UDPConn
	ssrc uint32    // the gateway's SSRC toward the phone
	sdes *sdesKeys // nil: plain RTP/AVP
	rtcp *rtcpEnd  // nil: no RTCP (RTCPInterval 0)

	mu     sync.Mutex
	remote *net.UDPAddr // nil while the phone holds with c=0.0.0.0
	audio  uint8        // the phone's payload type for the chosen codec
	dtmf   int          // the phone's telephone-event payload type, -1 if none
	ready  bool
}

// phoneLeg opens a new phone leg's media sockets: SDES-SRTP state when the
// gateway speaks it toward phones, RTCP unless RTCPInterval is 0.
func (g *Gateway) phoneLeg() (*rtpLeg, error) {
	ip, sdes := g.cfg.mediaIP(), g.phoneKeys()
	ssrc := rand.Uint32()
	if g.cfg.RTCPInterval == 0 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, fmt.Errorf("rtp socket on %s: %w", ip, err)
		}
		return &rtpLeg{conn: conn, ssrc: ssrc, dtmf: -1, sdes: sdes}, nil
	}
	conn, rtcpConn, err := listenPair(ip)
	if err != nil {
		return nil, err
	}
	r := &rtpLeg{conn: conn, ssrc: ssrc, dtmf: -1, sdes: sdes}
	r.rtcp = newRTCPEnd(r, rtcpConn, g.cfg.RTCPInterval, g.metrics)
	return r, nil
}

// listenPair opens an RTP socket on an even port of ip and its RTCP
// socket on the next one (RFC 3550 11), trying a few ports.
func listenPair(ip net.IP) (rtpConn, rtcpConn *net.UDPConn, err error) {
	const attempts = 20
	for range attempts {
		if rtpConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip}); err != nil {
			return nil, nil, fmt.Errorf("rtp socket on %s: %w", ip, err)
		}
		if port := rtpConn.LocalAddr().(*net.UDPAddr).Port; port%2 == 0 {
			if rtcpConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port + 1}); err == nil {
				return rtpConn, rtcpConn, nil
			}
		}
		_ = rtpConn.Close()
	}
	return nil, nil, fmt.Errorf("rtp socket on %s: no free even port with its odd neighbour after %d attempts", ip, attempts)
}

// crypto is what the leg's re-offers and answers carry: the negotiated
// a=crypto of an SDES leg, nothing for plain RTP.
func (r *rtpLeg) crypto() []cryptoAttr {
	if r.sdes == nil {
		return nil
	}
	return []cryptoAttr{r.sdes.current()}
}

func (r *rtpLeg) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// mux says whether the leg's RTCP shares the RTP port, for the a=rtcp-mux
// of its re-offers and answers.
func (r *rtpLeg) mux() bool { return r.rtcp != nil && r.rtcp.muxed() }

// connect sets where RTP goes and the payload types it carries; RTCP
// follows (m.Mux is honoured only when the phone may use it: callers
// clear it in an answer to an offer that did not have it).
func (r *rtpLeg) connect(m plainMedia, ch chosen) {
	r.mu.Lock()
	r.remote, r.audio, r.ready = m.Addr, ch.Audio.PT, true
	r.dtmf = -1
	if ch.DTMF != nil {
		r.dtmf = int(ch.DTMF.PT)
	}
	r.mu.Unlock()
	if r.rtcp != nil {
		r.rtcp.connect(m, ch.Audio.Clock)
	}
}

// retarget follows a re-INVITE's new address (nil: held with 0.0.0.0).
func (r *rtpLeg) retarget(m plainMedia) {
	r.mu.Lock()
	r.remote = m.Addr
	r.mu.Unlock()
	if r.rtcp != nil {
		r.rtcp.retarget(m)
	}
}

type rtpTarget struct {
	remote *net.UDPAddr
	audio  uint8
	dtmf   int
	ready  bool
}

func (r *rtpLeg) target() rtpTarget {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rtpTarget{remote: r.remote, audio: r.audio, dtmf: r.dtmf, ready: r.ready}
}

// send forwards p to the phone. Sequence number, timestamp, marker and
// payload go unchanged; SSRC and payload type become this leg's, and header
// extensions (negotiated with the browser only) are dropped.
func (r *rtpLeg) send(k pktKind, p *rtp.Packet) error {
	t := r.target()
	if !t.ready || t.remote == nil {
		return nil
	}
	switch k {
	case kindAudio:
		p.PayloadType = t.audio
	case kindDTMF:
		if t.dtmf < 0 {
			return nil
		}
		p.PayloadType = uint8(t.dtmf)
	}
	p.SSRC = r.ssrc
	p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
	raw, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("marshal rtp: %w", err)
	}
	if r.sdes != nil {
		if raw, err = r.sdes.seal(raw); err != nil {
			return fmt.Errorf("srtp toward the phone: %w", err)
		}
	}
	if _, err := r.conn.WriteToUDP(raw, t.remote); err != nil {
		return fmt.Errorf("send rtp to %s: %w", t.remote, err)
	}
	if r.rtcp != nil {
		r.rtcp.sent(&p.Header, len(p.Payload))
	}
	return nil
}

func (r *rtpLeg) start(spawn func(func()) bool, deliver deliverFunc) {
	spawn(func() { r.receive(deliver) })
	if r.rtcp != nil {
		r.rtcp.start(spawn)
	}
}

// receive reads RTP from the phone and hands each packet of a negotiated
// payload type to deliver, until the socket is closed. Packets from any
// other IP address than the phone's SDP names are dropped (no latching
// onto strangers), and so, on an SDES leg, is SRTP that does not
// authenticate, replays a packet or is too old for the window.
func (r *rtpLeg) receive(deliver deliverFunc) {
	buf := make([]byte, 1500)
	var plain []byte
	var p rtp.Packet
	for {
		n, src, err := r.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		t := r.target()
		if !t.ready || t.remote == nil || !src.IP.Equal(t.remote.IP) {
			continue
		}
		b := buf[:n]
		if r.rtcp != nil && isRTCP(b) {
			if r.rtcp.muxed() {
				r.rtcp.read(b)
			}
			continue
		}
		if r.sdes != nil {
			out, err := r.sdes.open(plain[:0], b)
			if err != nil {
				continue
			}
			plain, b = out, out
		}
		if err := p.Unmarshal(b); err != nil {
			continue
		}
		p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
		if r.rtcp != nil {
			r.rtcp.received(&p.Header)
		}
		switch {
		case p.PayloadType == t.audio:
			deliver(kindAudio, &p)
		case t.dtmf >= 0 && int(p.PayloadType) == t.dtmf:
			deliver(kindDTMF, &p)
		}
	}
}

// close ends the leg: an RTCP BYE to the phone, then the sockets.
func (r *rtpLeg) close() error {
	var err error
	if r.rtcp != nil {
		err = r.rtcp.close()
	}
	return errors.Join(err, r.conn.Close())
}
