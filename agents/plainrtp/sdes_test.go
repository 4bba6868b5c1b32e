package plainrtp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// tap is a leg's socket that keeps a copy of every datagram the leg sends.
type tap struct {
	net.PacketConn
	mu   sync.Mutex
	sent [][]byte
	to   net.Addr
}

func (t *tap) WriteTo(p []byte, addr net.Addr) (int, error) {
	t.mu.Lock()
	t.sent, t.to = append(t.sent, bytes.Clone(p)), addr
	t.mu.Unlock()
	return t.PacketConn.WriteTo(p, addr)
}

func (t *tap) dest() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.to
}

func (t *tap) datagrams() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.sent...)
}

func newTappedLeg(t *testing.T, cfg plainrtp.Config) (*plainrtp.Leg, *tap) {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := n.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{PacketConn: conn}
	cfg.Conn, cfg.AllowRemote = tp, n.Guard().Allow
	l, err := plainrtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l, tp
}

// markMagic is how every payload the senders make begins ("GNTL").
var markMagic = []byte("GNTL")

// TestTwoLegsTalkSDES runs SDES-SRTP (and SRTCP, rtcp-mux) between two legs
// on loopback: the answerer takes the offerer's first suite it speaks,
// audio arrives exactly as sent, and no datagram on the wire carries a
// payload in the clear. Then a replayed packet and a forged tag are
// dropped, and a re-key from the far end takes effect.
func TestTwoLegsTalkSDES(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, tapA := newTappedLeg(t, plainrtp.Config{SDES: []string{"AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_80"}, RTCPMux: true, RTCPInterval: 20 * time.Millisecond})
	b, tapB := newTappedLeg(t, plainrtp.Config{SDES: []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"}, RTCPMux: true, RTCPInterval: 20 * time.Millisecond})
	offer, err := a.Offer(ctx, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" RTP/SAVP 0", "a=crypto:1 AEAD_AES_128_GCM inline:", "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"} {
		if !strings.Contains(string(offer), want) {
			t.Fatalf("offer lacks %q:\n%s", want, offer)
		}
	}
	answer, codec, err := b.Answer(ctx, offer, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(answer), "a=crypto:"); got != 1 || !strings.Contains(string(answer), "a=crypto:1 AEAD_AES_128_GCM inline:") || !strings.Contains(string(answer), " RTP/SAVP ") {
		t.Fatalf("answer should be RTP/SAVP with one a=crypto under tag 1 (the offerer's first choice), got %d lines:\n%s", got, answer)
	}
	if _, err := a.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*plainrtp.Leg{a, b} {
		if got := l.SRTP(); got != "SDES AEAD_AES_128_GCM" {
			t.Fatalf("SRTP() = %q", got)
		}
		if got := l.Report().Security.TrunkSRTP; got != "SDES AEAD_AES_128_GCM" {
			t.Fatalf("Report().Security.TrunkSRTP = %q", got)
		}
	}

	const n = 20
	_, sb := exchangeMarked(ctx, t, a, b, codec, codec, n)
	eventually(t, 3*time.Second, "SRTCP reports both ways", func() bool {
		ra, rb := a.Report(), b.Report()
		return ra.RTCPReceived > 0 && rb.RTCPReceived > 0 && ra.RTCP.Reports > 0 && rb.RTCP.Reports > 0
	})

	var rtpSent [][]byte
	for _, tp := range []*tap{tapA, tapB} {
		for _, d := range tp.datagrams() {
			if bytes.Contains(d, markMagic) {
				t.Fatalf("a datagram carries a payload mark in the clear: %x", d)
			}
			if len(d) > 12 && d[1]&0x7f == 0 && tp == tapA {
				rtpSent = append(rtpSent, d)
			}
		}
	}
	if len(rtpSent) != n {
		t.Fatalf("a sent %d SRTP datagrams of PT 0, want %d", len(rtpSent), n)
	}

	// A replay of a's 5th packet, and a forgery (its 6th moved 100
	// sequence numbers ahead, which its tag does not cover), sent
	// from a's socket: b drops both, and counts each where it belongs.
	before := b.Report()
	forged := bytes.Clone(rtpSent[5])
	binary.BigEndian.PutUint16(forged[2:], binary.BigEndian.Uint16(forged[2:])+100)
	for _, d := range [][]byte{rtpSent[4], forged} {
		if _, err := tapA.PacketConn.WriteTo(d, tapA.dest()); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "b drops the replay and the forgery", func() bool {
		r := b.Report()
		return r.Rejected == before.Rejected+1 && r.AuthFailed == before.AuthFailed+1
	})
	if r := b.Report(); r.RTPReceived != before.RTPReceived {
		t.Fatalf("b handed on %d more packets", r.RTPReceived-before.RTPReceived)
	}

	// b "re-keys" in a re-offer: a takes the new key, so what b still
	// sends under the old one fails authentication at a.
	reoffer := replaceKey(t, answer)
	local, err := a.Update(reoffer, offer)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(local), "a=crypto:"); got != 1 || !strings.Contains(string(local), "a=crypto:1 AEAD_AES_128_GCM inline:") {
		t.Fatalf("Update should leave our SDP with the negotiated a=crypto only, got %d:\n%s", got, local)
	}
	failed := a.Report().AuthFailed
	if err := sb.SendAt(time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "a refuses the old key after the re-key", func() bool { return a.Report().AuthFailed == failed+1 })
	if _, err := a.Update([]byte(strings.Replace(string(reoffer), "RTP/SAVP", "RTP/AVP", 1)), offer); !errors.Is(err, plainrtp.ErrSDP) {
		t.Fatalf("Update with plain RTP/AVP: %v, want ErrSDP", err)
	}
	held := regexp.MustCompile(`c=IN IP4 [0-9.]+`).ReplaceAll(reoffer, []byte("c=IN IP4 0.0.0.0"))
	if _, err := a.Update(held, offer); err != nil {
		t.Fatalf("Update with a c=0.0.0.0 hold: %v", err)
	}
}

// replaceKey returns sdp with its a=crypto key replaced by another of the
// same length.
func replaceKey(t *testing.T, sdp []byte) []byte {
	t.Helper()
	_, rest, ok := strings.Cut(string(sdp), "inline:")
	if !ok {
		t.Fatal("no inline key")
	}
	key, _, _ := strings.Cut(rest, "\r\n")
	other := []byte(key)
	other[0] = 'A'
	if key[0] == 'A' {
		other[0] = 'B'
	}
	return []byte(strings.Replace(string(sdp), key, string(other), 1))
}

func TestSDESRefusals(t *testing.T) {
	ctx := context.Background()
	sdes := plainrtp.Config{SDES: []string{"AES_CM_128_HMAC_SHA1_80"}}
	t.Run("a plain answer to an SDES offer", func(t *testing.T) {
		a, _ := newTappedLeg(t, sdes)
		b := newLeg(t)
		if _, err := a.Offer(ctx, []media.Codec{media.PCMU}); err != nil {
			t.Fatal(err)
		}
		plainOffer, err := b.Offer(ctx, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.SetAnswer(plainOffer); !errors.Is(err, plainrtp.ErrSDP) || !strings.Contains(err.Error(), "plain RTP/AVP answer") {
			t.Fatalf("got %v, want ErrSDP naming the plain answer", err)
		}
	})
	t.Run("an SDES offer to a plain leg", func(t *testing.T) {
		a, _ := newTappedLeg(t, sdes)
		offer, err := a.Offer(ctx, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := newLeg(t).Answer(ctx, offer, []media.Codec{media.PCMU}); !errors.Is(err, plainrtp.ErrSDP) || !strings.Contains(err.Error(), "Config.SDES is empty") {
			t.Fatalf("got %v, want ErrSDP naming Config.SDES", err)
		}
	})
	t.Run("a plain offer to an SDES leg", func(t *testing.T) {
		offer, err := newLeg(t).Offer(ctx, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := newTappedLeg(t, sdes)
		if _, _, err := a.Answer(ctx, offer, []media.Codec{media.PCMU}); !errors.Is(err, plainrtp.ErrSDP) {
			t.Fatalf("got %v, want ErrSDP", err)
		}
	})
	t.Run("an SDES offer with no suite in common", func(t *testing.T) {
		a, _ := newTappedLeg(t, plainrtp.Config{SDES: []string{"AEAD_AES_256_GCM"}})
		offer, err := a.Offer(ctx, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := newTappedLeg(t, sdes)
		if _, _, err := b.Answer(ctx, offer, []media.Codec{media.PCMU}); !errors.Is(err, plainrtp.ErrSDP) {
			t.Fatalf("got %v, want ErrSDP", err)
		}
	})
	t.Run("an unknown suite in the config", func(t *testing.T) {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := plainrtp.New(plainrtp.Config{Conn: conn, SDES: []string{"AES_CM_128_HMAC_SHA1_81"}}); !errors.Is(err, plainrtp.ErrConfig) {
			t.Fatalf("got %v, want ErrConfig", err)
		}
	})
	t.Run("a plain leg reports none", func(t *testing.T) {
		a, b := newLeg(t), newLeg(t)
		offer, err := a.Offer(ctx, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Answer(ctx, offer, []media.Codec{media.PCMU}); err != nil {
			t.Fatal(err)
		}
		if b.SRTP() != "" || b.Report().Security.TrunkSRTP != "none" || a.Report().Security.TrunkSRTP != "" {
			t.Fatalf("SRTP() %q, answerer %q, offerer before the answer %q", b.SRTP(), b.Report().Security.TrunkSRTP, a.Report().Security.TrunkSRTP)
		}
		local := []byte("v=0\r\n")
		if got, err := b.Update(offer, local); err != nil || !bytes.Equal(got, local) {
			t.Fatalf("Update on a plain leg: %q, %v", got, err)
		}
	})
}
