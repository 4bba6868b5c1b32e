package endpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
)

// Leg is one endpoint's side of a call. Its methods are safe to call from
// several goroutines; Report may be called at any time.
type Leg struct {
	e      *Endpoint
	caller bool
	direct bool // a leg of PlaceDirectCall: no SIP dialog
	start  time.Time
	peer   string // the other party, as dialled or as in From

	mu         sync.Mutex
	sess       media.Leg
	dialog     *sipua.Dialog
	codec      media.Codec
	recv       *media.Receiver
	sender     *media.Sender
	stopSender func()
	connected  time.Time // media path up (DTLS done, or 2xx for plain RTP)
	status     int
	err        error
	cause      string
	end        time.Time
	closed     bool
	local      []byte // our last SDP (offer or answer), re-sent for hold and unhold
	remote     []byte // the far end's last SDP
	dtmf       dtmfState
	paused     uint8     // why the receiver is paused (pauseOwnHold, pauseFarHold), 0: it is not
	reoffers   []Reoffer // the far end's re-offers, answered

	done     chan struct{}
	doneOnce sync.Once
}

func (e *Endpoint) newLeg(caller bool, other string) *Leg {
	return &Leg{e: e, caller: caller, start: time.Now(), peer: other, done: make(chan struct{}), dtmf: dtmfState{pt: -1}}
}

func (e *Endpoint) newSession(ctx context.Context) (media.Leg, error) {
	if e.cfg.Kind == KindWebRTC {
		turn, err := e.turnServers(ctx)
		if err != nil {
			return nil, err
		}
		cfg := peer.Config{
			Net:          e.cfg.Net,
			Certificate:  e.cert,
			SRTPProfiles: e.cfg.SRTPProfiles,
			Setup:        e.cfg.DTLSSetup,
			Policy:       e.cfg.ICEPolicy,
			TURN:         turn,
			TURNTLS:      e.cfg.TURNTLS,
			AllowRemote:  e.cfg.Net.Guard().Allow,
			Logger:       e.log,
		}
		if e.cfg.PeerConfig != nil {
			e.cfg.PeerConfig(&cfg)
		}
		return peer.New(cfg)
	}
	// RTP on an even port, RTCP on the next (RFC 3550 11), as a desk
	// phone has them.
	conn, rtcpConn, err := plainrtp.ListenPair(e.cfg.Net.ListenPacket, e.cfg.Net.SourceIP())
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	l, err := plainrtp.New(plainrtp.Config{Conn: conn, RTCPConn: rtcpConn, AllowRemote: e.cfg.Net.Guard().Allow, Logger: e.log, SDES: e.cfg.SDES})
	if err != nil {
		return nil, errors.Join(err, conn.Close(), rtcpConn.Close())
	}
	return l, nil
}

// turnServers is the TURN servers for one call: TURNSource's, else TURN.
func (e *Endpoint) turnServers(ctx context.Context) ([]*stun.URI, error) {
	if e.cfg.TURNSource == nil {
		return e.cfg.TURN, nil
	}
	uris, err := e.cfg.TURNSource(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTURNServers, err)
	}
	return uris, nil
}

// Dial calls to (a user part or a URI) and returns once media flows toward
// the far end, or the call failed: the Leg is never nil; check Err.
func (e *Endpoint) Dial(ctx context.Context, to string) *Leg {
	l := e.newLeg(true, to)
	if e.ua == nil {
		return l.fail(ErrDirect, reports.CauseSignaling)
	}
	sess, err := e.newSession(ctx)
	if err != nil {
		return l.fail(err, sessionCause(err))
	}
	l.setSession(sess)
	offer, err := sess.Offer(ctx, e.offerCodecs())
	if err != nil {
		return l.fail(err, reports.CauseICE)
	}
	dlg, err := e.ua.Invite(ctx, to, offer)
	if err != nil {
		var status *sipua.StatusError
		if errors.As(err, &status) {
			l.mu.Lock()
			l.status = status.Code
			l.mu.Unlock()
		}
		return l.fail(err, reports.CauseSignaling)
	}
	l.mu.Lock()
	l.dialog, l.status = dlg, 200
	l.mu.Unlock()
	codec, err := sess.SetAnswer(dlg.RemoteSDP)
	if err != nil {
		return l.failAndBye(ctx, err, reports.CauseSignaling)
	}
	local, err := l.keepKeys(dlg.RemoteSDP, offer)
	if err != nil {
		return l.failAndBye(ctx, err, reports.CauseSignaling)
	}
	l.negotiated(local, dlg.RemoteSDP, codec)
	return l.startMedia(ctx, codec)
}

// Accept waits for the next inbound INVITE, answers it and returns once
// media flows, or the call failed: the Leg is never nil; check Err.
func (e *Endpoint) Accept(ctx context.Context) *Leg {
	var inv *sipua.ServerInvite
	if e.ua == nil {
		return e.newLeg(false, "").fail(ErrDirect, reports.CauseSignaling)
	}
	select {
	case <-ctx.Done():
		l := e.newLeg(false, "")
		return l.fail(ctx.Err(), reports.CauseSignaling)
	case inv = <-e.ua.Incoming():
	}
	l := e.newLeg(false, "")
	if inv == nil {
		return l.fail(sipua.ErrClosed, reports.CauseUnreachable)
	}
	l.peer = inv.From
	sess, err := e.newSession(ctx)
	if err != nil {
		_ = inv.Reject(500, "Server Internal Error")
		return l.fail(err, sessionCause(err))
	}
	l.setSession(sess)
	answer, codec, err := sess.Answer(ctx, inv.Offer, e.cfg.Codecs)
	if err != nil {
		_ = inv.Reject(488, "Not Acceptable Here")
		return l.fail(err, reports.CauseSignaling)
	}
	answer = e.answerDTMF(answer, inv.Offer, codec)
	l.negotiated(answer, inv.Offer, codec)
	_ = inv.Ringing()
	l.prepareMedia(codec)
	dlg, err := inv.Answer(ctx, answer)
	if err != nil {
		return l.fail(err, reports.CauseSignaling)
	}
	l.mu.Lock()
	l.dialog, l.status = dlg, 200
	l.mu.Unlock()
	return l.startMedia(ctx, codec)
}

func (l *Leg) setSession(s media.Leg) {
	l.mu.Lock()
	l.sess = s
	l.mu.Unlock()
}

// prepareMedia sets up the receiver before any packet can arrive.
func (l *Leg) prepareMedia(codec media.Codec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recv != nil {
		return
	}
	l.codec = codec
	l.recv = media.NewReceiver(codec)
	recv := l.recv
	l.sess.OnRTP(func(pkt *rtp.Packet, at time.Time) {
		l.observeDTMF(pkt)
		recv.Observe(pkt, at)
	})
}

// startMedia connects the media path and starts sending on the clock.
func (l *Leg) startMedia(ctx context.Context, codec media.Codec) *Leg {
	l.prepareMedia(codec)
	if err := l.sess.Connect(ctx); err != nil {
		return l.failAndBye(ctx, err, reports.CauseICE)
	}
	sender := media.NewSender(codec, l.writer())
	l.mu.Lock()
	l.connected = time.Now()
	l.sender = sender
	l.stopSender = l.e.cfg.Clock.Add(sender)
	dlg := l.dialog
	l.mu.Unlock()
	if dlg == nil {
		return l // a direct call: no dialog to end it or re-INVITE it
	}
	l.answerReInvites(dlg)
	go l.watch(dlg)
	return l
}

// watch closes the leg's media when the dialog ends (the far end's BYE).
func (l *Leg) watch(dlg *sipua.Dialog) {
	select {
	case <-dlg.Done():
		l.stopMedia()
		l.finish()
	case <-l.done:
	}
}

func (l *Leg) fail(err error, fallback string) *Leg {
	l.mu.Lock()
	l.err = err
	l.cause = causeOf(err, fallback)
	l.mu.Unlock()
	l.Close()
	return l
}

func (l *Leg) failAndBye(ctx context.Context, err error, fallback string) *Leg {
	l.mu.Lock()
	dlg := l.dialog
	l.mu.Unlock()
	if dlg != nil {
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = dlg.Bye(byeCtx)
		cancel()
	}
	return l.fail(err, fallback)
}

// Err is why the leg failed to set up; nil for a leg whose media flows.
func (l *Leg) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Leg) finish() { l.doneOnce.Do(func() { close(l.done) }) }

// Done is closed when the far end hung up or the leg was closed.
func (l *Leg) Done() <-chan struct{} { return l.done }

// stopMedia stops sending; receiving goes on until Close.
func (l *Leg) stopMedia() {
	l.mu.Lock()
	stop := l.stopSender
	l.stopSender = nil
	if l.end.IsZero() {
		l.end = time.Now()
	}
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Hangup stops sending and sends BYE.
func (l *Leg) Hangup(ctx context.Context) error {
	l.stopMedia()
	l.mu.Lock()
	dlg := l.dialog
	l.mu.Unlock()
	if dlg == nil {
		return nil
	}
	if err := dlg.Bye(ctx); err != nil && !errors.Is(err, sipua.ErrDialogEnded) {
		return err
	}
	return nil
}

// Close stops media and releases the leg's sockets and goroutines. It does
// not send BYE (see Hangup). Safe to call more than once.
func (l *Leg) Close() error {
	l.stopMedia()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	sess := l.sess
	l.mu.Unlock()
	l.finish()
	if sess != nil {
		return sess.Close()
	}
	return nil
}
