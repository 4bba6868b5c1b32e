package gateway

import (
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"
)

// directionOffer makes the gateway's re-offer toward the browser with the
// media direction dir (a hold passed on): pion's own offer from the leg's
// PeerConnection, with the chosen codec, the same ICE credentials and
// candidates (no restart; gathering was complete when the call was set
// up), the same DTLS fingerprint and a=setup:actpass, as JSEP has every
// offer say (RFC 8829 5.2.1; the answerer keeps the role it has, RFC 5763
// 5, RFC 8842 5.5). It returns pion's offer, which directionAnswer sets
// once the browser accepted it, and the browser's copy.
//
// pion v4.2.20 has no exported way to set a transceiver's direction
// (RTPTransceiver.setDirection is private; RemoveTrack would stop the
// sender for good), and it refuses a local description that differs from
// the offer it created. So pion offers sendrecv, and the copy that goes to
// the browser says dir, as withSetup does for answers: the gateway relays
// by the parties' directions itself (leg.forward), not by pion's. Nor can
// it roll a local offer back (have-local-offer takes no rollback), so the
// offer is set only with the browser's answer: a 491 or a failure leaves
// the PeerConnection as it was.
func (l *webrtcLeg) directionOffer(ch chosen, dir string) (webrtc.SessionDescription, string, error) {
	if err := l.preferCodecs(ch.codecs()); err != nil {
		return webrtc.SessionDescription{}, "", err
	}
	o, err := l.pc.CreateOffer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, "", fmt.Errorf("create offer: %w", err)
	}
	return o, withDirection(o.SDP, dir), nil
}

// directionAnswer sets offer, from directionOffer, and the browser's
// answer to it (pion stops and starts its receiver by the direction the
// answer gives), and returns the direction the browser answered. An
// answer that fails the checks of any WebRTC SDP, drops the codec, says
// a=setup:actpass or takes the DTLS role the gateway has (a role change
// would need a new DTLS association, RFC 5763 5) is refused as an
// *sdpError, and nothing is set. Should pion take the offer and then
// refuse the answer (the checks above make that unlikely), the
// PeerConnection stays in have-local-offer, as pion v4.2.20 rolls no local
// offer back: the leg's later re-offers fail and are logged, and the media
// goes on as negotiated before.
func (l *webrtcLeg) directionAnswer(offer webrtc.SessionDescription, answer []byte, ch chosen, lax bool) (string, error) {
	o, err := parseWebRTCOffer(answer, lax)
	if err != nil {
		return "", err
	}
	if _, ok := find(o.Codecs, ch.Audio); !ok {
		return "", refuse(ErrSDPNoCodec, "the answer drops %s", ch.Audio)
	}
	if strings.Contains(string(answer), "a=setup:"+setupActpass) {
		return "", refuse(ErrSDPSyntax, "an answer must not say a=setup:actpass")
	}
	if ours, theirs := l.setup.Load().(string), remoteSetup(answer); ours != "" && theirs == ours {
		return "", refuse(ErrSDPSyntax, "the answer takes the gateway's DTLS role (a=setup:%s)", theirs)
	}
	if err := l.pc.SetLocalDescription(offer); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return "", refuse(ErrSDPSyntax, "answer refused: %v", err)
	}
	return o.Dir, nil
}

// withDirection sets the media direction (RFC 3264 6.1) of every media
// section of an SDP body to dir: each direction line is replaced, and a
// section without one gets one.
func withDirection(body, dir string) string {
	lines := strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
	out := make([]string, 0, len(lines)+1)
	inMedia, has := false, false
	end := func() {
		if inMedia && !has {
			out = append(out, "a="+dir)
		}
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "m="):
			end()
			inMedia, has = true, false
		case isDirectionLine(l):
			if !inMedia {
				continue // a session-level direction would apply to every section
			}
			l, has = "a="+dir, true
		}
		out = append(out, l)
	}
	end()
	return strings.Join(out, "\r\n") + "\r\n"
}

func isDirectionLine(l string) bool {
	v, ok := strings.CutPrefix(l, "a=")
	return ok && (v == dirSendRecv || v == dirSendOnly || v == dirRecvOnly || v == dirInactive)
}
