package socket

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// countingConn counts what passes through a wrapper.
type countingConn struct {
	net.PacketConn
	writes *atomic.Int64
}

func (c countingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.writes.Add(1)
	return c.PacketConn.WriteTo(p, addr)
}

func TestPacketWrapperSeesOnlyGuardedTraffic(t *testing.T) {
	var writes atomic.Int64
	n, err := New(
		WithSourceIP(netip.MustParseAddr("127.0.3.9")),
		WithPacketWrapper(func(c net.PacketConn) net.PacketConn { return countingConn{c, &writes} }),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.ListenPacket("udp4", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if _, err := c.WriteTo([]byte("x"), sink.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("a write to 10.0.0.1 passed the guard")
	}
	if got := writes.Load(); got != 1 {
		t.Fatalf("wrapper saw %d writes, want 1 (the denied one must stop at the guard)", got)
	}
}
