package gateway

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"

	"github.com/pion/rtp"
)

// rtpLeg is the plain-RTP side of one call: a UDP socket of its own on
// MediaIP, exchanging RTP with the address in the phone's SDP. RTCP from the
// phone is not read in this cut (no socket on port+1).
type rtpLeg struct {
	conn *net.UDPConn
	ssrc uint32 // the gateway's SSRC toward the phone

	mu     sync.Mutex
	remote *net.UDPAddr
	pt     uint8 // the phone's payload type for the chosen codec
	ready  bool
}

func listenRTP(ip net.IP) (*rtpLeg, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		return nil, fmt.Errorf("rtp socket on %s: %w", ip, err)
	}
	return &rtpLeg{conn: conn, ssrc: rand.Uint32()}, nil
}

func (r *rtpLeg) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// connect sets where RTP goes and the payload type it carries.
func (r *rtpLeg) connect(remote *net.UDPAddr, pt uint8) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remote, r.pt, r.ready = remote, pt, true
}

func (r *rtpLeg) target() (*net.UDPAddr, uint8, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remote, r.pt, r.ready
}

// send forwards p to the phone. Sequence number, timestamp, marker and
// payload go unchanged; SSRC and payload type become this leg's, and header
// extensions (negotiated with the browser only) are dropped. p is modified.
func (r *rtpLeg) send(p *rtp.Packet) error {
	remote, pt, ok := r.target()
	if !ok {
		return nil
	}
	p.SSRC = r.ssrc
	p.PayloadType = pt
	p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
	raw, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("marshal rtp: %w", err)
	}
	if _, err := r.conn.WriteToUDP(raw, remote); err != nil {
		return fmt.Errorf("send rtp to %s: %w", remote, err)
	}
	return nil
}

// receive reads RTP from the phone and hands each packet of the chosen
// payload type to deliver, until the socket is closed. Packets from any other
// IP address than the phone's SDP names are dropped (no latching onto
// strangers); the packet and its payload are only valid during deliver.
func (r *rtpLeg) receive(deliver func(*rtp.Packet)) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, src, err := r.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		remote, pt, ok := r.target()
		if !ok || !src.IP.Equal(remote.IP) {
			continue
		}
		if err := p.Unmarshal(buf[:n]); err != nil || p.PayloadType != pt {
			continue
		}
		p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
		deliver(&p)
	}
}

func (r *rtpLeg) close() error { return r.conn.Close() }
