package peer

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

const (
	fp256 = "sha-256 1B:6C:29:E8:55:D1:8E:54:D1:60:15:91:81:8C:F3:F0:12:0D:C0:34:85:80:D9:7E:4A:F7:6B:63:4F:75:AA:D7"
	fp1   = "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB"
	fpMD5 = "md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B"
)

// remoteSDP builds a description from session and media attribute lines.
func remoteSDP(proto string, session, mediaLines []string) []byte {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	for _, l := range session {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("m=audio 4000 " + proto + " 109 0\r\nc=IN IP4 127.0.0.1\r\n")
	for _, l := range mediaLines {
		b.WriteString(l + "\r\n")
	}
	return []byte(b.String())
}

func TestParseSDP(t *testing.T) {
	base := []string{
		"a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=fingerprint:" + fp256, "a=setup:actpass",
		"a=mid:audio", "a=rtcp-mux", "a=rtpmap:109 opus/48000/2", "a=fmtp:109 useinbandfec=1",
		"a=candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host",
	}
	without := func(prefix string) []string {
		var out []string
		for _, l := range base {
			if !strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
		return out
	}
	with := func(prefix, line string) []string { return append(without(prefix), line) }
	tests := []struct {
		name   string
		sdp    []byte
		err    error
		setup  string
		fpHash string
		codecs string
		nCands int
	}{
		{"jsep offer", remoteSDP("UDP/TLS/RTP/SAVPF", nil, base), nil, "actpass", "sha-256", "opus/48000/2:109 PCMU/8000:0", 1},
		{"session-level fingerprint and credentials", remoteSDP("UDP/TLS/RTP/SAVPF",
			[]string{"a=fingerprint:" + fp256, "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901"},
			[]string{"a=setup:active"}), nil, "active", "sha-256", "PCMU/8000:0", 0},
		{"sha-1 is allowed", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=fingerprint", "a=fingerprint:"+fp1)), nil, "actpass", "sha-1", "opus/48000/2:109 PCMU/8000:0", 1},
		{"missing setup means active", remoteSDP("UDP/TLS/RTP/SAVPF", nil, without("a=setup")), nil, "active", "sha-256", "opus/48000/2:109 PCMU/8000:0", 1},
		{"no fingerprint", remoteSDP("UDP/TLS/RTP/SAVPF", nil, without("a=fingerprint")), ErrSDP, "", "", "", 0},
		{"md5 fingerprint", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=fingerprint", "a=fingerprint:"+fpMD5)), ErrWeakFingerprint, "", "", "", 0},
		{"md5 is also ErrSDP", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=fingerprint", "a=fingerprint:"+fpMD5)), ErrSDP, "", "", "", 0},
		{"truncated fingerprint", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=fingerprint", "a=fingerprint:sha-256 1B:6C")), ErrSDP, "", "", "", 0},
		{"plain RTP", remoteSDP("RTP/AVP", nil, base), ErrSDP, "", "", "", 0},
		{"no ufrag", remoteSDP("UDP/TLS/RTP/SAVPF", nil, without("a=ice-ufrag")), ErrSDP, "", "", "", 0},
		{"short ufrag", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=ice-ufrag", "a=ice-ufrag:abc")), ErrSDP, "", "", "", 0},
		{"short pwd", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=ice-pwd", "a=ice-pwd:short")), ErrSDP, "", "", "", 0},
		{"holdconn", remoteSDP("UDP/TLS/RTP/SAVPF", nil, with("a=setup", "a=setup:holdconn")), ErrSDP, "", "", "", 0},
		{"garbage", []byte("not sdp"), ErrSDP, "", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseSDP(tc.sdp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var codecs []string
			for _, c := range r.codecs {
				codecs = append(codecs, c.RTPMap()+":"+strconv.Itoa(int(c.PayloadType)))
			}
			if r.setup != tc.setup || r.fps[0].hash != tc.fpHash || strings.Join(codecs, " ") != tc.codecs || len(r.cands) != tc.nCands {
				t.Fatalf("got setup %s fp %s codecs %v cands %d", r.setup, r.fps[0].hash, codecs, len(r.cands))
			}
		})
	}
}

func TestBuildSDPRoundTrip(t *testing.T) {
	fp, err := parseFingerprint(fp256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildSDP(localDesc{
		sessionID: 7, ufrag: "abcdefgh", pwd: "0123456789012345678901", fp: fp, setup: SetupActpass,
		mid: "0", codecs: []media.Codec{media.Opus, media.PCMU}, ssrc: 42, cname: "cn",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"a=group:BUNDLE 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=rtcp-mux", "a=sendrecv", "a=mid:0",
		"a=setup:actpass", "a=fingerprint:" + fp256, "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000",
		"a=fmtp:111 minptime=10;useinbandfec=1", "a=end-of-candidates", "a=ssrc:42 cname:cn",
	} {
		if !strings.Contains(string(b), want+"\r\n") {
			t.Errorf("SDP lacks %q", want)
		}
	}
	r, err := parseSDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.ufrag != "abcdefgh" || r.setup != SetupActpass || len(r.codecs) != 2 || !r.rtcpMux || r.mid != "0" {
		t.Fatalf("round trip: %+v", r)
	}
}
