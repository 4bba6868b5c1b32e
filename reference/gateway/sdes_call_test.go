package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// srtpPhone is the keying of a hand-rolled SDES phone: it reads the
// gateway's offer itself and keys pion/srtp contexts directly, so the test
// does not lean on the gateway's own a=crypto code.
type srtpPhone struct {
	mu      sync.Mutex
	offer   string
	tx, rx  *srtp.Context
	keyText string
}

// answer takes tag 1 of the gateway's offer (AES_CM_128_HMAC_SHA1_80, the
// gateway's first), keys decryption with its key and answers RTP/SAVP
// with a key of the phone's own.
func (p *srtpPhone) answer(t *testing.T, offer []byte, port int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offer = string(offer)
	var gwKey []byte
	for _, line := range strings.Split(string(offer), "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"); ok {
			var err error
			if gwKey, err = base64.StdEncoding.DecodeString(v); err != nil {
				t.Errorf("the gateway's key %q: %v", v, err)
			}
		}
	}
	if len(gwKey) != 30 {
		t.Errorf("no 30-byte AES_CM_128_HMAC_SHA1_80 key under tag 1 in the offer:\n%s", offer)
		return ""
	}
	key := make([]byte, 30)
	for i := range key {
		key[i] = byte(7*i + 1)
	}
	var err error
	profile := srtp.ProtectionProfileAes128CmHmacSha1_80
	if p.rx, err = srtp.CreateContext(gwKey[:16], gwKey[16:], profile, srtp.SRTPReplayProtection(64)); err != nil {
		t.Error(err)
	}
	if p.tx, err = srtp.CreateContext(key[:16], key[16:], profile); err != nil {
		t.Error(err)
	}
	p.keyText = base64.StdEncoding.EncodeToString(key)
	return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", port, p.keyText)
}

// seal encrypts pkt with the phone's key (nil, and the test failed, when
// it cannot).
func (p *srtpPhone) seal(t *testing.T, pkt *rtp.Packet) []byte {
	raw, err := pkt.Marshal()
	if err == nil {
		p.mu.Lock()
		raw, err = p.tx.EncryptRTP(nil, raw, nil)
		p.mu.Unlock()
	}
	if err != nil {
		t.Errorf("sealing a phone packet: %v", err)
		return nil
	}
	return raw
}

func (p *srtpPhone) open(sealed []byte) (*rtp.Packet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	plain, err := p.rx.DecryptRTP(nil, sealed, nil)
	if err != nil {
		return nil, err
	}
	var pkt rtp.Packet
	return &pkt, pkt.Unmarshal(plain)
}

// TestSDESCallToPhone calls a hand-rolled SDES phone from a browser through
// a gateway with trunk_srtp: sdes. The offer is RTP/SAVP with a fresh
// a=crypto per configured suite; media flows both ways as SRTP on the
// phone side (no payload in the clear on that socket); a replayed and a
// forged packet from the phone do not reach the browser, whose own replay
// protection is off so that only the gateway's can stop them. Then a phone
// that answers plain RTP/AVP is ACKed and BYEd, and the browser gets 488.
func TestSDESCallToPhone(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ctx := deadline(t, 15*time.Second)
	cfg := DefaultConfig()
	cfg.TrunkSRTP = TrunkSRTPSDES
	gw := startGateway(ctx, t, cfg)

	phone := startPhone(t, "desk2000")
	phone.password = gw.Password(KindSIP)
	if res := phone.register(ctx, gw.UDPAddr(), gw.Domain()); res.StatusCode != 200 {
		t.Fatalf("phone REGISTER: %d", res.StatusCode)
	}
	keys := &srtpPhone{}
	answerSDES := func(offer []byte, port int) string { return keys.answer(t, offer, port) }
	phone.answerFor.Store(&answerSDES)
	close(phone.answer)
	browser := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
	browser.password = gw.Password(KindWebRTC)
	reg := browser.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil)
	if got := browser.transact(ctx, t, reg); got[len(got)-1].StatusCode != 200 {
		t.Fatalf("browser REGISTER: %s", statuses(got))
	}

	peer := newCallingPeer(ctx, t, func(se *webrtc.SettingEngine) { se.DisableSRTPReplayProtection(true) })
	d, got := placeCall(ctx, t, browser, peer)
	gwRTP := receive(ctx, t, phone.media, "the gateway's RTP address")
	keys.mu.Lock()
	offer := keys.offer
	keys.mu.Unlock()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(offer)); err != nil {
		t.Fatal(err)
	}
	audio := firstAudio(&sd)
	lines := cryptoValues(audio)
	if proto := strings.Join(audio.MediaName.Protos, "/"); proto != "RTP/SAVP" || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "1 AES_CM_128_HMAC_SHA1_80 inline:") || !strings.HasPrefix(lines[1], "2 AEAD_AES_128_GCM inline:") {
		t.Fatalf("offer to the phone: %s with a=crypto %q; want RTP/SAVP with the two default suites", proto, lines)
	}
	if strings.Contains(string(got[len(got)-1].Body()), "a=crypto") {
		t.Error("the answer to the browser carries a=crypto")
	}

	const n = 30
	const browserSeq, phoneSeq = 2000, 65520 // the phone's wraps around 65535
	var wg sync.WaitGroup
	wg.Go(func() {
		pace(ctx, n, func(i int) error { return peer.track.WriteRTP(marked(browserSeq, i, "browser")) })
	})
	var sent [][]byte
	var sentMu sync.Mutex
	wg.Go(func() {
		pace(ctx, n, func(i int) error {
			sealed := keys.seal(t, marked(phoneSeq, i, "phone"))
			sentMu.Lock()
			sent = append(sent, sealed)
			sentMu.Unlock()
			_, err := phone.rtp.WriteToUDP(sealed, gwRTP)
			return err
		})
	})
	var atPhone []*rtp.Packet
	wg.Go(func() {
		dl, _ := ctx.Deadline()
		_ = phone.rtp.SetReadDeadline(dl)
		buf := make([]byte, 1500)
		for len(atPhone) < n {
			k, _, err := phone.rtp.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if bytes.Contains(buf[:k], []byte("browser-")) {
				t.Errorf("a packet toward the phone carries the browser's payload in the clear")
			}
			p, err := keys.open(slices.Clone(buf[:k]))
			if err != nil {
				t.Errorf("the phone cannot open the gateway's SRTP: %v", err)
				continue
			}
			atPhone = append(atPhone, p)
		}
	})
	atBrowser := collect(ctx, peer.fromGateway, n)
	wg.Wait()
	checkMarked(t, "browser->phone", atPhone, browserSeq, "browser", n, 0)
	checkMarked(t, "phone->browser", atBrowser, phoneSeq, "phone", n, 0)

	// A replay of the phone's 5th packet and a forgery (its 6th with a
	// flipped tag bit, not seen yet), then a fresh packet: the fresh one
	// is the next thing the browser gets.
	forged := slices.Clone(keys.seal(t, marked(phoneSeq, n, "phone")))
	forged[len(forged)-1] ^= 1
	for _, raw := range [][]byte{sent[4], forged, keys.seal(t, marked(phoneSeq, n+1, "phone"))} {
		if _, err := phone.rtp.WriteToUDP(raw, gwRTP); err != nil {
			t.Fatal(err)
		}
	}
	fresh := uint16((phoneSeq + n + 1) & 0xffff)
	if next := receive(ctx, t, peer.fromGateway, "the fresh packet"); next.SequenceNumber != fresh {
		t.Errorf("after a replay, a forgery and a fresh packet the browser got sequence %d, want only the fresh %d", next.SequenceNumber, fresh)
	}

	bye := browser.request(sip.BYE, d, got[len(got)-1].Contact().Address, nil)
	if res := browser.transact(ctx, t, bye); res[len(res)-1].StatusCode != 200 {
		t.Errorf("BYE: %s", statuses(res))
	}
	receive(ctx, t, phone.byes, "BYE at the phone")
	receive(ctx, t, phone.calls, "the phone's dialog")
	peer.close()

	// A phone answering plain RTP/AVP to the SDES offer.
	answerPlain := func(_ []byte, port int) string {
		return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=sendrecv\r\n", port)
	}
	phone.answerFor.Store(&answerPlain)
	plain := newCallingPeer(ctx, t)
	defer plain.close()
	res := browser.invite(ctx, t, newDialog("desk2000"), browser.aor("desk2000"), []byte(plain.offer))
	if final := res[len(res)-1]; final.StatusCode != 488 || !strings.Contains(final.GetHeader("Warning").Value(), "RTP/SAVP") {
		t.Errorf("INVITE answered plain by the phone: got %s (%v), want 488 with a Warning naming RTP/SAVP", statuses(res), final.GetHeader("Warning"))
	}
	receive(ctx, t, phone.calls, "the phone's dialog (ACKed)")
	receive(ctx, t, phone.byes, "BYE at the phone that answered plain RTP")
	browser.close()
}

func collect(ctx context.Context, ch <-chan *rtp.Packet, n int) []*rtp.Packet {
	var out []*rtp.Packet
	for len(out) < n {
		select {
		case p := <-ch:
			out = append(out, p)
		case <-ctx.Done():
			return out
		}
	}
	return out
}
