package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// newMediaAPI builds the one webrtc.API every call of a gateway shares:
// host candidates on MediaIP only (loopback included, which pion drops
// otherwise), IPv4 UDP, no mDNS, the configured answering DTLS role and SRTP
// profile preference, the codecs the gateway relays, RTCP reports.
func newMediaAPI(cfg Config, log *slog.Logger) (*webrtc.API, error) {
	var me webrtc.MediaEngine
	for _, c := range supportedCodecs {
		params := webrtc.RTPCodecParameters{RTPCodecCapability: capability(c), PayloadType: webrtc.PayloadType(c.PT)}
		if err := me.RegisterCodec(params, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register %s: %w", c, err)
		}
	}
	se := webrtc.SettingEngine{LoggerFactory: pionLoggers{log: log}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	mediaIP := cfg.mediaIP()
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(mediaIP) })
	role := webrtc.DTLSRoleServer
	if cfg.DTLSRole == DTLSRoleClient {
		role = webrtc.DTLSRoleClient
	}
	if err := se.SetAnsweringDTLSRole(role); err != nil {
		return nil, fmt.Errorf("dtls role: %w", err)
	}
	se.SetSRTPProtectionProfiles(cfg.dtlsProfiles()...)
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

// webrtcHooks connect a WebRTC leg to its call.
type webrtcHooks struct {
	spawn func(func()) bool   // runs a goroutine owned by the call
	onRTP func(*rtp.Packet)   // each RTP packet of the chosen codec from the browser
	ended func(reason string) // ICE or DTLS failed, or the peer connection closed
}

// earlyPackets is how many packets from the phone the gateway holds while
// the browser's DTLS is not done yet (one second of 20 ms audio), so a phone
// that talks at once loses nothing at the start of the call.
const earlyPackets = 50

// webrtcLeg is the browser side of one call's media: a PeerConnection that
// sends through one TrackLocalStaticRTP.
type webrtcLeg struct {
	pc     *webrtc.PeerConnection
	track  *boundTrack
	sender *webrtc.RTPSender
	ready  bool          // the track is bound and SRTP is up; used by send only
	early  []*rtp.Packet // held until ready; used by send only
}

// boundTrack is a TrackLocalStaticRTP that says when pion has bound it to
// its sender: before that, writes are dropped silently (as they are before
// SRTP is up).
type boundTrack struct {
	*webrtc.TrackLocalStaticRTP
	once  sync.Once
	bound chan struct{}
}

func (t *boundTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		t.once.Do(func() { close(t.bound) })
	}
	return params, err
}

var errGathering = errors.New("ice gathering did not complete")

// newWebRTCLeg answers the browser's offer with the chosen codec only (the
// browser's payload type), and returns once ICE gathering is complete, so
// the answer carries every candidate (no trickle toward the caller). An
// offer pion refuses is reported as an *sdpError.
func newWebRTCLeg(ctx context.Context, api *webrtc.API, offer string, chosen codec, hooks webrtcHooks) (*webrtcLeg, string, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("new peer connection: %w", err)
	}
	leg := &webrtcLeg{pc: pc}
	answer, err := leg.answer(ctx, offer, chosen, hooks)
	if err != nil {
		return nil, "", errors.Join(err, leg.close())
	}
	return leg, answer, nil
}

func (l *webrtcLeg) answer(ctx context.Context, offer string, chosen codec, hooks webrtcHooks) (string, error) {
	pc := l.pc
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			hooks.ended("ICE or DTLS failed")
		case webrtc.PeerConnectionStateClosed:
			// Also what a failed handshake can end in, when the browser's
			// alert or close_notify wins the race; after the gateway's own
			// close the call has ended already and this is a no-op.
			hooks.ended("peer connection closed")
		}
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		hooks.spawn(func() {
			for {
				p, _, err := track.ReadRTP()
				if err != nil {
					return
				}
				if p.PayloadType == chosen.PT {
					hooks.onRTP(p)
				}
			}
		})
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", refuse(ErrSDPSyntax, "offer refused: %v", err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(capability(chosen), "audio", "gauntlet")
	if err != nil {
		return "", fmt.Errorf("local track: %w", err)
	}
	l.track = &boundTrack{TrackLocalStaticRTP: track, bound: make(chan struct{})}
	sender, err := pc.AddTrack(l.track)
	if err != nil {
		return "", fmt.Errorf("add track: %w", err)
	}
	l.sender = sender
	if err := l.preferCodec(sender, chosen); err != nil {
		return "", err
	}
	hooks.spawn(func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", refuse(ErrSDPNoCodec, "cannot answer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", errGathering, context.Cause(ctx))
	}
	return pc.LocalDescription().SDP, nil
}

// preferCodec restricts the sender's transceiver to the chosen codec.
func (l *webrtcLeg) preferCodec(sender *webrtc.RTPSender, chosen codec) error {
	for _, t := range l.pc.GetTransceivers() {
		if t.Sender() != sender {
			continue
		}
		params := webrtc.RTPCodecParameters{RTPCodecCapability: capability(chosen), PayloadType: webrtc.PayloadType(chosen.PT)}
		if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{params}); err != nil {
			return refuse(ErrSDPNoCodec, "%s: %v", chosen, err)
		}
		return nil
	}
	return fmt.Errorf("no transceiver for the audio track")
}

// send forwards one RTP packet from the phone to the browser; the track
// rewrites SSRC and payload type to the negotiated ones and keeps the rest.
// pion drops, without an error, what is written before the track is bound
// and SRTP is up, so until then send holds the last earlyPackets packets and
// sends them first once it is. Call it from one goroutine only.
func (l *webrtcLeg) send(p *rtp.Packet) error {
	if !l.ready {
		l.ready = l.isReady()
	}
	if !l.ready {
		if len(l.early) == earlyPackets {
			l.early = l.early[1:]
		}
		l.early = append(l.early, p.Clone())
		return nil
	}
	var errs []error
	for _, e := range l.early {
		errs = append(errs, l.track.WriteRTP(e))
	}
	l.early = nil
	return errors.Join(append(errs, l.track.WriteRTP(p))...)
}

// isReady reports whether the track is bound and SRTP is up. The DTLS
// transport reports connected only after it has started SRTP: it sets the
// state and starts SRTP under one lock, which State takes.
func (l *webrtcLeg) isReady() bool {
	select {
	case <-l.track.bound:
	default:
		return false
	}
	return l.sender.Transport().State() == webrtc.DTLSTransportStateConnected
}

// close closes the PeerConnection and waits for pion's goroutines.
func (l *webrtcLeg) close() error {
	return l.pc.GracefulClose()
}
