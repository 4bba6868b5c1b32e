package plainrtp

import (
	"net/netip"
	"testing"
)

func TestParseRTCPAttributes(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	tests := []struct {
		name string
		sdp  string
		mux  bool
		rtcp string // "" for none
	}{
		{"none", head, false, ""},
		{"mux", head + "a=rtcp-mux\r\n", true, ""},
		{"port", head + "a=rtcp:5001\r\n", false, "127.0.0.9:5001"},
		{"port and address", head + "a=rtcp:5001 IN IP4 127.0.0.10\r\n", false, "127.0.0.10:5001"},
		{"both", head + "a=rtcp:4001\r\na=rtcp-mux\r\n", true, "127.0.0.9:4001"},
		{"unreadable port", head + "a=rtcp:x\r\n", false, ""},
		{"unspecified address", head + "a=rtcp:5001 IN IP4 0.0.0.0\r\n", false, ""},
	}
	for _, tc := range tests {
		r, err := parseSDP([]byte(tc.sdp))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var want netip.AddrPort
		if tc.rtcp != "" {
			want = netip.MustParseAddrPort(tc.rtcp)
		}
		if r.rtcpMux != tc.mux || r.rtcp != want {
			t.Errorf("%s: mux %v rtcp %v, want %v %v", tc.name, r.rtcpMux, r.rtcp, tc.mux, want)
		}
	}
}

func TestBuildSDPWritesRTCPAttributes(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.9:4000")
	b, err := buildSDP(local, nil, sdpRTCP{mux: true, port: 4003}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseSDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.rtcpMux || r.rtcp != netip.MustParseAddrPort("127.0.0.9:4003") {
		t.Fatalf("round trip: %+v\n%s", r, b)
	}
}
