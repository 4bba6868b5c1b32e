package room_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
)

func TestInspectMessage(t *testing.T) {
	relay := netip.MustParseAddr("198.51.100.9")
	cleanSDP := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 40000 UDP/TLS/RTP/SAVPF 111\r\n" +
		"c=IN IP4 198.51.100.9\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
		"a=candidate:4 1 udp 16777215 198.51.100.9 40000 typ relay raddr 0.0.0.0 rport 0\r\n"
	cases := []struct {
		name string
		msg  string
		want []string
	}{
		{"clean offer", `{"type":"offer","from":"a","sdp":` + quote(cleanSDP) + `}`, nil},
		{"host candidate", `{"type":"candidate","from":"a","candidate":"candidate:1 1 udp 2130706431 192.168.1.20 50000 typ host"}`,
			[]string{room.LeakHost}},
		{"srflx with raddr", `{"type":"candidate","candidate":"candidate:2 1 udp 1 203.0.113.7 5 typ srflx raddr 192.168.1.20 rport 5"}`,
			[]string{room.LeakSrflx, room.LeakRaddr}},
		{"prflx", `{"type":"candidate","candidate":"candidate:3 1 udp 1 203.0.113.7 5 typ prflx"}`, []string{room.LeakPrflx}},
		{"relay with raddr", `{"type":"candidate","candidate":"candidate:4 1 udp 1 198.51.100.9 5 typ relay raddr 192.168.1.20 rport 5"}`,
			[]string{room.LeakRaddr}},
		{"c= and rtcp and o=", `{"type":"answer","sdp":` + quote("v=0\r\no=- 1 2 IN IP4 192.168.1.20\r\nc=IN IP4 192.168.1.20\r\na=rtcp:5 IN IP4 192.168.1.20\r\n") + `}`,
			[]string{room.LeakConnection, room.LeakRTCP, room.LeakOrigin}},
		{"field with an address", `{"type":"peer-joined","id":"b","meta":{"ip":"192.168.1.20:5000"}}`, []string{room.LeakField}},
		{"field with the relay", `{"type":"peer-joined","id":"b","relay":"198.51.100.9"}`, nil},
		{"candidate by name", `{"type":"candidate","candidate":"candidate:5 1 udp 1 3f1c.local 5 typ host"}`, []string{room.LeakHost}},
	}
	for _, tc := range cases {
		got := room.LeakKindsOf(room.InspectMessage([]byte(tc.msg), relay))
		want := tc.want
		slices.SortFunc(want, func(a, b string) int { return slices.Index(room.LeakKinds, a) - slices.Index(room.LeakKinds, b) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: kinds %v, want %v", tc.name, got, want)
		}
	}
}

func quote(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch r {
		case '\r':
			out = append(out, `\r`...)
		case '\n':
			out = append(out, `\n`...)
		default:
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}
