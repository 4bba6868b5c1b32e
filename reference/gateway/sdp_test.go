package gateway

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// browserOffer is shaped like a browser's audio-only offer (synthetic: the
// fingerprint is not of a real certificate).
var browserOffer = strings.Join([]string{
	"v=0",
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1",
	"s=-",
	"t=0 0",
	"a=group:BUNDLE 0",
	"a=msid-semantic: WMS",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
	"a=ice-ufrag:Ab+/",
	"a=ice-pwd:0123456789abcdefghijkl",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " + strings.Repeat("AB:", 31) + "AB",
	"a=setup:actpass",
	"a=mid:0",
	"a=sendrecv",
	"a=rtcp-mux",
	"a=rtpmap:111 opus/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"a=rtpmap:63 red/48000/2",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:13 CN/8000",
	"a=rtpmap:110 telephone-event/48000",
	"a=rtpmap:126 telephone-event/8000",
	"",
}, "\r\n")

func TestParseWebRTCOffer(t *testing.T) {
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	for _, tc := range []struct {
		name string
		edit func(string) string
		err  error
	}{
		{"browser offer", func(s string) string { return s }, nil},
		{"not sdp", func(string) string { return "hello" }, ErrSDPSyntax},
		{"video only", replace("m=audio", "m=video"), ErrSDPNoAudio},
		{"plain RTP", replace("UDP/TLS/RTP/SAVPF", "RTP/AVP"), ErrSDPNotWebRTC},
		{"no ufrag", replace("a=ice-ufrag:Ab+/\r\n", ""), ErrSDPNoICE},
		{"ufrag too short", replace("a=ice-ufrag:Ab+/", "a=ice-ufrag:Ab+"), ErrSDPNoICE},
		{"pwd too short", replace("a=ice-pwd:0123456789abcdefghijkl", "a=ice-pwd:0123456789abcdefghijk"), ErrSDPNoICE},
		{"pwd bad char", replace("a=ice-pwd:0123456789abcdefghijkl", "a=ice-pwd:0123456789abcdefghijk-"), ErrSDPNoICE},
		{"no fingerprint", replace("a=fingerprint:sha-256", "a=x-fingerprint:sha-256"), ErrSDPFingerprint},
		{"sha-1 only", replace("a=fingerprint:sha-256 "+strings.Repeat("AB:", 31)+"AB", "a=fingerprint:sha-1 "+strings.Repeat("AB:", 19)+"AB"), ErrSDPFingerprint},
		{"short sha-256", replace("a=fingerprint:sha-256 AB:", "a=fingerprint:sha-256 "), ErrSDPFingerprint},
		{"md5 beside sha-256", replace("a=setup:actpass", "a=fingerprint:md5 "+strings.Repeat("AB:", 15)+"AB\r\na=setup:actpass"), ErrSDPFingerprint},
		{"session-level fingerprint", func(s string) string {
			fp := "a=fingerprint:sha-256 " + strings.Repeat("AB:", 31) + "AB\r\n"
			return strings.Replace(strings.Replace(s, fp, "", 1), "a=group:BUNDLE 0\r\n", "a=group:BUNDLE 0\r\n"+fp, 1)
		}, nil},
		{"sdes crypto", replace("a=setup:actpass", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VtY3RsKCkpIHsK\r\na=setup:actpass"), ErrSDPCrypto},
		{"no common codec", replace("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=audio 9 UDP/TLS/RTP/SAVPF 9 13"), ErrSDPNoCodec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offer, err := parseWebRTCOffer([]byte(tc.edit(browserOffer)), false)
			if tc.err != nil {
				var se *sdpError
				if !errors.Is(err, tc.err) || !errors.As(err, &se) {
					t.Fatalf("err = %v, want %v as *sdpError", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, c := range offer.Codecs {
				got = append(got, fmt.Sprintf("%s@%d", c, c.PT))
			}
			want := []string{"opus/48000/2@111", "PCMU/8000@0", "PCMA/8000@8"}
			if !slices.Equal(got, want) {
				t.Fatalf("codecs = %v, want %v", got, want)
			}
			if offer.Codecs[0].Fmtp != "minptime=10;useinbandfec=1" {
				t.Fatalf("opus fmtp = %q", offer.Codecs[0].Fmtp)
			}
			var dtmf []string
			for _, c := range offer.DTMF {
				dtmf = append(dtmf, fmt.Sprintf("%s@%d", c, c.PT))
			}
			if want := []string{"telephone-event/48000@110", "telephone-event/8000@126"}; !slices.Equal(dtmf, want) {
				t.Fatalf("telephone-events = %v, want %v", dtmf, want)
			}
			if !offer.WebRTC || offer.Dir != dirSendRecv {
				t.Fatalf("WebRTC %v, direction %q", offer.WebRTC, offer.Dir)
			}
		})
	}
}

func TestPhoneOffer(t *testing.T) {
	codecs := []codec{
		{Name: "opus", Clock: 48000, Channels: 2, PT: 111, Fmtp: "minptime=10;useinbandfec=1"},
		{Name: "PCMU", Clock: 8000, PT: 0},
	}
	raw := plainSDP(net.IPv4(127, 0, 0, 1), 40000, codecs, dirSendOnly, false, 42, 1)
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		t.Fatalf("phoneOffer does not parse: %v\n%s", err, raw)
	}
	m := sd.MediaDescriptions[0]
	if got := strings.Join(m.MediaName.Protos, "/"); got != "RTP/AVP" || m.MediaName.Port.Value != 40000 {
		t.Errorf("m-line proto %s port %d, want RTP/AVP 40000", got, m.MediaName.Port.Value)
	}
	if !slices.Equal(m.MediaName.Formats, []string{"111", "0"}) {
		t.Errorf("formats %v, want the browser's payload types [111 0]", m.MediaName.Formats)
	}
	if sd.ConnectionInformation == nil || sd.ConnectionInformation.Address.Address != "127.0.0.1" {
		t.Errorf("c= line %v, want 127.0.0.1", sd.ConnectionInformation)
	}
	for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup", "rtcp-fb", "candidate", "rtcp-mux", "crypto"} {
		if hasAttr(&sd, key) {
			t.Errorf("offer to a phone carries a=%s", key)
		}
	}
	if got, want := codecsOf(t, raw), []string{"opus/48000/2", "PCMU/8000"}; !slices.Equal(got, want) {
		t.Errorf("rtpmaps %v, want %v", got, want)
	}
	if got := direction(&sd, m); got != dirSendOnly {
		t.Errorf("direction %q, want sendonly", got)
	}
}

// Weaken sdp-checks lets an MD5-only fingerprint and SDES through.
func TestParseWebRTCOfferLax(t *testing.T) {
	md5 := strings.Replace(browserOffer, "a=fingerprint:sha-256 "+strings.Repeat("AB:", 31)+"AB", "a=fingerprint:md5 "+strings.Repeat("AB:", 15)+"AB", 1)
	crypto := strings.Replace(browserOffer, "a=setup:actpass", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VtY3RsKCkpIHsK\r\na=setup:actpass", 1)
	for name, o := range map[string]string{"md5": md5, "crypto": crypto} {
		if _, err := parseWebRTCOffer([]byte(o), false); err == nil {
			t.Errorf("%s: strict parse accepted it", name)
		}
		if _, err := parseWebRTCOffer([]byte(o), true); err != nil {
			t.Errorf("%s: lax parse: %v", name, err)
		}
	}
}

func TestMirror(t *testing.T) {
	for in, want := range map[string]string{dirSendRecv: dirSendRecv, dirSendOnly: dirRecvOnly, dirRecvOnly: dirSendOnly, dirInactive: dirInactive} {
		if got := mirror(in); got != want {
			t.Errorf("mirror(%s) = %s, want %s", in, got, want)
		}
	}
}

func codecsOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range mediaCodecs(firstAudio(&sd)) {
		out = append(out, c.String())
	}
	return out
}

func TestParsePhoneAnswer(t *testing.T) {
	offered := []codec{
		{Name: "opus", Clock: 48000, Channels: 2, PT: 111},
		{Name: "PCMU", Clock: 8000, PT: 0},
	}
	answer := func(c, m string, attrs ...string) []byte {
		lines := []string{"v=0", "o=phone 1 1 IN IP4 10.0.0.1", "s=-"}
		if c != "" {
			lines = append(lines, c)
		}
		lines = append(append(append(lines, "t=0 0", m), attrs...), "")
		return []byte(strings.Join(lines, "\r\n"))
	}
	for _, tc := range []struct {
		name     string
		body     []byte
		err      error
		addr     string
		phonePT  uint8
		browserP uint8
	}{
		{"static PCMU", answer("c=IN IP4 127.0.0.1", "m=audio 30000 RTP/AVP 0"), nil, "127.0.0.1:30000", 0, 0},
		{"opus on another PT", answer("c=IN IP4 127.0.0.1", "m=audio 30000 RTP/AVP 96", "a=rtpmap:96 OPUS/48000/2"), nil, "127.0.0.1:30000", 96, 111},
		{"first acceptable format wins", answer("c=IN IP4 127.0.0.2", "m=audio 30002 RTP/AVP 18 0 111", "a=rtpmap:18 G729/8000", "a=rtpmap:111 opus/48000/2"), nil, "127.0.0.2:30002", 0, 0},
		{"media-level c=", answer("", "m=audio 30000 RTP/AVP 0", "c=IN IP4 127.0.0.3"), nil, "127.0.0.3:30000", 0, 0},
		{"no c=", answer("", "m=audio 30000 RTP/AVP 0"), ErrSDPNoConnection, "", 0, 0},
		{"host name in c=", answer("c=IN IP4 phone.example", "m=audio 30000 RTP/AVP 0"), ErrSDPNoConnection, "", 0, 0},
		{"audio refused", answer("c=IN IP4 127.0.0.1", "m=audio 0 RTP/AVP 0"), ErrSDPNoConnection, "", 0, 0},
		{"SRTP answer", answer("c=IN IP4 127.0.0.1", "m=audio 30000 RTP/SAVP 0"), ErrSDPNotRTPAVP, "", 0, 0},
		{"codec not offered", answer("c=IN IP4 127.0.0.1", "m=audio 30000 RTP/AVP 8"), ErrSDPNoCodec, "", 0, 0},
		{"garbage", []byte("v=1"), ErrSDPSyntax, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePlainAnswer(tc.body, offered, nil, false)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ours := got.Chosen.inOfferSpace(offered, nil)
			if got.Media.Addr.String() != tc.addr || got.Chosen.Audio.PT != tc.phonePT || ours.Audio.PT != tc.browserP {
				t.Fatalf("got %s phone PT %d browser PT %d, want %s %d %d", got.Media.Addr, got.Chosen.Audio.PT, ours.Audio.PT, tc.addr, tc.phonePT, tc.browserP)
			}
		})
	}
}
