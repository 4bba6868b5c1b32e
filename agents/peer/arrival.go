package peer

import (
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// arrivals remembers when the leg's sockets handed over each of the last
// RTP datagrams, so the read loop can stamp a packet with the moment it
// reached the socket rather than the later moment pion ICE's goroutine
// passed it on: on a loaded machine that hand-over alone can take
// milliseconds, which would show as delay and jitter that the network did
// not add. Datagrams from sockets it does not see (TURN relays) keep the
// read loop's own time.
type arrivals struct {
	mu   sync.Mutex
	ring [arrivalRing]arrival
	next int
}

// arrivalRing is how many datagrams are remembered: far more than can
// wait between the socket and the read loop.
const arrivalRing = 128

type arrival struct {
	key [10]byte // RTP sequence number, timestamp and SSRC, in the clear under SRTP
	at  time.Time
}

// rtpKey returns the bytes that identify an RTP packet, if b is one.
func rtpKey(b []byte) ([10]byte, bool) {
	var k [10]byte
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
		return k, false
	}
	copy(k[:], b[2:12])
	return k, true
}

func (a *arrivals) record(b []byte, at time.Time) {
	k, ok := rtpKey(b)
	if !ok {
		return
	}
	a.mu.Lock()
	a.ring[a.next] = arrival{key: k, at: at}
	a.next = (a.next + 1) % arrivalRing
	a.mu.Unlock()
}

// at returns when b reached the socket (the oldest unclaimed record of
// it, which it then claims), or fallback when it was not seen.
func (a *arrivals) at(b []byte, fallback time.Time) time.Time {
	k, ok := rtpKey(b)
	if !ok {
		return fallback
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range arrivalRing {
		e := &a.ring[(a.next+i)%arrivalRing]
		if !e.at.IsZero() && e.key == k {
			t := e.at
			e.at = time.Time{}
			return t
		}
	}
	return fallback
}

// wrap returns n with its UDP sockets recording arrivals.
func (a *arrivals) wrap(n transport.Net) transport.Net { return arrivalNet{Net: n, a: a} }

// arrivalNet is the leg's transport.Net: the agent's socket layer, with
// the UDP sockets ICE listens on recording when datagrams arrive.
type arrivalNet struct {
	transport.Net
	a *arrivals
}

func (n arrivalNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return arrivalConn{UDPConn: c, a: n.a}, nil
}

type arrivalConn struct {
	transport.UDPConn
	a *arrivals
}

// ReadFrom reads a datagram and records when it arrived: the socket
// layer's stamp, which is the network's delivery when a NAT or impairment
// layer stands in for it.
func (c arrivalConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, at, err := socket.ReadFromStamped(c.UDPConn, p)
	if err == nil {
		c.a.record(p[:n], at)
	}
	return n, addr, err
}
