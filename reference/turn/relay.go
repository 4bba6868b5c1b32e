package turn

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// errNoTCPRelay is what pion gets if it ever asks for a TCP relay: RFC 6062
// allocations are not offered (the front answers them 442 first).
var errNoTCPRelay = errors.New("turn: TCP relays (RFC 6062) are not offered")

// relayGen allocates relayed transport addresses: a UDP socket on the relay
// address of the family asked for, with the bandwidth cap around it.
type relayGen struct {
	v4, v6  net.IP
	bps     int64 // 0: no cap
	metrics *metrics
	track   *tracker
	now     func() time.Time
}

var _ pionturn.RelayAddressGenerator = (*relayGen)(nil)

func (g *relayGen) Validate() error {
	if g.v4 == nil && g.v6 == nil {
		return errors.New("turn: no relay address")
	}
	return nil
}

func (g *relayGen) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	ip := g.v4
	if c.Network == "udp6" {
		ip = g.v6
	}
	if ip == nil {
		return nil, nil, fmt.Errorf("turn: no relay address for %s", c.Network)
	}
	pc, err := net.ListenPacket(c.Network, net.JoinHostPort(ip.String(), strconv.Itoa(c.RequestedPort)))
	if err != nil {
		return nil, nil, fmt.Errorf("turn: relay socket: %w", err)
	}
	growBuffers(pc, relayBuffer)
	rc := &relayConn{PacketConn: pc, metrics: g.metrics, done: g.track.add()}
	if g.bps > 0 {
		rc.up, rc.down = newBucket(g.bps, g.now), newBucket(g.bps, g.now)
	}
	g.metrics.allocationsTotal.Add(1)
	return rc, pc.LocalAddr(), nil
}

func (g *relayGen) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

func (g *relayGen) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

// relayConn is one allocation's relay socket. What goes over the cap is
// discarded, in each direction.
type relayConn struct {
	net.PacketConn
	up, down *bucket // client->peer, peer->client; nil: no cap
	metrics  *metrics
	done     func()
}

// WriteTo sends the client's data to a peer, or drops it over the cap (and
// says it was sent, as a router would).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.up != nil && !c.up.take(len(p)) {
		c.metrics.capDroppedBytes.Add(int64(len(p)))
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.metrics.relayedToPeers.Add(int64(n))
	return n, err
}

// ReadFrom returns the next peer datagram within the cap.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.down != nil && !c.down.take(n) {
			c.metrics.capDroppedBytes.Add(int64(n))
			continue
		}
		c.metrics.relayedFromPeers.Add(int64(n))
		return n, addr, nil
	}
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.done()
	return err
}

// bucket is a token bucket in bytes: rate from the cap, a burst of a fifth
// of a second (at least two full datagrams).
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newBucket(bitsPerSecond int64, now func() time.Time) *bucket {
	rate := float64(bitsPerSecond) / 8
	burst := max(rate/5, 3000)
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

// take spends n bytes if they are there.
func (b *bucket) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
