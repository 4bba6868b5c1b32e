package sipua_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// plainWebSocketServer upgrades every connection without selecting any
// subprotocol, as a server that does not speak RFC 7118 would.
func plainWebSocketServer(t *testing.T) string {
	t.Helper()
	addr, _ := webSocketServer(t, false)
	return addr
}

// rawPeer is a bare udp socket speaking SIP by hand, for checks on timing
// that a full stack would hide (what is retransmitted, and when).
type rawPeer struct {
	t  *testing.T
	pc net.PacketConn
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &rawPeer{t: t, pc: pc}
}

func (p *rawPeer) addr() string { return p.pc.LocalAddr().String() }

// arrival is one message read with its time and source.
type arrival struct {
	msg  sip.Message
	at   time.Time
	from net.Addr
}

// read returns the next SIP message, or nil after d.
func (p *rawPeer) read(d time.Duration) *arrival {
	p.t.Helper()
	buf := make([]byte, 65535)
	if err := p.pc.SetReadDeadline(time.Now().Add(d)); err != nil {
		p.t.Fatal(err)
	}
	n, from, err := p.pc.ReadFrom(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("peer got unparsable %q: %v", buf[:n], err)
	}
	return &arrival{msg: m, at: time.Now(), from: from}
}

// readUntil reads messages for d and returns those whose first line starts with prefix.
func (p *rawPeer) readUntil(d time.Duration, prefix string) []*arrival {
	p.t.Helper()
	var got []*arrival
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return got
		}
		a := p.read(left)
		if a == nil {
			return got
		}
		if strings.HasPrefix(startLine(a.msg), prefix) {
			got = append(got, a)
		}
	}
}

func (p *rawPeer) write(to net.Addr, msg string) {
	p.t.Helper()
	if _, err := p.pc.WriteTo([]byte(msg), to); err != nil {
		p.t.Fatal(err)
	}
}

func startLine(m sip.Message) string {
	switch m := m.(type) {
	case *sip.Request:
		return m.StartLine()
	case *sip.Response:
		return m.StartLine()
	}
	return ""
}
