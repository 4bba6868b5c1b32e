package attack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// srtpInjector decides, as a leg's SRTP goes out, what goes in its place
// at the injection points: the points count from the first packet sent
// once the injector is armed (the browser's from its stream's first
// packet; the phone's once the call is up, as its stream starts before
// the target can relay it). Its counters are the stream's (0 is the first
// packet, which carries the marker bit), as the payload marks count.
type srtpInjector struct {
	mu       sync.Mutex
	armed    bool
	based    bool
	base     uint32 // the counter of the first packet sent armed
	started  bool
	seq0     uint16
	saved    []byte
	injected []string
	failed   error
	done     chan struct{} // closed once the last injection went out
}

func newSRTPInjector(armed bool) *srtpInjector {
	return &srtpInjector{armed: armed, done: make(chan struct{})}
}

// arm starts the injections from the next packet on.
func (w *srtpInjector) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = true
}

// at returns the stream counter of the injection point p (srtpDupAt, ...).
// Call it once done is closed.
func (w *srtpInjector) at(p uint32) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.base + p
}

// send writes b, or what the plan puts in its place, with write; anything
// but RTP (DTLS, STUN, SIP, RTCP) goes as it is.
func (w *srtpInjector) send(b []byte, write func([]byte) error) error {
	if !isRTP(b) {
		return write(b)
	}
	for _, s := range w.plan(b) {
		if err := write(s); err != nil {
			w.fail(err)
			return err
		}
	}
	return nil
}

// plan returns what goes out in place of the SRTP packet b.
func (w *srtpInjector) plan(b []byte) [][]byte {
	seq := binary.BigEndian.Uint16(b[2:4])
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		if b[1]&0x80 == 0 { // the marker starts the stream: counter 0
			return [][]byte{b}
		}
		w.started, w.seq0 = true, seq
	}
	counter := uint32(seq - w.seq0)
	if !w.armed {
		return [][]byte{b}
	}
	if !w.based {
		w.based, w.base = true, counter
	}
	switch counter - w.base {
	case srtpDupAt:
		w.note("packet %d (seq %d) sent twice", counter, seq)
		return [][]byte{b, b}
	case srtpOldOf:
		w.saved = bytes.Clone(b)
	case srtpOldAt:
		if w.saved != nil {
			w.note("packet %d sent again after packet %d", w.base+srtpOldOf, counter)
			return [][]byte{b, w.saved}
		}
	case srtpFlipAt:
		flipped := bytes.Clone(b)
		flipped[len(flipped)-1] ^= 0x01
		w.note("packet %d (seq %d) sent only with the last bit of its tag flipped", counter, seq)
		return [][]byte{flipped}
	case srtpCutAt:
		w.note("packet %d (seq %d) sent only with the last %d bytes of its tag cut", counter, seq, srtpCut)
		select {
		case <-w.done:
		default:
			close(w.done)
		}
		return [][]byte{bytes.Clone(b[:len(b)-srtpCut])}
	}
	return [][]byte{b}
}

func (w *srtpInjector) note(format string, args ...any) {
	w.injected = append(w.injected, fmt.Sprintf(format, args...))
}

func (w *srtpInjector) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

// summary says what was injected, and the first send error.
func (w *srtpInjector) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.Join(w.injected, "; ")
	if s == "" {
		s = "nothing yet"
	}
	if w.failed != nil {
		s += fmt.Sprintf(" (send error: %v)", w.failed)
	}
	return s
}

// injectConn is the browser's ICE conn past ICE (peer.Config.WrapConn):
// its SRTP goes out through the injector, and every datagram in and out is
// shown to the tap (nil for none). What it writes still goes through the
// socket layer's guard like the leg's own packets.
type injectConn struct {
	net.Conn
	inj *srtpInjector
	tap *dtlsTap
}

func (c *injectConn) Write(b []byte) (int, error) {
	if c.tap != nil {
		c.tap.observe(false, b)
	}
	if err := c.inj.send(b, func(s []byte) error { _, err := c.Conn.Write(s); return err }); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *injectConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.tap != nil {
		c.tap.observe(true, b[:n])
	}
	return n, err
}

// injectPacketConn sits under a phone's sockets (socket.WithPacketWrapper,
// past the guard): its SRTP goes out through the injector, and observe
// (the capture) sees every datagram as it really went out or came in,
// which the socket layer's own observer, above the wrapper, cannot.
type injectPacketConn struct {
	net.PacketConn
	inj     *srtpInjector
	observe socket.ObserverFunc
}

func (c *injectPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	err := c.inj.send(b, func(s []byte) error {
		c.observe(socket.Out, c.LocalAddr(), addr, s)
		_, err := c.PacketConn.WriteTo(s, addr)
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *injectPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if n > 0 {
		c.observe(socket.In, c.LocalAddr(), addr, b[:n])
	}
	return n, addr, err
}
