package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// helloObserver wraps the browser's UDP socket and reads the DTLS
// ServerHello as it passes in the clear, either way: the cipher suite and
// the SRTP profile the DTLS server chose, as observed on the wire. It embeds the
// net.PacketConn interface, not *net.UDPConn, so pion's ICE mux cannot
// bypass ReadFrom.
type helloObserver struct {
	net.PacketConn

	mu      sync.Mutex
	seen    bool
	suite   uint16
	profile dtls.SRTPProtectionProfile
	lastRTP []byte   // the last SRTP packet the browser sent
	lastTo  net.Addr // and where to
}

func (o *helloObserver) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := o.PacketConn.ReadFrom(b)
	if err == nil {
		o.inspect(b[:n])
	}
	return n, addr, err
}

// WriteTo sees the ServerHello the browser sends when it is the DTLS
// server, and keeps the last SRTP packet it sends.
func (o *helloObserver) WriteTo(b []byte, addr net.Addr) (int, error) {
	o.inspect(b)
	if len(b) > 12 && b[0] >= 128 && b[0] <= 191 && (b[1] < 192 || b[1] > 223) {
		o.mu.Lock()
		o.lastRTP, o.lastTo = append(o.lastRTP[:0], b...), addr
		o.mu.Unlock()
	}
	return o.PacketConn.WriteTo(b, addr)
}

// replay sends the last SRTP packet again, as it was on the wire, and
// returns its RTP sequence number (in the clear in the header).
func (o *helloObserver) replay() (uint16, error) {
	o.mu.Lock()
	pkt, to := append([]byte(nil), o.lastRTP...), o.lastTo
	o.mu.Unlock()
	if pkt == nil {
		return 0, errors.New("no SRTP packet sent yet")
	}
	_, err := o.PacketConn.WriteTo(pkt, to)
	return uint16(pkt[2])<<8 | uint16(pkt[3]), err
}

func (o *helloObserver) inspect(datagram []byte) {
	if len(datagram) == 0 || datagram[0] < 20 || datagram[0] > 63 { // not DTLS (RFC 7983)
		return
	}
	records, err := recordlayer.UnpackDatagram(datagram)
	if err != nil {
		return
	}
	for _, raw := range records {
		var rec recordlayer.RecordLayer
		if rec.Unmarshal(raw) != nil {
			continue
		}
		hs, ok := rec.Content.(*handshake.Handshake)
		if !ok {
			continue
		}
		hello, ok := hs.Message.(*handshake.MessageServerHello)
		if !ok || hello.CipherSuiteID == nil {
			continue
		}
		o.mu.Lock()
		o.seen, o.suite = true, *hello.CipherSuiteID
		for _, ext := range hello.Extensions {
			if u, ok := ext.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) > 0 {
				o.profile = u.ProtectionProfiles[0]
			}
		}
		o.mu.Unlock()
	}
}

func (o *helloObserver) hello() (seen bool, suite uint16, profile dtls.SRTPProtectionProfile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen, o.suite, o.profile
}

// testPeer is the media half of a browser: its own pion API, loopback host
// candidates through a UDP mux on an observed socket.
type testPeer struct {
	pc  *webrtc.PeerConnection
	obs *helloObserver
	mux *ice.UDPMuxDefault
}

func newTestPeer(t *testing.T, profiles []dtls.SRTPProtectionProfile, tweaks ...func(*webrtc.SettingEngine)) *testPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	obs := &helloObserver{PacketConn: conn}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: obs})
	var me webrtc.MediaEngine
	for _, c := range supportedCodecs {
		params := webrtc.RTPCodecParameters{RTPCodecCapability: capability(c), PayloadType: webrtc.PayloadType(c.PT)}
		if err := me.RegisterCodec(params, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEUDPMux(mux)
	se.SetSRTPProtectionProfiles(profiles...)
	for _, tw := range tweaks {
		tw(&se)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &testPeer{pc: pc, obs: obs, mux: mux}
	t.Cleanup(p.close)
	return p
}

func (p *testPeer) close() {
	_ = p.pc.GracefulClose()
	_ = p.mux.Close()
	_ = p.obs.Close()
}

// offer creates a complete (non-trickle) offer.
func (p *testPeer) offer(ctx context.Context, t *testing.T) string {
	t.Helper()
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	receive(ctx, t, gathered, "ICE gathering")
	return p.pc.LocalDescription().SDP
}
