package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/pion/sdp/v3"
)

// ErrNotConnected is returned by mid-call actions on a leg without a dialog.
var ErrNotConnected = errors.New("endpoint: the leg has no call")

// Hold puts the call on hold (RFC 3264 8.4): a re-INVITE offering
// a=sendonly. This leg goes on sending; the far end's audio stops, and
// this leg's receiver counts the silence until Unhold as a pause, not a
// gap.
func (l *Leg) Hold(ctx context.Context) error {
	l.pauseReceiver(pauseOwnHold, true)
	if err := l.redirect(ctx, "sendonly"); err != nil {
		l.pauseReceiver(pauseOwnHold, false)
		return err
	}
	return nil
}

// Unhold takes the call off hold: a re-INVITE offering a=sendrecv.
func (l *Leg) Unhold(ctx context.Context) error {
	err := l.redirect(ctx, "sendrecv")
	if err == nil {
		l.pauseReceiver(pauseOwnHold, false)
	}
	return err
}

// Reasons the leg's receiver is paused (Leg.paused): the silence is on
// purpose, no gap.
const (
	pauseOwnHold uint8 = 1 << iota // this leg put the call on hold
	pauseFarHold                   // the far end's re-offer says it will not send
)

// pauseReceiver sets or clears one reason to pause the receiver; it is
// paused while any reason holds.
func (l *Leg) pauseReceiver(why uint8, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.paused != 0
	if on {
		l.paused |= why
	} else {
		l.paused &^= why
	}
	switch now := l.paused != 0; {
	case l.recv == nil || now == was:
	case now:
		l.recv.Pause(time.Now())
	default:
		l.recv.Resume(time.Now())
	}
}

func (l *Leg) redirect(ctx context.Context, dir string) error {
	l.mu.Lock()
	dlg, local := l.dialog, l.local
	l.mu.Unlock()
	if dlg == nil || local == nil {
		return ErrNotConnected
	}
	offer, err := setDirection(local, dir)
	if err != nil {
		return err
	}
	var answer []byte
	if err := retryPending(ctx, func() (err error) { answer, err = dlg.ReInvite(ctx, offer); return err }); err != nil {
		return fmt.Errorf("endpoint: %s re-INVITE: %w", dir, err)
	}
	if _, err := l.keepKeys(answer, offer); err != nil {
		return fmt.Errorf("endpoint: %s re-INVITE: %w", dir, err)
	}
	return nil
}

// keepKeys carries an SDES leg's keys through a re-INVITE: remote is the
// far end's SDP, local ours that it answers or answered; the far end's new
// key, if any, is taken, and local comes back with the one a=crypto our
// re-offers and re-answers must carry (plainrtp.Leg.Update). Other legs
// get local back as it is.
func (l *Leg) keepKeys(remote, local []byte) ([]byte, error) {
	l.mu.Lock()
	sess := l.sess
	l.mu.Unlock()
	if p, ok := sess.(*plainrtp.Leg); ok {
		return p.Update(remote, local)
	}
	return local, nil
}

// RestartICE restarts ICE on a WebRTC leg (RFC 8445 9): a re-INVITE with
// new ICE credentials and candidates; media resumes over the new pair.
func (l *Leg) RestartICE(ctx context.Context) error {
	l.mu.Lock()
	dlg, sess, before := l.dialog, l.sess, l.remote
	l.mu.Unlock()
	p, ok := sess.(*peer.Peer)
	if dlg == nil || !ok {
		return fmt.Errorf("%w (or not a WebRTC leg)", ErrNotConnected)
	}
	offer, err := p.RestartOffer(ctx)
	if err != nil {
		return err
	}
	answer, err := dlg.ReInvite(ctx, offer)
	if err != nil {
		return fmt.Errorf("endpoint: ICE restart re-INVITE: %w", err)
	}
	if u := iceUfrag(answer); u == "" || u == iceUfrag(before) {
		return fmt.Errorf("%w: the answer keeps ice-ufrag %q: the far end did not restart ICE", ErrRestart, u)
	}
	if err := p.SetRestartAnswer(answer); err != nil {
		return err
	}
	l.mu.Lock()
	l.local, l.remote = offer, answer
	l.mu.Unlock()
	return nil
}

// ErrRestart is returned by RestartICE when the far end's answer is no
// ICE restart (RFC 8839 4.4.1.1.2: new ufrag and pwd).
var ErrRestart = errors.New("endpoint: ICE restart refused")

// iceUfrag is the first a=ice-ufrag of an SDP.
func iceUfrag(raw []byte) string {
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// Transfer asks the far end, by REFER, to connect the other party of the
// call to target (a blind transfer), and waits for the outcome the far end
// NOTIFYs: nil when the target answered (the far end then ends this leg's
// dialog), else why not.
func (l *Leg) Transfer(ctx context.Context, target string) error {
	l.mu.Lock()
	dlg := l.dialog
	l.mu.Unlock()
	if dlg == nil {
		return ErrNotConnected
	}
	if err := retryPending(ctx, func() error { return dlg.Refer(ctx, target) }); err != nil {
		return fmt.Errorf("endpoint: REFER: %w", err)
	}
	for {
		select {
		case frag := <-dlg.Notifies():
			line, _, _ := strings.Cut(strings.TrimSpace(string(frag)), "\r\n")
			var code int
			if _, err := fmt.Sscanf(line, "SIP/2.0 %d", &code); err != nil || code < 200 {
				continue
			}
			if code >= 300 {
				return fmt.Errorf("endpoint: transfer to %s failed: %s", target, line)
			}
			return nil
		case <-dlg.Done():
			return fmt.Errorf("endpoint: transfer to %s: the dialog ended first: %w", target, dlg.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// answerReInvites lets the leg take the far end's re-offers: hold and
// unhold, and on a WebRTC leg an ICE restart. A plain-RTP leg answers
// with its own SDP, the direction mirrored; a WebRTC leg asks its peer:
// Reanswer when the ICE credentials stay (same ICE pair and DTLS
// association, direction mirrored, its DTLS role kept), RestartAnswer
// when they change. The direction offered is recorded (Reoffers) and,
// when it says the far end will not send (recvonly, inactive), the
// receiver counts the silence as a pause until a re-offer that sends.
func (l *Leg) answerReInvites(dlg *sipua.Dialog) {
	if dlg == nil {
		return
	}
	dlg.OnReInvite(l.answerReOffer)
}

// restartAnswerTimeout bounds the gathering of an ICE restart's answer.
const restartAnswerTimeout = 10 * time.Second

// Reoffer is one re-offer of the far end that the leg answered: when it
// came, the media direction it offered (a=sendonly or a=inactive put the
// call on hold from the far end, a=sendrecv takes the hold off), and
// whether it restarted ICE.
type Reoffer struct {
	At        time.Time
	Direction string
	Restart   bool
}

func (l *Leg) answerReOffer(offer []byte) ([]byte, error) {
	l.mu.Lock()
	local, sess := l.local, l.sess
	l.mu.Unlock()
	dir := sdpDirection(offer)
	var answer []byte
	var err error
	p, webrtc := sess.(*peer.Peer)
	restart := webrtc && p.IsRestart(offer)
	switch {
	case restart:
		ctx, cancel := context.WithTimeout(context.Background(), restartAnswerTimeout)
		answer, err = p.RestartAnswer(ctx, offer)
		cancel()
	case webrtc:
		answer, err = p.Reanswer(offer, local)
	default:
		if answer, err = l.keepKeys(offer, local); err == nil {
			answer, err = setDirection(answer, mirror(dir))
		}
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.local, l.remote = answer, offer
	l.reoffers = append(l.reoffers, Reoffer{At: time.Now(), Direction: dir, Restart: restart})
	l.mu.Unlock()
	l.pauseReceiver(pauseFarHold, dir == "recvonly" || dir == "inactive")
	l.muteSender(dir == "sendonly" || dir == "inactive") // we answered recvonly or inactive
	return answer, nil
}

// muteSender stops or resumes this leg's audio as the direction it
// answered allows: a party that answered a=recvonly or a=inactive sends
// nothing until a new exchange lets it (RFC 3264 6.1).
func (l *Leg) muteSender(muted bool) {
	l.mu.Lock()
	s := l.sender
	l.mu.Unlock()
	if s != nil {
		s.SetMuted(muted)
	}
}

var directions = []string{"sendrecv", "sendonly", "recvonly", "inactive"}

// setDirection returns sdpText with its audio direction set to dir.
func setDirection(raw []byte, dir string) ([]byte, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("endpoint: our own SDP: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		kept := m.Attributes[:0]
		for _, a := range m.Attributes {
			if !isDirection(a.Key) {
				kept = append(kept, a)
			}
		}
		m.Attributes = append(kept, sdp.NewPropertyAttribute(dir))
	}
	kept := sd.Attributes[:0]
	for _, a := range sd.Attributes {
		if !isDirection(a.Key) {
			kept = append(kept, a)
		}
	}
	sd.Attributes = kept
	sd.Origin.SessionVersion++
	return sd.Marshal()
}

func isDirection(key string) bool {
	for _, d := range directions {
		if key == d {
			return true
		}
	}
	return false
}

// sdpDirection reads an SDP's audio direction (default sendrecv).
func sdpDirection(raw []byte) string {
	var sd sdp.SessionDescription
	if sd.Unmarshal(raw) != nil {
		return "sendrecv"
	}
	for _, m := range sd.MediaDescriptions {
		for _, a := range m.Attributes {
			if isDirection(a.Key) {
				return a.Key
			}
		}
	}
	for _, a := range sd.Attributes {
		if isDirection(a.Key) {
			return a.Key
		}
	}
	if bytes.Contains(raw, []byte("c=IN IP4 0.0.0.0")) {
		return "inactive"
	}
	return "sendrecv"
}

func mirror(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	}
	return dir
}

// pendingRetries bounds how often a request answered 491 Request Pending is
// sent again.
const pendingRetries = 3

// retryPending sends a mid-dialog request and, while the far end answers
// 491 (it has a request of its own pending on the dialog), sends it again
// after a random wait of up to 2 s, as RFC 3261 14.1 has UAs do.
func retryPending(ctx context.Context, send func() error) error {
	for i := 0; ; i++ {
		err := send()
		var status *sipua.StatusError
		if i == pendingRetries || !errors.As(err, &status) || status.Code != 491 {
			return err
		}
		wait := time.NewTimer(time.Duration(rand.Int64N(int64(2 * time.Second))))
		select {
		case <-ctx.Done():
			wait.Stop()
			return err
		case <-wait.C:
		}
	}
}
