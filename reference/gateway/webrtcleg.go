package gateway

import (
	"context"
	"errors"
	"fmt"
	"github.com/gauntlet-rtc/gauntlet/reference/internal/pionlog"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// strongSuites are the forward-secret AEAD suites the gateway's DTLS
// accepts by default; weakenedSuites add the CBC ones (weaken: strong-dtls).
var (
	strongSuites = []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	weakenedSuites = append(append([]dtls.CipherSuiteID(nil), strongSuites...), dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)
)

// newMediaAPI builds the one webrtc.API every call of a gateway shares:
// host candidates on MediaIP only (loopback included, which pion drops
// otherwise), IPv4 UDP, no mDNS, the configured answering DTLS role and SRTP
// profile preference, DTLS 1.2 with forward-secret AEAD suites and the
// extended master secret required, SRTP replay protection, the codecs the
// gateway relays, RTCP reports. Weaken switches loosen the defences.
func newMediaAPI(cfg Config, log *slog.Logger) (*webrtc.API, error) {
	var me webrtc.MediaEngine
	for _, c := range append(append([]codec(nil), supportedCodecs...), dtmfCodecs...) {
		params := webrtc.RTPCodecParameters{RTPCodecCapability: capability(c), PayloadType: webrtc.PayloadType(c.PT)}
		if err := me.RegisterCodec(params, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register %s: %w", c, err)
		}
	}
	se := webrtc.SettingEngine{LoggerFactory: pionlog.Factory{Log: log}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	mediaIP := cfg.mediaIP()
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(mediaIP) })
	// The role toward an offer (or answer) of actpass; pion takes the
	// opposite of an explicit one, and the answers say so (localSetup).
	role := webrtc.DTLSRoleServer
	if cfg.DTLSRole == DTLSRoleClient {
		role = webrtc.DTLSRoleClient
	}
	if err := se.SetAnsweringDTLSRole(role); err != nil {
		return nil, fmt.Errorf("dtls role: %w", err)
	}
	se.SetSRTPProtectionProfiles(cfg.dtlsProfiles()...)
	if cfg.weakened(WeakenStrongDTLS) {
		se.SetDTLSCipherSuites(weakenedSuites...)
		se.SetDTLSExtendedMasterSecret(dtls.RequestExtendedMasterSecret)
	} else {
		se.SetDTLSCipherSuites(strongSuites...)
		se.SetDTLSExtendedMasterSecret(dtls.RequireExtendedMasterSecret)
	}
	if cfg.weakened(WeakenReplayProtection) {
		se.DisableSRTPReplayProtection(true)
		se.DisableSRTCPReplayProtection(true)
	} else {
		se.SetSRTPReplayProtectionWindow(128)
	}
	se.DisableCertificateFingerprintVerification(cfg.weakened(WeakenFingerprintCheck))
	// RTCP sender and receiver reports only: no NACK or TWCC for audio, and
	// nothing that touches the RTP it relays.
	var ir interceptor.Registry
	if err := webrtc.ConfigureRTCPReports(&ir); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&ir)), nil
}

func capability(c codec) webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: c.MimeType(), ClockRate: c.Clock, Channels: c.Channels, SDPFmtpLine: c.Fmtp}
}

func codecParams(cs []codec) []webrtc.RTPCodecParameters {
	out := make([]webrtc.RTPCodecParameters, 0, len(cs))
	for _, c := range cs {
		out = append(out, webrtc.RTPCodecParameters{RTPCodecCapability: capability(c), PayloadType: webrtc.PayloadType(c.PT)})
	}
	return out
}

// webrtcHooks connect a WebRTC leg to its call.
type webrtcHooks struct {
	spawn func(func()) bool   // runs a goroutine owned by the call
	ended func(reason string) // ICE or DTLS failed, or the peer connection closed
	dtls  func()              // the DTLS handshake failed (counted)
}

// earlyPackets is how many packets toward the browser the gateway holds
// while its DTLS is not done yet (one second of 20 ms audio), so a party
// that talks at once loses nothing at the start of the call.
const earlyPackets = 50

// webrtcLeg is a browser's media: a PeerConnection that sends through a
// relayTrack and reads the browser's track.
type webrtcLeg struct {
	pc     *webrtc.PeerConnection
	track  *relayTrack
	sender *webrtc.RTPSender
	hooks  webrtcHooks
	role   string       // Config.DTLSRole: the gateway's role toward an offer of actpass
	setup  atomic.Value // string: the a=setup of the gateway's DTLS role, once negotiated

	audioPT atomic.Int32 // the leg's payload types, -1 until negotiated
	dtmfPT  atomic.Int32
	deliver atomic.Pointer[deliverFunc]

	mu    sync.Mutex // send
	ready bool
	early []earlyPacket

	// DTLS outcome: a handshake that ends (failed, or closed by the far
	// end's alert) without ever connecting counts once as a DTLS failure;
	// the gateway's own close does not count.
	dtlsUp      atomic.Bool
	closing     atomic.Bool
	dtlsCounted atomic.Bool
}

type earlyPacket struct {
	k pktKind
	p *rtp.Packet
}

var errGathering = errors.New("ice gathering did not complete")

func newWebRTCLeg(api *webrtc.API, role string, hooks webrtcHooks) (*webrtcLeg, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	l := &webrtcLeg{pc: pc, hooks: hooks, role: role, track: newRelayTrack()}
	l.setup.Store("")
	l.audioPT.Store(-1)
	l.dtmfPT.Store(-1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			if ice := l.pc.ICEConnectionState(); ice == webrtc.ICEConnectionStateConnected || ice == webrtc.ICEConnectionStateCompleted {
				l.dtlsEnded() // ICE was up: the handshake is what failed
			}
			hooks.ended("ICE or DTLS failed")
		case webrtc.PeerConnectionStateClosed:
			// Also what a failed handshake can end in, when the browser's
			// alert or close_notify wins the race; after the gateway's own
			// close the call has ended already and this is a no-op.
			l.dtlsEnded()
			hooks.ended("peer connection closed")
		}
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		hooks.spawn(func() { l.read(track) })
	})
	sender, err := pc.AddTrack(l.track)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("add track: %w", err), pc.Close())
	}
	l.sender = sender
	hooks.spawn(func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	if dt := sender.Transport(); dt != nil {
		dt.OnStateChange(func(s webrtc.DTLSTransportState) {
			switch s {
			case webrtc.DTLSTransportStateConnected:
				l.dtlsUp.Store(true)
			case webrtc.DTLSTransportStateFailed, webrtc.DTLSTransportStateClosed:
				l.dtlsEnded()
			}
		})
	}
	return l, nil
}

func (l *webrtcLeg) read(track *webrtc.TrackRemote) {
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		d := l.deliver.Load()
		if d == nil {
			continue
		}
		switch pt := int32(p.PayloadType); {
		case pt == l.audioPT.Load():
			p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
			(*d)(kindAudio, p)
		case pt == l.dtmfPT.Load():
			p.Extension, p.Extensions, p.ExtensionProfile = false, nil, 0
			(*d)(kindDTMF, p)
		}
	}
}

func (l *webrtcLeg) start(_ func(func()) bool, deliver deliverFunc) {
	l.deliver.Store(&deliver)
}

func (l *webrtcLeg) setPTs(ch chosen) {
	l.audioPT.Store(int32(ch.Audio.PT))
	l.dtmfPT.Store(-1)
	if ch.DTMF != nil {
		l.dtmfPT.Store(int32(ch.DTMF.PT))
	}
}

// preferCodecs restricts the audio transceiver to cs.
func (l *webrtcLeg) preferCodecs(cs []codec) error {
	for _, t := range l.pc.GetTransceivers() {
		if t.Sender() != l.sender {
			continue
		}
		if err := t.SetCodecPreferences(codecParams(cs)); err != nil {
			return refuse(ErrSDPNoCodec, "%v: %v", cs, err)
		}
		return nil
	}
	return errors.New("no transceiver for the audio track")
}

// answer answers the browser's offer with the chosen codec only (the
// browser's payload types) and the DTLS role the offer leaves the gateway
// (see localSetup), and returns once ICE gathering is complete, so the
// answer carries every candidate (no trickle toward the caller). An offer
// pion refuses is reported as an *sdpError.
func (l *webrtcLeg) answer(ctx context.Context, o offer, ch chosen) (string, error) {
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(o.SDP)}); err != nil {
		return "", refuse(ErrSDPSyntax, "offer refused: %v", err)
	}
	if err := l.preferCodecs(ch.codecs()); err != nil {
		return "", err
	}
	l.setPTs(ch)
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", refuse(ErrSDPNoCodec, "cannot answer: %v", err)
	}
	setup := localSetup(remoteSetup(o.SDP), l.role)
	l.setup.Store(setup)
	return l.completeAnswer(ctx, answer, setup)
}

// completeAnswer completes an answer and states setup in it. pion refuses
// a local answer that differs from the one it created, so the rewrite
// touches only what goes to the browser: pion's DTLS role follows the
// offer, never its own a=setup.
func (l *webrtcLeg) completeAnswer(ctx context.Context, answer webrtc.SessionDescription, setup string) (string, error) {
	desc, err := l.complete(ctx, answer)
	if err != nil {
		return "", err
	}
	return withSetup(desc, setup), nil
}

// offer makes the gateway's offer toward a browser: codecs (and
// telephone-events) in order, complete candidates.
func (l *webrtcLeg) offer(ctx context.Context, codecs []codec) (string, error) {
	if err := l.preferCodecs(codecs); err != nil {
		return "", err
	}
	o, err := l.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("create offer: %w", err)
	}
	return l.complete(ctx, o)
}

// complete sets the local description and waits for gathering.
func (l *webrtcLeg) complete(ctx context.Context, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", errGathering, context.Cause(ctx))
	}
	return l.pc.LocalDescription().SDP, nil
}

// acceptAnswer applies the browser's answer to the gateway's offer and
// returns what it chose (with its payload types).
func (l *webrtcLeg) acceptAnswer(answer []byte, offered, offeredDTMF []codec, lax bool) (chosen, error) {
	o, err := parseWebRTCOffer(answer, lax) // an answer must pass the same checks
	if err != nil {
		return chosen{}, err
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(answer); err != nil {
		return chosen{}, refuse(ErrSDPSyntax, "%v", err)
	}
	if strings.Contains(string(answer), "a=setup:actpass") {
		return chosen{}, refuse(ErrSDPSyntax, "an answer must not say a=setup:actpass")
	}
	ch, ok := pick(firstAudio(&sd), offered, offeredDTMF)
	if !ok {
		return chosen{}, refuse(ErrSDPNoCodec, "answer picks no offered codec (%v)", o.Codecs)
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return chosen{}, refuse(ErrSDPSyntax, "answer refused: %v", err)
	}
	l.setup.Store(localSetup(remoteSetup(answer), l.role))
	l.setPTs(ch)
	return ch, nil
}

// renegotiate answers a re-offer from the browser (hold, ICE restart): pion
// restarts ICE itself when the ufrag and pwd change, and keeps the DTLS
// association, so the answer keeps the gateway's DTLS role (RFC 5763 5).
func (l *webrtcLeg) renegotiate(ctx context.Context, o offer) (string, error) {
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(o.SDP)}); err != nil {
		return "", refuse(ErrSDPSyntax, "re-offer refused: %v", err)
	}
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", refuse(ErrSDPNoCodec, "cannot answer: %v", err)
	}
	setup := l.setup.Load().(string)
	if setup == "" { // cannot happen: the first answer either way set it
		setup = localSetup(remoteSetup(o.SDP), l.role)
	}
	return l.completeAnswer(ctx, answer, setup)
}

// send forwards one packet toward the browser with this leg's payload type
// for k, its SSRC, and sequence and timestamp unchanged. pion drops what is
// written before the track is bound and SRTP is up, so until then send
// holds the last earlyPackets packets and sends them first once it is.
func (l *webrtcLeg) send(k pktKind, p *rtp.Packet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ready {
		l.ready = l.isReady()
	}
	if !l.ready {
		if len(l.early) == earlyPackets {
			l.early = l.early[1:]
		}
		l.early = append(l.early, earlyPacket{k, p.Clone()})
		return nil
	}
	var errs []error
	for _, e := range l.early {
		errs = append(errs, l.write(e.k, e.p))
	}
	l.early = nil
	return errors.Join(append(errs, l.write(k, p))...)
}

func (l *webrtcLeg) write(k pktKind, p *rtp.Packet) error {
	pt := l.audioPT.Load()
	if k == kindDTMF {
		pt = l.dtmfPT.Load()
	}
	if pt < 0 {
		return nil
	}
	return l.track.write(uint8(pt), p)
}

// isReady reports whether the track is bound and SRTP is up. The DTLS
// transport reports connected only after it has started SRTP: it sets the
// state and starts SRTP under one lock, which State takes.
func (l *webrtcLeg) isReady() bool {
	if !l.track.isBound() {
		return false
	}
	return l.sender.Transport().State() == webrtc.DTLSTransportStateConnected
}

// dtlsEnded counts a DTLS failure once, for a handshake that never
// connected and that the gateway did not end itself.
func (l *webrtcLeg) dtlsEnded() {
	if l.dtlsUp.Load() || l.closing.Load() || l.hooks.dtls == nil || !l.dtlsCounted.CompareAndSwap(false, true) {
		return
	}
	l.hooks.dtls()
}

// close closes the PeerConnection and waits for pion's goroutines.
func (l *webrtcLeg) close() error {
	l.closing.Store(true)
	return l.pc.GracefulClose()
}

// relayTrack is a TrackLocal that takes whatever codec was negotiated and
// writes packets as given, with their payload type: it relays, it does not
// encode.
type relayTrack struct {
	mu     sync.Mutex
	writer webrtc.TrackLocalWriter
	ssrc   uint32
	once   sync.Once
	bound  chan struct{}
}

func newRelayTrack() *relayTrack { return &relayTrack{bound: make(chan struct{})} }

func (t *relayTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	if len(codecs) == 0 {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.mu.Lock()
	t.writer, t.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	t.mu.Unlock()
	t.once.Do(func() { close(t.bound) })
	return codecs[0], nil
}

func (t *relayTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.writer = nil
	t.mu.Unlock()
	return nil
}

func (t *relayTrack) ID() string                { return "audio" }
func (t *relayTrack) RID() string               { return "" }
func (t *relayTrack) StreamID() string          { return "gauntlet" }
func (t *relayTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

func (t *relayTrack) isBound() bool {
	select {
	case <-t.bound:
		return true
	default:
		return false
	}
}

func (t *relayTrack) write(pt uint8, p *rtp.Packet) error {
	t.mu.Lock()
	w, ssrc := t.writer, t.ssrc
	t.mu.Unlock()
	if w == nil {
		return nil
	}
	h := p.Header
	h.PayloadType, h.SSRC = pt, ssrc
	h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0
	_, err := w.WriteRTP(&h, p.Payload)
	return err
}
