package peer

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pion/sdp/v3"
)

// Media directions (RFC 3264 6.1).
const (
	DirSendRecv = "sendrecv"
	DirSendOnly = "sendonly"
	DirRecvOnly = "recvonly"
	DirInactive = "inactive"
)

// IsRestart reports whether offer, a re-offer from the far end, restarts
// ICE: its ice-ufrag is not the one the leg has from the far end (RFC
// 8839 4.4.1.1.2). A restart goes to RestartAnswer, anything else to
// Reanswer. An offer that cannot be read is no restart: Reanswer says why.
func (p *Peer) IsRestart(offer []byte) bool {
	r, err := parseSDP(offer)
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.ufrag != p.remote.ufrag
}

// Reanswer answers a re-offer from the far end that keeps the ICE
// credentials and the DTLS fingerprint, as a hold or an unhold does (RFC
// 3264 8.4): nothing is restarted, media goes on over the same ICE pair
// and DTLS association. local is the leg's current description (its last
// offer or answer); the answer is local with the direction that answers
// the offer's (sendonly gets recvonly, recvonly sendonly, the others
// themselves), a=setup stating the DTLS role the leg already has (active
// or passive, never actpass: RFC 5763 5, RFC 8842 5.5), and its o= version
// one up. The offer must keep the negotiated codec and may not ask for the
// leg's own DTLS role; new ICE credentials are a restart (RestartAnswer)
// and are refused here, like a new fingerprint (ErrSDP).
func (p *Peer) Reanswer(offer, local []byte) ([]byte, error) {
	r, err := p.parseRemote(offer)
	if err != nil {
		return nil, err
	}
	dir, err := offerDirection(offer)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	closed, stage, client, codec := p.closed, p.stage, p.dtlsClient, p.codec
	cur := p.remote
	p.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case stage < stageNegotiated:
		return nil, fmt.Errorf("%w: a re-offer before the first answer", ErrState)
	case r.ufrag != cur.ufrag || r.pwd != cur.pwd:
		return nil, fmt.Errorf("%w: the re-offer changes the ICE credentials: an ICE restart (RestartAnswer)", ErrSDP)
	case !sameFingerprints(r.fps, cur.fps):
		return nil, fmt.Errorf("%w: the re-offer changes the DTLS fingerprint: a new DTLS association is not supported", ErrSDP)
	case r.setup == SetupActive && client, r.setup == SetupPassive && !client:
		return nil, fmt.Errorf("%w: the re-offer says a=setup:%s, the leg's own DTLS role", ErrSDP, r.setup)
	case !slices.ContainsFunc(r.codecs, codec.Same):
		return nil, fmt.Errorf("%w: the re-offer drops %s", ErrNoCodec, codec.RTPMap())
	}
	setup := SetupPassive
	if client {
		setup = SetupActive
	}
	return redescribe(local, setup, answerDirection(dir))
}

// offerDirection reads a description's audio direction: the m-line's,
// else the session's, else sendrecv.
func offerDirection(b []byte) (string, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(b); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSDP, err)
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if d, ok := directionOf(m.Attributes); ok {
			return d, nil
		}
		break
	}
	if d, ok := directionOf(s.Attributes); ok {
		return d, nil
	}
	return DirSendRecv, nil
}

func directionOf(attrs []sdp.Attribute) (string, bool) {
	for _, a := range attrs {
		if isDirection(a.Key) {
			return a.Key, true
		}
	}
	return "", false
}

func isDirection(key string) bool {
	return key == DirSendRecv || key == DirSendOnly || key == DirRecvOnly || key == DirInactive
}

// answerDirection is the direction that answers an offer's (RFC 3264 6.1).
func answerDirection(offered string) string {
	switch offered {
	case DirSendOnly:
		return DirRecvOnly
	case DirRecvOnly:
		return DirSendOnly
	}
	return offered
}

func sameFingerprints(a, b []fingerprint) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

// redescribe returns local with the audio section's a=setup and direction
// set, session-level directions dropped, and the o= version one up.
func redescribe(local []byte, setup, dir string) ([]byte, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(local); err != nil {
		return nil, fmt.Errorf("peer: the leg's own description: %w", err)
	}
	s.Attributes = slices.DeleteFunc(s.Attributes, func(a sdp.Attribute) bool { return isDirection(a.Key) })
	found := false
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		found = true
		attrs := make([]sdp.Attribute, 0, len(m.Attributes)+2)
		hasSetup, hasDir := false, false
		for _, a := range m.Attributes {
			switch {
			case a.Key == "setup":
				a.Value, hasSetup = setup, true
			case isDirection(a.Key):
				if hasDir {
					continue
				}
				a, hasDir = sdp.NewPropertyAttribute(dir), true
			}
			attrs = append(attrs, a)
		}
		if !hasSetup {
			attrs = append(attrs, sdp.NewAttribute("setup", setup))
		}
		if !hasDir {
			attrs = append(attrs, sdp.NewPropertyAttribute(dir))
		}
		m.Attributes = attrs
	}
	if !found {
		return nil, errors.New("peer: the leg's own description has no audio section")
	}
	s.Origin.SessionVersion++
	return s.Marshal()
}
