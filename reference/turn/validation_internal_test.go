package turn

import (
	"log/slog"
	"net"
	"testing"

	"github.com/pion/stun/v4"
)

func TestSTUNValidationWeakened(t *testing.T) {
	good := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint).Raw
	badFingerprint := append([]byte(nil), good...)
	badFingerprint[len(badFingerprint)-1] ^= 0xFF
	badCookie := append([]byte(nil), good...)
	badCookie[4] ^= 1
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 1, 1), Port: 5000}
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3478}
	cases := []struct {
		name     string
		b        []byte
		weakened bool
		want     verdict
	}{
		{"valid Binding", good, false, pass},
		{"valid Binding, weakened", good, true, pass},
		{"bad FINGERPRINT", badFingerprint, false, drop},
		{"bad FINGERPRINT, weakened", badFingerprint, true, pass},
		{"bad cookie", badCookie, false, drop},
		{"bad cookie, weakened", badCookie, true, pass},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		if tc.weakened {
			c.Weaken = []string{WeakenSTUNValidation}
		}
		f := newFront(c, newAllocTable(c.MaxAllocationsPerUser, false), &metrics{}, slog.New(slog.DiscardHandler))
		if _, got := f.inspect(tc.b, src, local); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}
