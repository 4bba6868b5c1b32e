package rooms

import (
	"strings"
	"testing"
)

func TestFilterCandidate(t *testing.T) {
	cases := []struct {
		name, in, want string
		keep           bool
	}{
		{"host dropped", "1 1 udp 2130706431 127.0.1.5 50000 typ host", "", false},
		{"srflx dropped", "2 1 udp 1694498815 203.0.113.7 50000 typ srflx raddr 127.0.1.5 rport 50000", "", false},
		{"prflx dropped", "3 1 udp 1845501695 203.0.113.7 50001 typ prflx raddr 0.0.0.0 rport 0", "", false},
		{"relay raddr hidden", "4 1 udp 16777215 127.0.0.1 40000 typ relay raddr 127.0.1.5 rport 50000",
			"4 1 udp 16777215 127.0.0.1 40000 typ relay raddr 0.0.0.0 rport 0", true},
		{"relay by name dropped", "5 1 udp 16777215 host.example 40000 typ relay", "", false},
		{"short dropped", "6 1 udp", "", false},
	}
	for _, tc := range cases {
		got, keep := filterCandidate(tc.in)
		if keep != tc.keep || got != tc.want {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, got, keep, tc.want, tc.keep)
		}
	}
}

func TestFilterSDP(t *testing.T) {
	in := strings.Join([]string{
		"v=0",
		"o=- 1 2 IN IP4 192.168.1.20",
		"s=-",
		"t=0 0",
		"m=audio 50000 UDP/TLS/RTP/SAVPF 111",
		"c=IN IP4 192.168.1.20",
		"a=rtcp:50001 IN IP4 192.168.1.20",
		"a=candidate:1 1 udp 2130706431 192.168.1.20 50000 typ host",
		"a=candidate:2 1 udp 1694498815 203.0.113.7 50000 typ srflx raddr 192.168.1.20 rport 50000",
		"a=candidate:4 1 udp 16777215 198.51.100.9 40000 typ relay raddr 203.0.113.7 rport 50000",
		"a=remote-candidates:1 192.168.1.30 50000",
		"a=end-of-candidates",
	}, "\r\n") + "\r\n"
	got := filterSDP(in)
	for _, bad := range []string{"192.168.1.20", "203.0.113.7", "typ host", "typ srflx", "remote-candidates"} {
		if strings.Contains(got, bad) {
			t.Errorf("filtered SDP still has %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{
		"o=- 1 2 IN IP4 127.0.0.1\r\n", "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "c=IN IP4 0.0.0.0\r\n",
		"a=rtcp:50001 IN IP4 0.0.0.0\r\n", "typ relay raddr 0.0.0.0 rport 0\r\n", "a=end-of-candidates\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("filtered SDP lacks %q:\n%s", want, got)
		}
	}
	relayFirst := strings.Replace(in, "c=IN IP4 192.168.1.20", "c=IN IP4 198.51.100.9", 1)
	if got := filterSDP(relayFirst); !strings.Contains(got, "c=IN IP4 198.51.100.9\r\n") {
		t.Errorf("a relay candidate's address in c= was replaced:\n%s", got)
	}
}
