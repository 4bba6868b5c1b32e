package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// Sides of a call, for faults: the party that called and the one called
// (a transfer target takes the side of the party it replaces).
const (
	sideCaller = iota
	sideCallee
)

// leg is one party of a call: its dialog with the gateway and its media.
type leg struct {
	c         *call
	side      int
	kind      string // KindWebRTC or KindSIP: how its media is carried
	user      string
	transport string
	log       *slog.Logger

	uas *uas // a caller's leg: the INVITE the gateway answers
	uac *uac // a callee's leg: the INVITE the gateway sent

	dir  atomic.Value // string: the party's own media direction (its last offer or answer)
	drop atomic.Bool  // a fault drops what the party sends

	peer atomic.Pointer[leg] // where its media goes

	mu         sync.Mutex
	dlg        *dialog
	up         bool // the dialog is confirmed: it needs a BYE
	web        *webrtcLeg
	rtp        *rtpLeg
	chosen     chosen // the negotiated codec, with this leg's payload types
	sessID     uint64 // plain SDP o= session and version
	version    uint64
	reinviting bool // a re-INVITE on this dialog is in progress (491 for another)
	mediaDone  bool
}

func (c *call) newLeg(side int, kind, user, transport string) *leg {
	l := &leg{c: c, side: side, kind: kind, user: user, transport: strings.ToUpper(transport), sessID: sessionID(), version: 1}
	l.log = c.log.With("leg", user, "side", side)
	l.dir.Store(dirSendRecv)
	for _, f := range c.faults {
		if f.Name == FaultDropMedia && (f.Direction == DirCallerToCallee) == (side == sideCaller) {
			l.drop.Store(true)
			l.log.Warn("fault injected", "fault", f.Name, "direction", f.Direction, "seed", f.Seed, "share", f.Share)
		}
	}
	return l
}

func (l *leg) media() mediaEnd {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.web != nil {
		return l.web
	}
	if l.rtp != nil {
		return l.rtp
	}
	return nil
}

func (l *leg) dialog() *dialog {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dlg
}

func (l *leg) direction() string { return l.dir.Load().(string) }

// sends reports whether the party wants to send (its direction allows it).
func (l *leg) sends() bool {
	d := l.direction()
	return d == dirSendRecv || d == dirSendOnly
}

// receives reports whether the party wants media.
func (l *leg) receives() bool {
	d := l.direction()
	return d == dirSendRecv || d == dirRecvOnly
}

// forward relays one packet from this leg's party to its peer's party,
// unless one of them holds the call or a fault drops it.
func (l *leg) forward(k pktKind, p *rtp.Packet) {
	to := l.peer.Load()
	if to == nil || l.drop.Load() || !l.sends() || !to.receives() {
		return
	}
	m := to.media()
	if m == nil {
		return
	}
	if err := m.send(k, p); err != nil {
		l.log.Debug("rtp relay", "error", err)
	}
}

// startMedia begins relaying what this leg's party sends.
func (l *leg) startMedia() {
	l.mu.Lock()
	if l.mediaDone {
		l.mu.Unlock()
		return
	}
	l.mediaDone = true
	l.mu.Unlock()
	if m := l.media(); m != nil {
		m.start(l.c.work.Go, l.forward)
	}
}

// link makes a and b each other's peer.
func link(a, b *leg) {
	a.peer.Store(b)
	b.peer.Store(a)
}

// closeMedia closes the leg's media.
func (l *leg) closeMedia() error {
	l.mu.Lock()
	web, r := l.web, l.rtp
	l.mu.Unlock()
	var errs []error
	if web != nil {
		errs = append(errs, web.close())
	}
	if r != nil {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}

// bye ends the leg's dialog if it is up.
func (l *leg) bye(ctx context.Context) error {
	l.mu.Lock()
	d, up := l.dlg, l.up
	l.up = false
	l.mu.Unlock()
	if !up || d == nil {
		return nil
	}
	return d.bye(ctx)
}

// beginReinvite marks a re-INVITE on the leg's dialog; false means one is
// already in progress (491).
func (l *leg) beginReinvite() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reinviting {
		return false
	}
	l.reinviting = true
	return true
}

func (l *leg) endReinvite() {
	l.mu.Lock()
	l.reinviting = false
	l.mu.Unlock()
}
