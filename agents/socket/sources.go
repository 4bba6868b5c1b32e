package socket

import (
	"errors"
	"net/netip"
	"sync"
)

// ErrExhausted is returned when Sources has handed out every address.
var ErrExhausted = errors.New("socket: no source addresses left")

// Sources hands out distinct loopback source addresses for virtual users:
// 127.0.1.1 upward, skipping .0 and .255 in the last octet. It is safe for
// concurrent use.
type Sources struct {
	mu   sync.Mutex
	next netip.Addr
}

// NewSources returns Sources starting at 127.0.1.1.
func NewSources() *Sources {
	return &Sources{next: netip.AddrFrom4([4]byte{127, 0, 1, 1})}
}

// Next returns the next unused address.
func (s *Sources) Next() (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
