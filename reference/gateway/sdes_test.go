package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

func b64(n int, padded bool) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(3 * i)
	}
	if padded {
		return base64.StdEncoding.EncodeToString(b)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

func TestParseCryptoAttr(t *testing.T) {
	k30 := b64(30, true)
	for _, tc := range []struct {
		name, value string
		ok          bool
		tag         uint32
		suite       string
		mki         []byte
	}{
		{"AES-CM 80", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, true, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"AES-CM 32", "2 AES_CM_128_HMAC_SHA1_32 inline:" + k30, true, 2, "AES_CM_128_HMAC_SHA1_32", nil},
		{"GCM 128 (RFC 7714)", "3 AEAD_AES_128_GCM inline:" + b64(28, true), true, 3, "AEAD_AES_128_GCM", nil},
		{"GCM 128 without padding", "3 AEAD_AES_128_GCM inline:" + b64(28, false), true, 3, "AEAD_AES_128_GCM", nil},
		{"GCM 256", "4 AEAD_AES_256_GCM inline:" + b64(44, true), true, 4, "AEAD_AES_256_GCM", nil},
		{"lifetime and MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^20|1:4", true, 1, "AES_CM_128_HMAC_SHA1_80", []byte{0, 0, 0, 1}},
		{"window size hint", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " WSH=64", true, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"suite in lower case", "1 aes_cm_128_hmac_sha1_80 inline:" + k30, true, 1, "AES_CM_128_HMAC_SHA1_80", nil},

		{"missing key", "1 AES_CM_128_HMAC_SHA1_80", false, 0, "", nil},
		{"tag of ten digits", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + k30, false, 0, "", nil},
		{"negative tag", "-1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, false, 0, "", nil},
		{"unknown suite", "1 F8_128_HMAC_SHA1_80 inline:" + k30, false, 0, "", nil},
		{"AES-256-CM is not configured here", "1 AES_256_CM_HMAC_SHA1_80 inline:" + b64(46, true), false, 0, "", nil},
		{"no inline", "1 AES_CM_128_HMAC_SHA1_80 " + k30, false, 0, "", nil},
		{"malformed inline key", "1 AES_CM_128_HMAC_SHA1_80 inline:@@not-base64@@", false, 0, "", nil},
		{"empty inline key", "1 AES_CM_128_HMAC_SHA1_80 inline:", false, 0, "", nil},
		{"key one byte short", "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(29, true), false, 0, "", nil},
		{"GCM key where AES-CM wants 30 bytes", "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(28, true), false, 0, "", nil},
		{"AES-CM key where GCM 256 wants 44 bytes", "1 AEAD_AES_256_GCM inline:" + k30, false, 0, "", nil},
		{"bad lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^", false, 0, "", nil},
		{"MKI first", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:4|2^20", false, 0, "", nil},
		{"MKI overflowing its length", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|300:1", false, 0, "", nil},
		{"two keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:1;inline:" + k30 + "|2:1", false, 0, "", nil},
		{"unencrypted SRTP", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " UNENCRYPTED_SRTP", false, 0, "", nil},
		{"key derivation rate", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " KDR=1", false, 0, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseCryptoAttr(tc.value)
			if !tc.ok {
				if !errors.Is(err, ErrSDPNoCrypto) {
					t.Fatalf("got %v, %v; want ErrSDPNoCrypto", a, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Tag != tc.tag || a.Suite.name != tc.suite || !bytes.Equal(a.MKI, tc.mki) {
				t.Fatalf("got tag %d suite %s MKI %v", a.Tag, a.Suite.name, a.MKI)
			}
		})
	}
}

func TestCryptoAttrRendersAndReadsBack(t *testing.T) {
	for _, s := range sdesSuites {
		a, err := newCryptoAttr(9, s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseCryptoAttr(a.String())
		if err != nil || !back.sameKey(a) || back.Tag != 9 {
			t.Fatalf("%s: %q read back as %v, %v", s.name, a, back, err)
		}
	}
}

func TestMatchCrypto(t *testing.T) {
	k := newSDESKeys([]sdesSuite{sdesSuites[0], sdesSuites[2]}, true)
	offered, err := k.offer()
	if err != nil {
		t.Fatal(err)
	}
	if len(offered) != 2 || offered[0].Tag != 1 || offered[1].Tag != 2 || bytes.Equal(offered[0].Key[:16], offered[1].Key[:16]) {
		t.Fatalf("offered %v", offered)
	}
	k30, k28 := b64(30, true), b64(28, true)
	for _, tc := range []struct {
		name  string
		lines []string
		tag   uint32 // 0: refused
	}{
		{"first", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, 1},
		{"second", []string{"2 AEAD_AES_128_GCM inline:" + k28}, 2},
		{"tag mismatch", []string{"7 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, 0},
		{"suite mismatch", []string{"1 AEAD_AES_128_GCM inline:" + k28}, 0},
		{"two lines", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, "2 AEAD_AES_128_GCM inline:" + k28}, 0},
		{"none", nil, 0},
		{"malformed key", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k28}, 0},
	} {
		ours, theirs, err := matchCrypto(tc.lines, offered)
		switch {
		case tc.tag == 0 && !errors.Is(err, ErrSDPNoCrypto):
			t.Errorf("%s: %v, want ErrSDPNoCrypto", tc.name, err)
		case tc.tag != 0 && (err != nil || ours.Tag != tc.tag || theirs.Tag != tc.tag || !ours.sameKey(offered[tc.tag-1])):
			t.Errorf("%s: ours %d theirs %d, %v", tc.name, ours.Tag, theirs.Tag, err)
		}
	}
}

func TestPickCrypto(t *testing.T) {
	cm80, gcm := sdesSuites[0], sdesSuites[2]
	lines := []string{"5 AEAD_AES_128_GCM inline:" + b64(28, true), "6 AES_CM_128_HMAC_SHA1_80 inline:" + b64(30, true)}
	for _, tc := range []struct {
		name   string
		lines  []string
		suites []sdesSuite
		prefer string
		tag    uint32
	}{
		{"the offerer's order, not the gateway's", lines, []sdesSuite{cm80, gcm}, "", 5},
		{"an unconfigured suite is skipped", lines, []sdesSuite{cm80}, "", 6},
		{"a re-offer keeps the negotiated suite", lines, []sdesSuite{cm80, gcm}, cm80.name, 6},
		{"a malformed line is skipped", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64(29, true), lines[1]}, []sdesSuite{cm80}, "", 6},
		{"nothing configured", lines, []sdesSuite{sdesSuites[3]}, "", 0},
		{"no a=crypto", nil, []sdesSuite{cm80}, "", 0},
	} {
		a, err := pickCrypto(tc.lines, tc.suites, tc.prefer)
		switch {
		case tc.tag == 0 && !errors.Is(err, ErrSDPNoCrypto):
			t.Errorf("%s: %v, want ErrSDPNoCrypto", tc.name, err)
		case tc.tag != 0 && (err != nil || a.Tag != tc.tag):
			t.Errorf("%s: tag %d, %v; want %d", tc.name, a.Tag, err, tc.tag)
		}
	}
}

func TestPhoneOfferSDES(t *testing.T) {
	ours := []sdesSuite{sdesSuites[0], sdesSuites[2]}
	offer := func(proto string, attrs ...string) []byte {
		lines := append([]string{"v=0", "o=phone 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 30000 " + proto + " 0"}, attrs...)
		return []byte(strings.Join(append(lines, ""), "\r\n"))
	}
	k30 := b64(30, true)
	for _, tc := range []struct {
		name   string
		body   []byte
		suites []sdesSuite
		err    error
		tag    uint32
	}{
		{"SDES offer", offer("RTP/SAVP", "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"+k30), ours, nil, 3},
		{"plain offer, plain gateway", offer("RTP/AVP"), nil, nil, 0},
		{"plain offer, SDES required", offer("RTP/AVP"), ours, ErrSDPNotSAVP, 0},
		{"SAVP offer, plain gateway (today's 488)", offer("RTP/SAVP", "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"+k30), nil, ErrSDPNotRTPAVP, 0},
		{"SAVP offer without a=crypto", offer("RTP/SAVP"), ours, ErrSDPNoCrypto, 0},
		{"SAVP offer with an unknown suite only", offer("RTP/SAVP", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:"+k30), ours, ErrSDPNoCrypto, 0},
		{"SAVP offer with a short key only", offer("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+b64(16, true)), ours, ErrSDPNoCrypto, 0},
		{"DTLS-SRTP from a phone", offer("UDP/TLS/RTP/SAVPF"), ours, ErrSDPNotSAVP, 0},
	} {
		o, err := parsePlainOffer(tc.body, tc.suites)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		case tc.err == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == nil && tc.tag == 0 && o.SDES != nil:
			t.Errorf("%s: SDES %v on a plain offer", tc.name, o.SDES)
		case tc.err == nil && tc.tag != 0 && (o.SDES == nil || o.SDES.Tag != tc.tag):
			t.Errorf("%s: SDES %v, want tag %d", tc.name, o.SDES, tc.tag)
		}
	}
}

func TestPlainSDPWithCrypto(t *testing.T) {
	k := newSDESKeys([]sdesSuite{sdesSuites[0], sdesSuites[3]}, true)
	offered, err := k.offer()
	if err != nil {
		t.Fatal(err)
	}
	raw := plainSDP(net.IPv4(127, 0, 0, 1), 40000, []codec{{Name: "PCMU", Clock: 8000}}, dirSendRecv, false, 1, 1, offered...)
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	m := firstAudio(&sd)
	if got := strings.Join(m.MediaName.Protos, "/"); got != "RTP/SAVP" {
		t.Fatalf("proto %s, want RTP/SAVP", got)
	}
	got := cryptoValues(m)
	if len(got) != 2 || !strings.HasPrefix(got[0], "1 AES_CM_128_HMAC_SHA1_80 inline:") || !strings.HasPrefix(got[1], "2 AEAD_AES_256_GCM inline:") {
		t.Fatalf("a=crypto %q", got)
	}
	for i, v := range got {
		a, err := parseCryptoAttr(v)
		if err != nil || !a.sameKey(offered[i]) {
			t.Fatalf("line %d does not read back: %v", i, err)
		}
	}
	if _, _, _, _, err := readPlain(raw, false, true); err != nil {
		t.Fatalf("readPlain(savp): %v", err)
	}
	if _, _, _, _, err := readPlain(raw, false, false); !errors.Is(err, ErrSDPNotRTPAVP) {
		t.Fatalf("readPlain(avp): %v, want ErrSDPNotRTPAVP", err)
	}
}

// The gateway's keys against a phone's: what one seals the other opens; a
// replay is refused unless replay protection is weakened; a phone's new
// key in a re-offer re-keys the inbound side, its old key then fails; the
// gateway keeps its own key and takes the phone's tag.
func TestSDESKeys(t *testing.T) {
	for _, replay := range []bool{true, false} {
		gw := newSDESKeys([]sdesSuite{sdesSuites[0]}, replay)
		phoneKey, err := newCryptoAttr(4, sdesSuites[0])
		if err != nil {
			t.Fatal(err)
		}
		ours, err := gw.answer(phoneKey)
		if err != nil {
			t.Fatal(err)
		}
		if ours.Tag != 4 || ours.sameKey(phoneKey) || gw.suite() != "AES_CM_128_HMAC_SHA1_80" {
			t.Fatalf("answer %v (suite %q): want tag 4 and a key of the gateway's own", ours, gw.suite())
		}
		phone := newSDESKeys([]sdesSuite{sdesSuites[0]}, true)
		phone.offered = []cryptoAttr{phoneKey}
		if err := phone.answered([]string{ours.String()}); err != nil {
			t.Fatal(err)
		}
		pkt := func(seq uint16) []byte {
			raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 7}, Payload: []byte("hello")}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := phone.seal(raw)
			if err != nil {
				t.Fatal(err)
			}
			return sealed
		}
		first := pkt(10)
		if plain, err := gw.open(nil, first); err != nil || !bytes.HasSuffix(plain, []byte("hello")) {
			t.Fatalf("open: %q, %v", plain, err)
		}
		if _, err := gw.open(nil, first); (err == nil) == replay {
			t.Fatalf("replay protection %v: a replay opened with err %v", replay, err)
		}
		forged := slices.Clone(pkt(11))
		forged[len(forged)-1] ^= 1
		if _, err := gw.open(nil, forged); err == nil {
			t.Fatal("a forged tag opened")
		}
		sealed, err := gw.seal(first[:len(first)-10])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := phone.open(nil, sealed); err != nil {
			t.Fatalf("the phone cannot open the gateway's SRTP: %v", err)
		}

		same, err := gw.answer(phoneKey)
		if err != nil || !same.sameKey(ours) {
			t.Fatalf("a re-offer with the same key changed the gateway's: %v", err)
		}
		if _, err := gw.open(nil, first); (err == nil) == replay {
			t.Fatal("the same key in a re-offer reset the replay window")
		}
		newKey, _ := newCryptoAttr(8, sdesSuites[0])
		again, err := gw.answer(newKey)
		if err != nil || !again.sameKey(ours) || again.Tag != 8 {
			t.Fatalf("re-key: %v, %v; want the gateway's key under tag 8", again, err)
		}
		if _, err := gw.open(nil, pkt(12)); err == nil {
			t.Fatal("the phone's old key still opens after the re-key")
		}
		if got := gw.current(); got.Tag != 8 || !got.sameKey(ours) {
			t.Fatalf("current %v", got)
		}
	}
}
