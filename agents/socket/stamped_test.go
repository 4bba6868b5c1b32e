package socket

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// stampingConn says every datagram arrived at a fixed moment.
type stampingConn struct {
	net.PacketConn
	at time.Time
}

func (c stampingConn) ReadFromStamped(p []byte) (int, net.Addr, time.Time, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	return n, addr, c.at, err
}

func TestReadFromStampedTakesTheLayersStamp(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tc := range []struct {
		name    string
		wrapper func(net.PacketConn) net.PacketConn
		want    func(before, after, got time.Time) bool
	}{
		{"a stamping layer", func(c net.PacketConn) net.PacketConn { return stampingConn{c, at} },
			func(_, _, got time.Time) bool { return got.Equal(at) }},
		{"no layer", func(c net.PacketConn) net.PacketConn { return c },
			func(before, after, got time.Time) bool { return !got.Before(before) && !got.After(after) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(WithSourceIP(netip.MustParseAddr("127.0.3.10")), WithPacketWrapper(tc.wrapper))
			if err != nil {
				t.Fatal(err)
			}
			c, err := n.ListenPacket("udp4", "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			src, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var seen int
			c.(*PacketConn).observe = func(Dir, net.Addr, net.Addr, []byte) { seen++ }
			before := time.Now()
			if _, err := src.WriteTo([]byte("hello"), c.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			k, from, got, err := ReadFromStamped(c, buf)
			after := time.Now()
			if err != nil || string(buf[:k]) != "hello" || from.String() != src.LocalAddr().String() {
				t.Fatalf("read %q from %v: %v", buf[:k], from, err)
			}
			if !tc.want(before, after, got) {
				t.Fatalf("stamp %v (read between %v and %v)", got, before, after)
			}
			if seen != 1 {
				t.Fatalf("the observer saw %d datagrams, want 1", seen)
			}
		})
	}
}
