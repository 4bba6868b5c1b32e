package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startGateway(ctx context.Context, t *testing.T, cfg Config) *Gateway {
	t.Helper()
	cfg.Logger = testLogger(t)
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

// TestGatewayCall runs real calls on loopback, with no mocks: a browser
// (gobwas/ws + sipgo's sip package + pion) calls a desk phone (a sipgo UA
// over UDP with plain RTP) through the gateway. The first call carries media
// and ends with the browser's BYE, the second ends with the phone's, the
// third is still up when the gateway closes.
func TestGatewayCall(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ctx := deadline(t, 10*time.Second)
	cfg := DefaultConfig()
	// The browser offers SRTP_AES128_CM_HMAC_SHA1_80 first and
	// SRTP_AEAD_AES_128_GCM second; the gateway prefers the second.
	cfg.SRTPProfiles = []string{"SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_HMAC_SHA1_80"}
	cfg.Weaken = []string{WeakenRateLimit} // many calls from one user in a few seconds
	gw := startGateway(ctx, t, cfg)
	domain := gw.Domain()

	phone := startPhone(t, "desk2000")
	phone.password = gw.Password(KindSIP)
	if res := phone.register(ctx, gw.UDPAddr(), domain); res.StatusCode != 200 || res.Contact() == nil {
		t.Fatalf("phone REGISTER over UDP: got %d %s, want 200 with a Contact", res.StatusCode, res.Reason)
	}
	browser := dialBrowser(ctx, t, gw.WSURL(), "web1000", domain)
	browser.password = gw.Password(KindWebRTC)
	reg := browser.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: domain}, nil)
	if got := browser.transact(ctx, t, reg); got[len(got)-1].StatusCode != 200 {
		t.Fatalf("browser REGISTER over WS: got %s, want 200", statuses(got))
	}

	t.Run("register refusals", func(t *testing.T) {
		registrar := sip.Uri{Scheme: "sip", Host: domain}
		brief := browser.request(sip.REGISTER, newDialog("web1000"), registrar, nil)
		brief.AppendHeader(sip.NewHeader("Expires", "10"))
		for _, tc := range []struct {
			name string
			req  *sip.Request
			want int
		}{
			{"unknown user (challenged as any user; web1000's credentials then name another user)", browser.request(sip.REGISTER, newDialog("nobody"), registrar, nil), 403},
			{"third party", browser.request(sip.REGISTER, newDialog("web1001"), registrar, nil), 403},
			{"too brief", brief, 423},
		} {
			got := browser.transact(ctx, t, tc.req)
			final := got[len(got)-1]
			if final.StatusCode != tc.want {
				t.Errorf("%s: got %s, want %d", tc.name, statuses(got), tc.want)
			}
			if tc.want == 423 && final.GetHeader("Min-Expires") == nil {
				t.Errorf("%s: 423 without Min-Expires", tc.name)
			}
		}
	})

	first := newCallingPeer(ctx, t)
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, callee, offer string
			want                int
		}{
			{"unknown callee", "nobody", first.offer, 404},
			{"callee not registered", "desk2001", first.offer, 480},
			{"offer without fingerprint", "desk2000", dropLines(first.offer, "a=fingerprint:"), 488},
		} {
			got := browser.invite(ctx, t, newDialog(tc.callee), browser.aor(tc.callee), []byte(tc.offer))
			if final := got[len(got)-1]; final.StatusCode != tc.want {
				t.Errorf("%s: got %s, want %d", tc.name, statuses(got), tc.want)
			}
		}
		select {
		case o := <-phone.offers:
			t.Errorf("the phone was called for a refused INVITE:\n%s", o)
		default:
		}
	})

	// The phone rings until the browser has seen the 180: sipgo handles each
	// message in a goroutine of its own, so a 180 and a 200 sent back to back
	// may be processed in either order.
	d, got := placeCall(ctx, t, browser, first, func(r *sip.Response) {
		if r.StatusCode == 180 {
			close(phone.answer)
		}
	})
	if !slices.ContainsFunc(got, func(r *sip.Response) bool { return r.StatusCode == 180 }) {
		t.Errorf("INVITE: got %s, want a 180 relayed before the 200", statuses(got))
	}
	final := got[len(got)-1]
	if formats := answerFormats(t, final.Body()); !slices.Equal(formats, []string{"0"}) {
		t.Errorf("answer offers formats %v, want only the phone's choice [0] (PCMU)", formats)
	}
	if seen, suite, profile := first.obs.hello(); !seen || profile != dtls.SRTP_AEAD_AES_128_GCM {
		t.Errorf("ServerHello seen=%v suite=%#04x use_srtp=%#04x, want SRTP_AEAD_AES_128_GCM (%#04x), the gateway's preference",
			seen, suite, uint16(profile), uint16(dtls.SRTP_AEAD_AES_128_GCM))
	}
	gwRTP := receive(ctx, t, phone.media, "the gateway's RTP address")
	exchangeMedia(ctx, t, first.track, first.fromGateway, phone.rtp, gwRTP)

	bye := browser.request(sip.BYE, d, final.Contact().Address, nil)
	if got := browser.transact(ctx, t, bye); got[len(got)-1].StatusCode != 200 {
		t.Errorf("browser BYE: got %s, want 200", statuses(got))
	}
	receive(ctx, t, phone.byes, "BYE at the phone after the browser's BYE")
	receive(ctx, t, phone.calls, "the phone's dialog of the first call") // ended already
	first.close()

	second := newCallingPeer(ctx, t)
	placeCall(ctx, t, browser, second)
	phoneSide := receive(ctx, t, phone.calls, "the phone's dialog")
	if err := phoneSide.Bye(ctx); err != nil {
		t.Errorf("phone BYE: %v", err)
	}
	receive(ctx, t, browser.byes, "BYE at the browser after the phone's BYE")
	second.close()

	t.Run("cancel while ringing", func(t *testing.T) {
		phone.never.Store(true)
		defer phone.never.Store(false)
		cancelWhileRinging(ctx, t, browser, second.offer)
		receive(ctx, t, phone.gaveUp, "CANCEL at the phone")
	})

	t.Run("phone busy", func(t *testing.T) {
		phone.reject.Store(486)
		defer phone.reject.Store(0)
		got := browser.invite(ctx, t, newDialog("desk2000"), browser.aor("desk2000"), []byte(second.offer))
		if final := got[len(got)-1]; final.StatusCode != 486 {
			t.Errorf("INVITE: got %s, want the phone's 486 relayed", statuses(got))
		}
	})

	t.Run("fingerprint mismatch tears the call down", func(t *testing.T) {
		// The offer's fingerprint is not the browser's certificate: the
		// gateway's DTLS handshake fails and it BYEs both legs.
		liar := newCallingPeer(ctx, t)
		defer liar.close()
		d := newDialog("desk2000")
		got := browser.invite(ctx, t, d, browser.aor("desk2000"), []byte(otherFingerprint(t, liar.offer)))
		final := got[len(got)-1]
		if final.StatusCode != 200 {
			t.Fatalf("INVITE: got %s, want 200", statuses(got))
		}
		if err := liar.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(final.Body())}); err != nil {
			t.Fatal(err)
		}
		receive(ctx, t, browser.byes, "BYE at the browser after DTLS failed")
		receive(ctx, t, phone.byes, "BYE at the phone after DTLS failed")
		receive(ctx, t, phone.calls, "the phone's dialog of the torn-down call")
	})

	third := newCallingPeer(ctx, t)
	placeCall(ctx, t, browser, third)
	if err := gw.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	receive(ctx, t, phone.byes, "BYE at the phone when the gateway closes")
	receive(ctx, t, browser.byes, "BYE at the browser when the gateway closes")
	third.close()
	browser.close()
	phone.close()
}

// exchangeMedia sends marked packets both ways at once and checks that each
// arrives with its sequence number, timestamp, marker and payload unchanged.
func exchangeMedia(ctx context.Context, t *testing.T, track *webrtc.TrackLocalStaticRTP, fromGateway <-chan *rtp.Packet, phoneRTP *net.UDPConn, gwRTP *net.UDPAddr) {
	t.Helper()
	const n = 50
	const browserSeq, phoneSeq = 1000, 60000 // the phone's wraps around 65535
	var wg sync.WaitGroup
	wg.Go(func() {
		pace(ctx, n, func(i int) error { return track.WriteRTP(marked(browserSeq, i, "browser")) })
	})
	wg.Go(func() {
		pace(ctx, n, func(i int) error {
			raw, err := marked(phoneSeq, i, "phone").Marshal()
			if err != nil {
				return err
			}
			_, err = phoneRTP.WriteToUDP(raw, gwRTP)
			return err
		})
	})
	atPhone := make(chan *rtp.Packet, n)
	wg.Go(func() {
		dl, _ := ctx.Deadline()
		_ = phoneRTP.SetReadDeadline(dl)
		buf := make([]byte, 1500)
		for range n {
			k, _, err := phoneRTP.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(slices.Clone(buf[:k])) == nil {
				atPhone <- &p
			}
		}
	})
	var atBrowser []*rtp.Packet
collect:
	for range n {
		select {
		case p := <-fromGateway:
			atBrowser = append(atBrowser, p)
		case <-ctx.Done():
			break collect
		}
	}
	wg.Wait()
	close(atPhone)
	var phoneGot []*rtp.Packet
	for p := range atPhone {
		phoneGot = append(phoneGot, p)
	}
	checkMarked(t, "browser->phone", phoneGot, browserSeq, "browser", n, 0)
	checkMarked(t, "phone->browser", atBrowser, phoneSeq, "phone", n, 0)
}

func pace(ctx context.Context, n int, send func(i int) error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		if err := send(i); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func marked(seq0, i int, who string) *rtp.Packet {
	return &rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: 0, SequenceNumber: uint16(seq0 + i),
			Timestamp: uint32(160 * i), SSRC: 0x1234, Marker: i == 0,
		},
		Payload: markPayload(who, i),
	}
}

func markPayload(who string, i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s-%03d|", who, i)), 16)[:160]
}

func checkMarked(t *testing.T, dir string, got []*rtp.Packet, seq0 int, who string, n int, pt uint8) {
	t.Helper()
	seen := map[uint16]bool{}
	for _, p := range got {
		i := int(p.SequenceNumber-uint16(seq0)) & 0xffff
		switch {
		case i >= n:
			t.Errorf("%s: unexpected sequence number %d", dir, p.SequenceNumber)
		case seen[p.SequenceNumber]:
			t.Errorf("%s: sequence number %d twice", dir, p.SequenceNumber)
		case !bytes.Equal(p.Payload, markPayload(who, i)):
			t.Errorf("%s: packet %d payload changed: %q", dir, p.SequenceNumber, p.Payload)
		case p.Timestamp != uint32(160*i) || p.Marker != (i == 0) || p.PayloadType != pt:
			t.Errorf("%s: packet %d header changed: ts=%d marker=%v pt=%d", dir, p.SequenceNumber, p.Timestamp, p.Marker, p.PayloadType)
		}
		seen[p.SequenceNumber] = true
	}
	if len(seen) != n {
		var missing []uint16
		for i := range n {
			if !seen[uint16(seq0+i)] {
				missing = append(missing, uint16(seq0+i))
			}
		}
		t.Errorf("%s: %d of %d packets arrived; missing %v", dir, len(seen), n, missing)
	}
}

func answerFormats(t *testing.T, body []byte) []string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		t.Fatalf("answer SDP: %v", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		t.Fatal("answer has no m-line")
	}
	return sd.MediaDescriptions[0].MediaName.Formats
}

func dropLines(sdpText, prefix string) string {
	var keep []string
	for _, l := range strings.Split(sdpText, "\r\n") {
		if !strings.HasPrefix(l, prefix) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\r\n")
}

// With DTLSRole "client" the gateway answers a=setup:active, the browser is
// the DTLS server, and the browser's SRTP profile preference wins.
func TestGatewayDTLSClientRole(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ctx := deadline(t, 10*time.Second)
	cfg := DefaultConfig()
	cfg.DTLSRole = DTLSRoleClient
	gw := startGateway(ctx, t, cfg)
	phone := startPhone(t, "desk2000")
	phone.password = gw.Password(KindSIP)
	close(phone.answer)
	if res := phone.register(ctx, gw.UDPAddr(), gw.Domain()); res.StatusCode != 200 {
		t.Fatalf("phone REGISTER: %d", res.StatusCode)
	}
	browser := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
	browser.password = gw.Password(KindWebRTC)
	peer := newCallingPeer(ctx, t)
	_, got := placeCall(ctx, t, browser, peer)
	if answer := string(got[len(got)-1].Body()); !strings.Contains(answer, "a=setup:active") {
		t.Errorf("answer without a=setup:active:\n%s", answer)
	}
	if seen, _, profile := peer.obs.hello(); !seen || profile != dtls.SRTP_AES128_CM_HMAC_SHA1_80 {
		t.Errorf("ServerHello seen=%v use_srtp=%#04x, want the browser's first choice SRTP_AES128_CM_HMAC_SHA1_80", seen, uint16(profile))
	}
	if err := gw.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	receive(ctx, t, phone.byes, "BYE at the phone when the gateway closes")
	receive(ctx, t, browser.byes, "BYE at the browser when the gateway closes")
	peer.close()
	browser.close()
	phone.close()
}

// otherFingerprint changes the first byte of the offer's sha-256 fingerprint.
func otherFingerprint(t *testing.T, offer string) string {
	t.Helper()
	const key = "a=fingerprint:sha-256 "
	i := strings.Index(offer, key)
	if i < 0 {
		t.Fatal("offer has no sha-256 fingerprint")
	}
	i += len(key)
	flipped := "00"
	if offer[i:i+2] == "00" {
		flipped = "11"
	}
	return offer[:i] + flipped + offer[i+2:]
}
