package peer_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// browser is a pion/webrtc PeerConnection with one audio track, standing in
// for the browser-like stack.
type browser struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	wg    sync.WaitGroup
	rx    *collector
}

func newBrowser(t *testing.T, codec media.Codec, want int) *browser {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src))
	if err != nil {
		t.Fatal(err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	var se webrtc.SettingEngine
	se.SetNet(n)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.LoggerFactory = lf
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	mime := webrtc.MimeTypeOpus
	if codec.Same(media.PCMU) {
		mime = webrtc.MimeTypePCMU
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: codec.ClockRate, Channels: codec.Channels}, "audio", "gauntlet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	b := &browser{pc: pc, track: track, rx: newCollector(codec, want)}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.wg.Go(func() {
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				b.rx.onRTP(pkt, time.Now())
			}
		})
	})
	t.Cleanup(func() {
		if err := pc.GracefulClose(); err != nil {
			t.Errorf("PeerConnection close: %v", err)
		}
		b.wg.Wait()
	})
	return b
}

// describe applies a remote description, creates ours and waits for
// complete gathering (no trickle).
func (b *browser) describe(t *testing.T, remote webrtc.SessionDescription) string {
	t.Helper()
	if err := b.pc.SetRemoteDescription(remote); err != nil {
		t.Fatal(err)
	}
	var local webrtc.SessionDescription
	var err error
	if remote.Type == webrtc.SDPTypeOffer {
		local, err = b.pc.CreateAnswer(nil)
	} else {
		t.Fatal("describe only answers")
	}
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(local); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return b.pc.LocalDescription().SDP
}

func (b *browser) offer(t *testing.T) string {
	t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return b.pc.LocalDescription().SDP
}

func TestInteropWithPionWebRTC(t *testing.T) {
	tests := []struct {
		name      string
		codec     media.Codec
		weOffer   bool
		wantRole  string
		wantSuite string
	}{
		// pion answers active: we are the DTLS server.
		{"we offer opus", media.Opus, true, "server", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		// pion offers actpass, we answer active: we are the DTLS client.
		{"pion offers pcmu", media.PCMU, false, "client", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			const n = 10
			us := newPeer(t, nil)
			br := newBrowser(t, tc.codec, n)
			var codec media.Codec
			if tc.weOffer {
				o, err := us.Offer(ctx, []media.Codec{tc.codec})
				if err != nil {
					t.Fatal(err)
				}
				ans := br.describe(t, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(o)})
				if codec, err = us.SetAnswer([]byte(ans)); err != nil {
					t.Fatal(err)
				}
			} else {
				o := br.offer(t)
				ans, c, err := us.Answer(ctx, []byte(o), []media.Codec{tc.codec})
				if err != nil {
					t.Fatal(err)
				}
				codec = c
				if err := br.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(ans)}); err != nil {
					t.Fatal(err)
				}
			}
			if !codec.Same(tc.codec) {
				t.Fatalf("negotiated %v, want %v", codec, tc.codec)
			}
			rx := newCollector(codec, n)
			us.OnRTP(rx.onRTP)
			if err := us.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			ours := media.NewSender(codec, us.WriteRTP)
			theirs := media.NewSender(codec, br.track.WriteRTP)
			// pion may still be finishing its side of DTLS: its track drops
			// writes until bound, so keep sending until both sides have n.
			tick := time.NewTicker(media.FrameDuration)
			defer tick.Stop()
			usDone, pionDone := rx.done, br.rx.done
			for usDone != nil || pionDone != nil {
				select {
				case <-ctx.Done():
					t.Fatalf("RTP did not arrive both ways: us %+v, pion %+v", rx.rx.Stats(), br.rx.rx.Stats())
				case <-usDone:
					usDone = nil
				case <-pionDone:
					pionDone = nil
				case <-tick.C:
					if err := ours.SendAt(time.Now()); err != nil {
						t.Fatal(err)
					}
					if err := theirs.SendAt(time.Now()); err != nil && !errors.Is(err, io.ErrClosedPipe) {
						t.Fatal(err)
					}
				}
			}
			if s := br.rx.rx.Stats(); s.Matched < n || s.Tags[0] != ours.Tag() {
				t.Fatalf("pion received %+v", s)
			}
			if s := rx.rx.Stats(); s.Matched < n || s.Tags[0] != theirs.Tag() {
				t.Fatalf("we received %+v", s)
			}
			sec := us.Report().Security
			if sec.DTLSRole != tc.wantRole || sec.CipherSuite != tc.wantSuite || sec.SRTPProfile == "" || sec.FingerprintHash != "sha-256" {
				t.Fatalf("security %+v", sec)
			}
			t.Logf("negotiated with pion/webrtc: %v, %+v", codec, sec)
		})
	}
}
