package gateway

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// rtcpEnd carries one phone leg's RTCP: where reports go (the phone's
// a=rtcp or RTP port + 1, or its RTP address with rtcp-mux), the report
// timer (a time.AfterFunc, so no goroutine waits between reports), and
// the reader of the leg's RTCP socket.
type rtcpEnd struct {
	leg   *rtpLeg
	conn  *net.UDPConn // the RTP port + 1
	every time.Duration
	m     *metrics
	state *phoneRTCP

	mu     sync.Mutex
	remote *net.UDPAddr // where reports go; nil: nowhere (not connected, or held)
	phone  net.IP       // reports are read from this address only
	mux    bool
	timer  *time.Timer
	closed bool
}

func newRTCPEnd(leg *rtpLeg, conn *net.UDPConn, every time.Duration, m *metrics) *rtcpEnd {
	cname := fmt.Sprintf("gateway-%08x@%s", leg.ssrc, conn.LocalAddr().(*net.UDPAddr).IP)
	return &rtcpEnd{leg: leg, conn: conn, every: every, m: m, state: newPhoneRTCP(leg.ssrc, cname)}
}

// connect sets where reports go and the clock rate of the leg's codec.
func (e *rtcpEnd) connect(m plainMedia, rate uint32) {
	e.state.setRate(rate)
	e.retarget(m)
}

// retarget follows a new description of the phone's: with rtcp-mux the
// reports go to its RTP address, else to its RTCP address.
func (e *rtcpEnd) retarget(m plainMedia) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.remote, e.mux, e.phone = m.RTCP, m.Mux, nil
	if m.Addr != nil {
		e.phone = m.Addr.IP
	}
	if m.Mux {
		e.remote = m.Addr
	}
}

func (e *rtcpEnd) muxed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mux
}

func (e *rtcpEnd) sent(h *rtp.Header, payload int) { e.state.sent(h, payload, time.Now()) }
func (e *rtcpEnd) received(h *rtp.Header)          { e.state.received(h, time.Now()) }

// start reads the RTCP socket and schedules the first report.
func (e *rtcpEnd) start(spawn func(func()) bool) {
	spawn(e.receive)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		// The first report comes after half the interval (RFC 3550 6.2).
		e.timer = time.AfterFunc(nextReport(e.every/2), e.tick)
	}
}

func (e *rtcpEnd) tick() {
	_ = e.send(false)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.timer.Reset(nextReport(e.every))
	}
}

// send sends a compound report (with a BYE when bye) to the phone, as
// SRTCP on an SDES leg; nothing before the leg is connected and keyed, or
// while the phone holds with no address.
func (e *rtcpEnd) send(bye bool) error {
	e.mu.Lock()
	dst, mux := e.remote, e.mux
	e.mu.Unlock()
	if dst == nil {
		return nil
	}
	raw, err := rtcp.Marshal(e.state.report(time.Now(), bye))
	if err != nil {
		return fmt.Errorf("marshal rtcp: %w", err)
	}
	if e.leg.sdes != nil {
		if raw, err = e.leg.sdes.sealRTCP(raw); err != nil {
			return nil // not keyed yet
		}
	}
	conn := e.conn
	if mux {
		conn = e.leg.conn
	}
	if _, err := conn.WriteToUDP(raw, dst); err != nil {
		return fmt.Errorf("send rtcp to %s: %w", dst, err)
	}
	e.m.rtcp("sent")
	return nil
}

// receive reads the RTCP socket until it is closed.
func (e *rtcpEnd) receive() {
	buf := make([]byte, 1500)
	for {
		n, src, err := e.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		e.mu.Lock()
		from := e.phone
		e.mu.Unlock()
		if from != nil && src.IP.Equal(from) {
			e.read(buf[:n])
		}
	}
}

// read takes one compound packet from the phone (SRTCP on an SDES leg):
// its sender report is echoed in the next reception block, and its
// blocks on the gateway's stream give round trips.
func (e *rtcpEnd) read(b []byte) {
	arrival := time.Now()
	if e.leg.sdes != nil {
		plain, err := e.leg.sdes.openRTCP(nil, b)
		if err != nil {
			e.m.rtcp("unreadable")
			return
		}
		b = plain
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		e.m.rtcp("unreadable")
		return
	}
	e.m.rtcp("received")
	for _, rtt := range e.state.handle(pkts, arrival) {
		e.m.phoneRTT(rtt)
	}
}

// close stops the reports, sends a last one with a BYE (RFC 3550 6.3.7)
// and closes the RTCP socket. It is idempotent.
func (e *rtcpEnd) close() error {
	e.mu.Lock()
	done := e.closed
	e.closed = true
	if e.timer != nil {
		e.timer.Stop()
	}
	e.mu.Unlock()
	if done {
		return nil
	}
	_ = e.send(true)
	return e.conn.Close()
}

// isRTCP tells RTCP from RTP on a shared port (RFC 5761 4): the second
// byte, RTCP's packet type, is 192-223, where RTP's marker and payload
// type never fall for the types in use.
func isRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }
