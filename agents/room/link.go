package room

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

type linkState int

const (
	linkSetup linkState = iota
	linkUp
	linkFailed
)

// link is the leg between the participant and one other participant.
type link struct {
	p       *Participant
	peerID  string
	offerer bool
	start   time.Time
	answer  chan []byte

	mu         sync.Mutex
	leg        *peer.Peer
	codec      media.Codec
	recv       *media.Receiver
	sender     *media.Sender
	stopSender func()
	connected  time.Time
	end        time.Time
	st         linkState
	err        error
	cause      string
	closed     bool
}

func newLink(p *Participant, id string, offerer bool) *link {
	return &link{p: p, peerID: id, offerer: offerer, start: time.Now(), answer: make(chan []byte, 1)}
}

func (l *link) state() linkState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *link) deliverAnswer(sdp []byte) {
	select {
	case l.answer <- sdp:
	default:
	}
}

// run sets the leg up: offer and wait for the answer, or answer offer;
// then ICE, DTLS and media on the clock.
func (l *link) run(offer []byte) {
	p := l.p
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.NegotiationTimeout)
	defer cancel()
	leg, err := peer.New(peer.Config{
		Net:         p.cfg.Net,
		Certificate: p.cfg.Certificate,
		Policy:      p.Policy(),
		TURN:        p.turn,
		TURNTLS:     p.cfg.TURNTLS,
		AllowRemote: p.cfg.Net.Guard().Allow,
		Logger:      p.log.With("peer", l.peerID),
	})
	if err != nil {
		l.fail(err, reports.CauseICE)
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = leg.Close()
		return
	}
	l.leg = leg
	l.mu.Unlock()

	var codec media.Codec
	if l.offerer {
		sdp, err := leg.Offer(ctx, p.cfg.Codecs)
		if err != nil {
			l.fail(err, reports.CauseICE)
			return
		}
		if err := p.send(Message{Type: TypeOffer, To: l.peerID, SDP: string(sdp)}); err != nil {
			l.fail(fmt.Errorf("room: sending the offer: %w", err), reports.CauseSignaling)
			return
		}
		var ans []byte
		select {
		case ans = <-l.answer:
		case <-ctx.Done():
			l.fail(fmt.Errorf("room: no answer from %s: %w", l.peerID, ctx.Err()), reports.CauseSignaling)
			return
		}
		if codec, err = leg.SetAnswer(ans); err != nil {
			l.fail(err, reports.CauseSignaling)
			return
		}
		l.prepare(codec)
	} else {
		sdp, c, err := leg.Answer(ctx, offer, p.cfg.Codecs)
		if err != nil {
			l.fail(err, reports.CauseSignaling)
			return
		}
		codec = c
		l.prepare(codec)
		if err := p.send(Message{Type: TypeAnswer, To: l.peerID, SDP: string(sdp)}); err != nil {
			l.fail(fmt.Errorf("room: sending the answer: %w", err), reports.CauseSignaling)
			return
		}
	}
	if err := leg.Connect(ctx); err != nil {
		l.fail(err, reports.CauseICE)
		return
	}
	sender := media.NewSender(codec, leg.WriteRTP)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.end.IsZero() {
		return
	}
	l.connected, l.sender, l.st = time.Now(), sender, linkUp
	l.stopSender = p.cfg.Clock.Add(sender)
}

// prepare sets the receiver up before any packet can arrive.
func (l *link) prepare(codec media.Codec) {
	recv := media.NewReceiver(codec)
	l.mu.Lock()
	l.codec, l.recv = codec, recv
	leg := l.leg
	l.mu.Unlock()
	leg.OnRTP(func(pkt *rtp.Packet, at time.Time) { recv.Observe(pkt, at) })
}

func (l *link) fail(err error, fallback string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == linkSetup {
		l.st, l.err, l.cause = linkFailed, err, causeOf(err, fallback)
	}
	if l.end.IsZero() {
		l.end = time.Now()
	}
}

// peerLeft ends the leg's measurement when the other participant left.
func (l *link) peerLeft() { l.stop(time.Now()) }

// stop stops sending and ends the measurement at now (once).
func (l *link) stop(now time.Time) {
	l.mu.Lock()
	stop := l.stopSender
	l.stopSender = nil
	if l.end.IsZero() {
		l.end = now
	}
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (l *link) close() error {
	l.stop(time.Now())
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	leg := l.leg
	l.mu.Unlock()
	if leg != nil {
		return leg.Close()
	}
	return nil
}

// PeerReport is what one leg of a participant saw.
type PeerReport struct {
	Peer      string // the other participant's session
	Offerer   bool
	Start     time.Time // the leg's setup began
	Connected time.Time // media ready (SRTP keyed)
	End       time.Time
	Err       error
	Cause     string
	Codec     media.Codec
	Media     media.LegReport
	Sent      int    // packets this leg sent
	SendTag   uint64 // the tag in this leg's payload marks
	Recv      media.Stats
}

func (l *link) report() PeerReport {
	l.mu.Lock()
	r := PeerReport{
		Peer: l.peerID, Offerer: l.offerer, Start: l.start, Connected: l.connected, End: l.end,
		Err: l.err, Cause: l.cause, Codec: l.codec,
	}
	leg, recv, sender := l.leg, l.recv, l.sender
	l.mu.Unlock()
	if r.End.IsZero() {
		r.End = time.Now()
	}
	if leg != nil {
		r.Media = leg.Report()
	}
	if recv != nil {
		r.Recv = recv.Stats()
	}
	if sender != nil {
		r.Sent, r.SendTag = sender.Sent(), sender.Tag()
	}
	return r
}
