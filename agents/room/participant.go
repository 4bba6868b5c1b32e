// Package room is the room agent: one participant of a browser-to-browser
// room (the anonymous-voice model), as a browser would be. It creates or
// joins a room on a rooms service (docs/rooms.md), gets a room token and
// TURN credentials for its session, opens the signaling WebSocket, and
// negotiates one WebRTC leg (agents/peer: ICE, DTLS-SRTP) with each other
// participant: the newcomer offers to those already there. Each leg sends
// marked 20 ms audio on the shared media.Clock and measures what arrives,
// as the call agents do. Every signaling message that reaches the
// participant goes through the leak inspector (InspectMessage) first.
// Results turns the participants' reports into one record each.
//
// All of a participant's sockets come from its own socket.Net (one
// loopback source address, behind the guard).
package room

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/stun/v4"
)

// DefaultNegotiationTimeout bounds one leg's offer-to-media setup.
const DefaultNegotiationTimeout = 15 * time.Second

// Config configures one participant.
type Config struct {
	URL   string       // the rooms service's base URL (http:// or https://)
	Net   *socket.Net  // the participant's socket layer: its own source address
	Clock *media.Clock // the shared pacing clock
	// Codecs are offered (or accepted) in this order (default Opus, PCMU).
	Codecs []media.Codec
	// OfferAll makes the participant offer host and server-reflexive
	// candidates besides relay ones (ICE policy all, with the TURN relay's
	// UDP address as its STUN server), as a browser not set to relay-only
	// would: what a service's candidate filter must then strip.
	OfferAll bool
	// UseTURN picks which of the service's TURN URLs the participant uses
	// (default: turn: over UDP to an IPv4 address).
	UseTURN func(*stun.URI) bool
	// TURNTLS verifies turns: servers (see peer.Config.TURNTLS).
	TURNTLS *tls.Config
	// Certificate is the DTLS certificate (default: a fresh one).
	Certificate *tls.Certificate
	// NegotiationTimeout bounds each leg's setup (default
	// DefaultNegotiationTimeout).
	NegotiationTimeout time.Duration
	Logger             *slog.Logger
}

// Participant is one member of a room.
type Participant struct {
	cfg    Config
	log    *slog.Logger
	client *Client
	ctx    context.Context // the participant's lifetime, ended by Leave and Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the signaling reader and each leg's setup

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change of state
	room      string
	session   string
	start     time.Time
	joined    time.Time
	sig       *Signal
	turn      []*stun.URI
	relays    []netip.Addr
	links     map[string]*link
	inspected int
	leaks     []reports.Leak
	service   []string // errors the service reported
	err       error
	cause     string
	leaving   bool
	final     *Report
	readerEnd chan struct{}
	joinedMsg chan Message
}

// New checks cfg and returns a participant not yet in any room.
func New(cfg Config) (*Participant, error) {
	switch {
	case cfg.Net == nil:
		return nil, fmt.Errorf("%w: no socket layer (Net)", ErrConfig)
	case cfg.Clock == nil:
		return nil, fmt.Errorf("%w: no pacing clock", ErrConfig)
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []media.Codec{media.Opus, media.PCMU}
	}
	if cfg.UseTURN == nil {
		cfg.UseTURN = UDPv4
	}
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Certificate == nil {
		cert, err := peer.NewCertificate()
		if err != nil {
			return nil, err
		}
		cfg.Certificate = cert
	}
	c, err := NewClient(cfg.URL, cfg.Net)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Participant{
		cfg: cfg, log: cfg.Logger.With("agent", "room", "source", cfg.Net.SourceIP()),
		client: c, ctx: ctx, cancel: cancel,
		changed: make(chan struct{}), links: map[string]*link{},
		joinedMsg: make(chan Message, 1),
	}, nil
}

// UDPv4 keeps turn: URLs over UDP whose host is an IPv4 address.
func UDPv4(u *stun.URI) bool {
	a, err := netip.ParseAddr(u.Host)
	return u.Scheme == stun.SchemeTypeTURN && u.Proto == stun.ProtoTypeUDP && err == nil && a.Is4()
}

// Client is the participant's HTTP client of the rooms API.
func (p *Participant) Client() *Client { return p.client }

// Create makes a new room on the service and returns its ID.
func (p *Participant) Create(ctx context.Context) (string, error) {
	return p.client.Create(ctx)
}

// Policy is the participant's ICE candidate policy.
func (p *Participant) Policy() string {
	if p.cfg.OfferAll {
		return peer.PolicyAll
	}
	return peer.PolicyRelay
}

// Join enters room: a token, TURN credentials, the signaling connection,
// and an offer to each participant already there. It returns once the
// service said "joined"; the legs come up in the background (WaitPeers).
func (p *Participant) Join(ctx context.Context, room string) error {
	p.mu.Lock()
	if p.room != "" {
		p.mu.Unlock()
		return fmt.Errorf("%w: already joined %s", ErrState, p.room)
	}
	p.room, p.start = room, time.Now()
	p.mu.Unlock()
	if err := p.join(ctx, room); err != nil {
		p.fail(err, reports.CauseSignaling)
		return err
	}
	return nil
}

func (p *Participant) join(ctx context.Context, room string) error {
	j, err := p.client.Join(ctx, room)
	if err != nil {
		return err
	}
	ice, err := p.client.Credentials(ctx, room, j.Token)
	if err != nil {
		return err
	}
	uris, relays, err := p.iceServers(ice)
	if err != nil {
		return err
	}
	sig, err := DialSignal(ctx, p.cfg.Net, p.client.WSURL(room, j.WS), j.Token)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.session, p.turn, p.relays, p.sig = j.Session, uris, relays, sig
	p.readerEnd = make(chan struct{})
	p.mu.Unlock()
	p.wg.Go(p.readLoop)
	select {
	case m := <-p.joinedMsg:
		p.mu.Lock()
		p.joined = time.Now()
		if m.ID != "" {
			p.session = m.ID
		}
		p.mu.Unlock()
		for _, id := range m.Peers {
			p.startLink(id, true, nil)
		}
		return nil
	case <-p.readerEnd:
		return fmt.Errorf("%w: the signaling connection ended before joined", ErrSignalClosed)
	case <-ctx.Done():
		return fmt.Errorf("room: waiting for joined: %w", ctx.Err())
	}
}

// iceServers turns the credentials answer into the legs' ICE servers and
// the relays' addresses (which the leak inspector allows).
func (p *Participant) iceServers(s ICEServer) ([]*stun.URI, []netip.Addr, error) {
	var out []*stun.URI
	var relays []netip.Addr
	for _, raw := range s.URLs {
		u, err := stun.ParseURI(raw)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(u.Host); err == nil {
			relays = append(relays, a.Unmap())
		}
		if !p.cfg.UseTURN(u) {
			continue
		}
		u.Username, u.Password = s.Username, s.Credential
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("%w: credentials: none of the TURN URLs %v is usable", ErrRefused, s.URLs)
	}
	if p.cfg.OfferAll {
		out = append(out, &stun.URI{Scheme: stun.SchemeTypeSTUN, Host: out[0].Host, Port: out[0].Port, Proto: stun.ProtoTypeUDP})
	}
	return out, relays, nil
}

// readLoop inspects and dispatches every message until the connection ends.
func (p *Participant) readLoop() {
	defer func() {
		p.mu.Lock()
		close(p.readerEnd)
		p.notifyLocked()
		p.mu.Unlock()
	}()
	for {
		b, err := p.sig.Read()
		if err != nil {
			p.mu.Lock()
			leaving := p.leaving
			p.mu.Unlock()
			if !leaving && p.ctx.Err() == nil {
				p.log.Debug("room: signaling ended", "error", err)
				p.fail(fmt.Errorf("room: signaling: %w", err), reports.CauseDropped)
			}
			return
		}
		p.receive(b)
	}
}

func (p *Participant) receive(b []byte) {
	p.mu.Lock()
	relays := p.relays
	p.mu.Unlock()
	leaks := InspectMessage(b, relays...)
	var m Message
	_ = json.Unmarshal(b, &m)
	p.mu.Lock()
	p.inspected++
	p.leaks = append(p.leaks, leaks...)
	p.mu.Unlock()
	switch m.Type {
	case TypeJoined:
		select {
		case p.joinedMsg <- m:
		default:
		}
	case TypeOffer:
		p.startLink(m.From, false, []byte(m.SDP))
	case TypeAnswer:
		p.mu.Lock()
		l := p.links[m.From]
		p.mu.Unlock()
		if l != nil {
			l.deliverAnswer([]byte(m.SDP))
		}
	case TypePeerLeft:
		p.mu.Lock()
		l := p.links[m.ID]
		p.mu.Unlock()
		if l != nil {
			l.peerLeft()
		}
	case TypeError:
		p.mu.Lock()
		p.service = append(p.service, fmt.Sprintf("%d %s", m.Code, m.Error))
		p.mu.Unlock()
	}
}

// startLink brings up the leg with participant id: as the offerer, or as
// the answerer of offer.
func (p *Participant) startLink(id string, offerer bool, offer []byte) {
	p.mu.Lock()
	if id == "" || p.links[id] != nil || p.leaving || p.ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	l := newLink(p, id, offerer)
	p.links[id] = l
	p.notifyLocked()
	p.wg.Go(func() {
		l.run(offer)
		p.mu.Lock()
		p.notifyLocked()
		p.mu.Unlock()
	})
	p.mu.Unlock()
}

func (p *Participant) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Participant) fail(err error, fallback string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err, p.cause = err, causeOf(err, fallback)
	}
	p.notifyLocked()
}

// send writes one signaling message.
func (p *Participant) send(m Message) error {
	p.mu.Lock()
	sig := p.sig
	p.mu.Unlock()
	if sig == nil {
		return fmt.Errorf("%w: not joined", ErrState)
	}
	return sig.Send(m)
}

// WaitPeers returns once legs with n other participants are up (media
// flowing) or have failed; an error says how many came up.
func (p *Participant) WaitPeers(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		up, settled := 0, 0
		for _, l := range p.links {
			switch l.state() {
			case linkUp:
				up++
				settled++
			case linkFailed:
				settled++
			}
		}
		err := p.err
		ch, end := p.changed, p.readerEnd
		p.mu.Unlock()
		switch {
		case err != nil:
			return err
		case up >= n:
			return nil
		case settled >= n:
			return fmt.Errorf("%w: %d of %d legs came up", ErrNoPeer, up, n)
		}
		select {
		case <-ch:
		case <-end:
			end = nil
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d legs up: %w", ErrNoPeer, up, n, ctx.Err())
		}
	}
}

// Leave stops sending, says leave, waits for the service to close the
// signaling connection (or ctx), then releases every leg. The report is
// taken before the legs close. Safe to call more than once.
func (p *Participant) Leave(ctx context.Context) error {
	p.mu.Lock()
	if p.leaving {
		p.mu.Unlock()
		return nil
	}
	p.leaving = true
	sig, end := p.sig, p.readerEnd
	links := p.linksLocked()
	p.mu.Unlock()
	now := time.Now()
	for _, l := range links {
		l.stop(now)
	}
	var err error
	if sig != nil {
		if err = sig.Send(Message{Type: TypeLeave}); err == nil {
			select {
			case <-end:
			case <-ctx.Done():
				err = fmt.Errorf("room: leave: %w", ctx.Err())
			}
		}
	}
	rep := p.Report()
	p.mu.Lock()
	p.final = &rep
	p.mu.Unlock()
	return errors.Join(err, p.Close())
}

func (p *Participant) linksLocked() []*link {
	out := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		out = append(out, l)
	}
	return out
}

// Close ends the participant at once (no leave message) and returns once
// its goroutines have exited. Safe to call more than once.
func (p *Participant) Close() error {
	p.mu.Lock()
	p.leaving = true
	sig := p.sig
	links := p.linksLocked()
	p.mu.Unlock()
	p.cancel()
	var err error
	if sig != nil {
		if cerr := sig.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	for _, l := range links {
		l.stop(time.Now())
	}
	p.wg.Wait()
	for _, l := range links {
		err = errors.Join(err, l.close())
	}
	p.client.Close()
	return err
}
