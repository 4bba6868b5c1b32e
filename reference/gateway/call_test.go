package gateway

import (
	"context"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// callingPeer is a browser's media side ready to call: a PCMU track to send
// on, what arrives from the gateway, and a complete offer.
type callingPeer struct {
	*testPeer
	track       *webrtc.TrackLocalStaticRTP
	fromGateway chan *rtp.Packet
	connected   chan struct{}
	failed      chan struct{} // ICE or DTLS failed
	offer       string
}

// newCallingPeer offers SRTP_AES128_CM_HMAC_SHA1_80 first and
// SRTP_AEAD_AES_128_GCM second.
func newCallingPeer(ctx context.Context, t *testing.T, tweaks ...func(*webrtc.SettingEngine)) *callingPeer {
	t.Helper()
	p := &callingPeer{
		testPeer:    newTestPeer(t, []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AEAD_AES_128_GCM}, tweaks...),
		fromGateway: make(chan *rtp.Packet, 128),
		connected:   make(chan struct{}),
		failed:      make(chan struct{}),
	}
	pcmu := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}
	track, err := webrtc.NewTrackLocalStaticRTP(pcmu, "audio", "browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	p.track = track
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case p.fromGateway <- pkt:
			default:
			}
		}
	})
	var once, failOnce sync.Once
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateFailed:
			failOnce.Do(func() { close(p.failed) })
		}
	})
	p.offer = p.testPeer.offer(ctx, t)
	return p
}

// placeCall calls desk2000 with the peer's offer, applies the 200's answer
// and waits for ICE and DTLS. It returns the browser's dialog and every
// response to the INVITE.
func placeCall(ctx context.Context, t *testing.T, b *testBrowser, p *callingPeer, onProvisional ...func(*sip.Response)) (*testDialog, []*sip.Response) {
	t.Helper()
	d := newDialog("desk2000")
	got := b.invite(ctx, t, d, b.aor("desk2000"), []byte(p.offer), onProvisional...)
	final := got[len(got)-1]
	if final.StatusCode != 200 {
		t.Fatalf("INVITE: got %s, want 200", statuses(got))
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(final.Body())}); err != nil {
		t.Fatal(err)
	}
	receive(ctx, t, p.connected, "ICE and DTLS to connect")
	return d, got
}

// cancelWhileRinging calls desk2000, CANCELs on the 180 and expects 200 to
// the CANCEL and 487 to the INVITE.
func cancelWhileRinging(ctx context.Context, t *testing.T, b *testBrowser, offer string) {
	t.Helper()
	d := newDialog("desk2000")
	inv := b.authorizedInvite(ctx, t, d, b.aor("desk2000"), []byte(offer))
	if err := b.write(inv); err != nil {
		t.Fatal(err)
	}
	canceled := false
	var cancelStatus, inviteStatus int
	for inviteStatus == 0 || cancelStatus == 0 {
		res := receive(ctx, t, b.res, "responses to INVITE and CANCEL")
		if res.CallID().Value() != d.callID {
			continue
		}
		switch {
		case res.CSeq().MethodName == sip.CANCEL:
			cancelStatus = res.StatusCode
		case res.StatusCode == 180 && !canceled:
			canceled = true
			cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
			for _, name := range []string{"Via", "From", "To", "Call-ID", "Max-Forwards"} {
				sip.CopyHeaders(name, inv, cancel)
			}
			cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
			cancel.SetBody(nil)
			if err := b.write(cancel); err != nil {
				t.Fatal(err)
			}
		case res.StatusCode >= 200:
			inviteStatus = res.StatusCode
			ack := b.request(sip.ACK, d, inv.Recipient, nil)
			ack.RemoveHeader("Via")
			ack.PrependHeader(sip.HeaderClone(inv.Via()))
			ack.To().Params.Add("tag", mustTag(t, res))
			if err := b.write(ack); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cancelStatus != 200 || inviteStatus != 487 {
		t.Errorf("CANCEL got %d, INVITE got %d; want 200 and 487", cancelStatus, inviteStatus)
	}
}

func mustTag(t *testing.T, res *sip.Response) string {
	t.Helper()
	tag, ok := res.To().Params.Get("tag")
	if !ok {
		t.Fatalf("%d response without To tag", res.StatusCode)
	}
	return tag
}
