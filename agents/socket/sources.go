package socket

import (
	"errors"
	"net/netip"
	"sync"
)

// ErrExhausted is returned when Sources has handed out every address.
var ErrExhausted = errors.New("socket: no source addresses left")

// Sources hands out the source addresses of virtual users. Toward a target
// on this machine each user gets a loopback address of its own: 127.0.1.1
// upward, skipping .0 and .255 in the last octet. Toward one elsewhere a
// loopback source cannot reach it, so users share the machine's own
// addresses, in turn (NewSharedSources). It is safe for concurrent use.
type Sources struct {
	mu     sync.Mutex
	next   netip.Addr
	shared []netip.Addr // in turn, when set
	turn   int
}

// NewSharedSources returns Sources that hand out addrs in turn, each to
// many virtual users.
func NewSharedSources(addrs []netip.Addr) (*Sources, error) {
	if len(addrs) == 0 {
		return nil, ErrExhausted
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap()
	}
	return &Sources{shared: out}, nil
}

// Shared reports whether virtual users share addresses.
func (s *Sources) Shared() bool { return len(s.shared) > 0 }

// NewSources returns Sources starting at 127.0.1.1.
func NewSources() *Sources {
	return &Sources{next: netip.AddrFrom4([4]byte{127, 0, 1, 1})}
}

// Next returns the next unused address.
func (s *Sources) Next() (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.shared) > 0 {
		a := s.shared[s.turn%len(s.shared)]
		s.turn++
		return a, nil
	}
	a := s.next
	if !a.IsValid() {
		return netip.Addr{}, ErrExhausted
	}
	n := a.Next()
	for n.IsValid() {
		last := n.As4()[3]
		if last != 0 && last != 255 {
			break
		}
		n = n.Next()
	}
	if !n.IsValid() || !netip.MustParsePrefix("127.0.0.0/8").Contains(n) {
		n = netip.Addr{}
	}
	s.next = n
	return a, nil
}
