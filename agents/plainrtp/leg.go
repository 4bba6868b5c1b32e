// Package plainrtp is the phone-side media leg: plain RTP/AVP, or SRTP
// keyed in the SDP (SDES, RFC 4568: RTP/SAVP), over one UDP socket from the
// agent's socket layer, with the same method set as peer.Peer (media.Leg),
// so a SIP agent drives it the way a browser agent drives a WebRTC leg.
package plainrtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/pion/rtp"
)

// Errors a leg returns, wrapped with detail.
var (
	ErrSDP          = errors.New("plainrtp: unusable remote SDP")
	ErrNoCodec      = errors.New("plainrtp: no codec in common")
	ErrState        = errors.New("plainrtp: call made out of order")
	ErrNotConnected = errors.New("plainrtp: not connected")
	ErrClosed       = errors.New("plainrtp: closed")
	ErrConfig       = errors.New("plainrtp: bad config")
)

// Config configures one leg.
type Config struct {
	// Conn is the leg's UDP socket, from the agent's socket layer
	// (socket.Net.ListenPacket). The leg owns it: Close closes it.
	Conn net.PacketConn
	// AllowRemote, if set, is called with the remote SDP's media address
	// before anything is sent to it (the socket guard's Allow).
	AllowRemote func(netip.Addr)
	Logger      *slog.Logger
	// RTCPConn, if set, is the leg's RTCP socket, on the RTP port + 1
	// (see ListenPair): RTCP is sent and read there unless rtcp-mux is
	// negotiated. The leg owns it: Close closes it.
	RTCPConn net.PacketConn
	// RTCPMux offers rtcp-mux (RFC 5761), or accepts it when offered:
	// RTCP then shares the RTP socket. With neither RTCPConn nor
	// rtcp-mux negotiated the leg has no RTCP.
	RTCPMux bool
	// RTCPInterval is the mean time between reports (default
	// media.DefaultRTCPInterval); below 0 the leg sends none.
	RTCPInterval time.Duration
	// SDES lists the SDES-SRTP crypto-suites (SDESSuites names them) the
	// leg offers, in order, and accepts. Empty: plain RTP/AVP only, and an
	// RTP/SAVP offer is refused. Set: the leg offers RTP/SAVP with one
	// a=crypto per suite, answers an RTP/SAVP offer with one a=crypto (the
	// first offered line it can use), refuses plain RTP/AVP, and sends and
	// receives SRTP and SRTCP with replay protection.
	SDES []string
}

// Leg is one plain RTP media leg.
type Leg struct {
	conn  net.PacketConn
	local netip.AddrPort
	cfg   Config
	log   *slog.Logger

	mu         sync.Mutex
	stage      stage
	remote     net.Addr
	codec      media.Codec
	onRTP      func(*rtp.Packet, time.Time)
	connected  time.Time
	closed     bool
	rtp        int
	rtcpCount  int
	rejected   int
	authFailed int

	suites  []sdesSuite  // Config.SDES resolved
	offered []cryptoLine // our offer's a=crypto lines
	sdes    *sdesSession // nil: plain RTP
	dbuf    []byte       // decryption buffer of the RTP socket's reader

	wmu  sync.Mutex
	buf  []byte
	sbuf []byte // the sealed packet, under wmu
	wg   sync.WaitGroup

	rtcp rtcpState
}

type stage int

const (
	stageNew stage = iota
	stageOffered
	stageNegotiated
	stageConnected
)

var _ media.Leg = (*Leg)(nil)

// New returns a leg on cfg.Conn, whose local address goes into the SDP.
func New(cfg Config) (*Leg, error) {
	if cfg.Conn == nil {
		return nil, fmt.Errorf("%w: Conn is required", ErrConfig)
	}
	local, err := netip.ParseAddrPort(cfg.Conn.LocalAddr().String())
	if err != nil || local.Addr().IsUnspecified() {
		return nil, fmt.Errorf("%w: local address %v is not a usable media address", ErrConfig, cfg.Conn.LocalAddr())
	}
	suites, err := configSuites(cfg.SDES)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Leg{conn: cfg.Conn, local: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), cfg: cfg, log: cfg.Logger, suites: suites}, nil
}

// Offer returns our SDP offer listing codecs in order of preference.
func (l *Leg) Offer(_ context.Context, codecs []media.Codec) ([]byte, error) {
	if len(codecs) == 0 {
		return nil, fmt.Errorf("%w: offer without codecs", ErrNoCodec)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.expect(stageNew); err != nil {
		return nil, err
	}
	offered, err := offerCrypto(l.suites)
	if err != nil {
		return nil, err
	}
	b, err := buildSDP(l.local, codecs, l.sdpRTCP(l.cfg.RTCPMux), offered)
	if err != nil {
		return nil, err
	}
	l.offered = offered
	l.stage = stageOffered
	return b, nil
}

// Answer applies the far end's offer, picks the first offered codec that is
// one of codecs, and returns our answer and the negotiated codec.
func (l *Leg) Answer(_ context.Context, offer []byte, codecs []media.Codec) ([]byte, media.Codec, error) {
	r, err := parseSDP(offer)
	if err != nil {
		return nil, media.Codec{}, err
	}
	codec, ok := media.PickCodec(r.codecs, codecs)
	if !ok {
		return nil, media.Codec{}, fmt.Errorf("%w: offered %v, have %v", ErrNoCodec, r.codecs, codecs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.expect(stageNew); err != nil {
		return nil, media.Codec{}, err
	}
	sess, err := l.answerCrypto(r)
	if err != nil {
		return nil, media.Codec{}, err
	}
	var crypto []cryptoLine
	if sess != nil {
		crypto = []cryptoLine{sess.local}
	}
	mux := l.cfg.RTCPMux && r.rtcpMux
	b, err := buildSDP(l.local, []media.Codec{codec}, l.sdpRTCP(mux), crypto)
	if err != nil {
		return nil, media.Codec{}, err
	}
	l.sdes = sess
	l.apply(r, codec, mux)
	return b, codec, nil
}

// SetAnswer applies the far end's answer to our offer and returns the
// negotiated codec (the answer's first codec).
func (l *Leg) SetAnswer(answer []byte) (media.Codec, error) {
	r, err := parseSDP(answer)
	if err != nil {
		return media.Codec{}, err
	}
	if len(r.codecs) == 0 {
		return media.Codec{}, fmt.Errorf("%w: the answer has no codec we know", ErrNoCodec)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.expect(stageOffered); err != nil {
		return media.Codec{}, err
	}
	sess, err := l.acceptCrypto(r)
	if err != nil {
		return media.Codec{}, err
	}
	l.sdes = sess
	l.apply(r, r.codecs[0], l.cfg.RTCPMux && r.rtcpMux)
	return r.codecs[0], nil
}

// apply records the remote description; the caller holds l.mu.
func (l *Leg) apply(r remoteDesc, codec media.Codec, mux bool) {
	if l.cfg.AllowRemote != nil {
		l.cfg.AllowRemote(r.addr.Addr())
	}
	l.remote = net.UDPAddrFromAddrPort(r.addr)
	l.codec = codec
	l.stage = stageNegotiated
	l.negotiateRTCP(r, mux)
}

func (l *Leg) expect(want stage) error {
	if l.closed {
		return ErrClosed
	}
	if l.stage != want {
		return fmt.Errorf("%w (stage %d, want %d)", ErrState, l.stage, want)
	}
	return nil
}

// OnRTP sets the function called with each RTP packet and its arrival time,
// on the leg's read goroutine. Set it before Connect. The packet and its
// payload are only valid during the call.
func (l *Leg) OnRTP(fn func(pkt *rtp.Packet, arrival time.Time)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onRTP = fn
}

// Connect starts the read loop; media may flow from then on.
func (l *Leg) Connect(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.expect(stageNegotiated); err != nil {
		return err
	}
	l.stage = stageConnected
	l.connected = time.Now()
	onRTP := l.onRTP
	l.wg.Go(func() { l.readLoop(onRTP) })
	l.startRTCP()
	return nil
}

// readLoop is the leg's one read goroutine; it ends when the socket closes.
func (l *Leg) readLoop(onRTP func(*rtp.Packet, time.Time)) {
	buf := make([]byte, 8192)
	var pkt rtp.Packet
	for {
		n, _, arrival, err := socket.ReadFromStamped(l.conn, buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Debug("plain RTP read ended", "err", err)
			}
			return
		}
		b := buf[:n]
		switch {
		case n >= 2 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223:
			l.count(&l.rtcpCount)
			if b, ok := l.openRTCP(b); ok {
				l.handleRTCP(b, arrival)
			}
		case n >= 12 && b[0]>>6 == 2:
			var ok bool
			if b, ok = l.openRTP(b); !ok {
				continue
			}
			if pkt.Unmarshal(b) != nil {
				l.count(&l.rejected)
				continue
			}
			l.count(&l.rtp)
			if s := l.rtcp.sess; s != nil {
				s.OnReceive(&pkt.Header, arrival)
			}
			if onRTP != nil {
				onRTP(&pkt, arrival)
			}
		default:
			l.count(&l.rejected)
		}
	}
}

func (l *Leg) count(field *int) {
	l.mu.Lock()
	*field++
	l.mu.Unlock()
}

// WriteRTP sends pkt to the remote SDP's media address.
func (l *Leg) WriteRTP(pkt *rtp.Packet) error {
	l.mu.Lock()
	remote, ok := l.remote, l.stage == stageConnected && !l.closed
	l.mu.Unlock()
	if !ok {
		return ErrNotConnected
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	size := pkt.MarshalSize()
	if cap(l.buf) < size {
		l.buf = make([]byte, size, size+64)
	}
	n, err := pkt.MarshalTo(l.buf[:size])
	if err != nil {
		return fmt.Errorf("plainrtp: marshal RTP: %w", err)
	}
	raw, err := l.sealRTP(l.buf[:n])
	if err != nil {
		return err
	}
	if _, err := l.conn.WriteTo(raw, remote); err != nil {
		return fmt.Errorf("plainrtp: send: %w", err)
	}
	if s := l.rtcpSession(); s != nil {
		s.OnSend(&pkt.Header, len(pkt.Payload), time.Now())
	}
	return nil
}

// Report returns the negotiated codec, when media became ready, the
// packet counts and, once the remote SDP is applied, Security.TrunkSRTP:
// what the SDP exchange negotiated ("SDES <suite>", or "none" for plain
// RTP). ICE and the DTLS figures stay empty.
func (l *Leg) Report() media.LegReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := media.LegReport{
		Codec:        l.codec,
		Connected:    l.connected,
		RTPReceived:  l.rtp,
		RTCPReceived: l.rtcpCount,
		Rejected:     l.rejected,
		AuthFailed:   l.authFailed,
		RTCP:         l.rtcpStatsLocked(),
	}
	if l.stage >= stageNegotiated {
		r.Security.TrunkSRTP = "none"
		if l.sdes != nil {
			r.Security.TrunkSRTP = l.sdes.name()
		}
	}
	return r
}

// Close closes the socket and waits for the read goroutine.
func (l *Leg) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := errors.Join(l.conn.Close(), l.stopRTCP())
	l.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("plainrtp: close: %w", err)
	}
	return nil
}
