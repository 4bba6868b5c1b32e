// Package peer is one WebRTC media leg built on pion's ice, dtls and srtp
// packages directly (not pion/webrtc's PeerConnection): ICE over the agent's
// own socket layer, DTLS-SRTP keyed from the DTLS exporter, one audio stream,
// and every datagram of the leg shown to a wire.Observer so the report says
// what was negotiated as seen on the wire.
//
// A leg is used in order: New, then Offer and SetAnswer (offerer) or Answer
// (answerer), OnRTP, Connect, WriteRTP as often as needed, Report, Close.
package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v4"
)

// Errors a leg returns, wrapped with detail.
var (
	ErrFingerprint  = errors.New("peer: DTLS certificate does not match the SDP fingerprint")
	ErrICE          = errors.New("peer: ICE failed")
	ErrDTLS         = errors.New("peer: DTLS handshake failed")
	ErrNoCodec      = errors.New("peer: no codec in common")
	ErrState        = errors.New("peer: call made out of order")
	ErrNotConnected = errors.New("peer: not connected")
	ErrClosed       = errors.New("peer: closed")
	ErrConfig       = errors.New("peer: bad config")
)

// Candidate policies (reports.ICE.Policy).
const (
	PolicyAll   = "all"
	PolicyRelay = "relay"
)

// DefaultSRTPProfiles are offered when Config.SRTPProfiles is empty.
var DefaultSRTPProfiles = []dtls.SRTPProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM,
	dtls.SRTP_AES128_CM_HMAC_SHA1_80,
}

// Config configures one leg.
type Config struct {
	Net          transport.Net                // the agent's socket layer (socket.Net)
	Certificate  *tls.Certificate             // ECDSA P-256, once per agent: see NewCertificate
	SRTPProfiles []dtls.SRTPProtectionProfile // offered, in order (default DefaultSRTPProfiles)
	Setup        string                       // our a=setup in offers: "actpass" (default), "active", "passive"
	Policy       string                       // "all" (default) or "relay"
	TURN         []*stun.URI                  // TURN servers with credentials; needed for "relay"
	// TURNTLS verifies turns: servers (RootCAs, ServerName); nil means
	// the system roots and the URL's host (see turn.go).
	TURNTLS *tls.Config
	// AllowRemote, if set, is called with each remote candidate's address
	// before ICE may send to it (the socket guard's Allow).
	AllowRemote func(netip.Addr)
	// DTLSOptions are appended after the leg's own DTLS options, so they
	// override them (attacks offer weak suites, hook the ClientHello, ...).
	DTLSOptions []dtls.Option
	// DTLSServerOptions are appended when the leg is the DTLS server
	// (server-only hooks such as dtls.WithServerHelloMessageHook).
	DTLSServerOptions []dtls.ServerOption
	// WrapConn, when set, wraps the leg's ICE conn once ICE has connected:
	// every datagram the leg sends after that (DTLS, SRTP, SRTCP) goes
	// through the wrapper's Write and every one it reads through its Read.
	// Attacks use it to rewrite, withhold or inject datagrams past ICE;
	// what the wrapper writes still goes through the socket layer's guard.
	WrapConn func(net.Conn) net.Conn
	// LocalSDP, when set, rewrites each description the leg gives out (offer
	// or answer) before it leaves: attacks offer what a browser would not,
	// e.g. an MD5 fingerprint.
	LocalSDP func([]byte) []byte
	// RemoteSDP, when set, is shown each description the far end sent, as
	// received, before the leg parses it.
	RemoteSDP func([]byte)
	// ReplayWindow is the SRTP replay window (default 64). Set it below 0
	// to switch replay protection off (attacks against the harness itself).
	ReplayWindow int
	// RTCPInterval is the mean time between the leg's RTCP reports (default
	// media.DefaultRTCPInterval); below 0 the leg sends none (it still
	// reads the far end's).
	RTCPInterval time.Duration
	Logger       *slog.Logger
}

// Peer is one WebRTC media leg.
type Peer struct {
	cfg      Config
	log      *slog.Logger
	agent    *ice.Agent
	localFP  fingerprint
	observer *wire.Observer
	ssrc     uint32
	cname    string

	gathered  chan struct{}
	candMu    sync.Mutex
	cands     []ice.Candidate
	gatherErr error

	mu         sync.Mutex
	stage      stage
	offerer    bool
	dtlsClient bool
	remote     remoteDesc
	codec      media.Codec
	onRTP      func(*rtp.Packet, time.Time)
	iceConn    *ice.Conn
	conn       net.Conn // iceConn, or the WrapConn around it: the leg's I/O
	dtlsConn   *dtls.Conn
	iceMS      float64
	dtlsMS     float64
	connected  time.Time
	closed     bool

	fpMismatch atomic.Bool
	tx         atomic.Pointer[sender]
	wg         sync.WaitGroup
	stats      legStats
	rtcp       rtcpLeg
	arrivals   *arrivals // when RTP reached the sockets
}

type stage int

const (
	stageNew        stage = iota
	stageOffered          // our offer is out
	stageNegotiated       // remote description applied
	stageConnecting
	stageConnected
)

// New creates a leg and its ICE agent (no socket is opened before Offer or
// Answer gathers).
func New(cfg Config) (*Peer, error) {
	if cfg.Net == nil {
		return nil, fmt.Errorf("%w: Net is required", ErrConfig)
	}
	if cfg.Certificate == nil || len(cfg.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("%w: Certificate is required (NewCertificate makes one)", ErrConfig)
	}
	if cfg.Setup == "" {
		cfg.Setup = SetupActpass
	}
	switch cfg.Setup {
	case SetupActpass, SetupActive, SetupPassive:
	default:
		return nil, fmt.Errorf("%w: Setup %q: want actpass, active or passive", ErrConfig, cfg.Setup)
	}
	if cfg.Policy == "" {
		cfg.Policy = PolicyAll
	}
	candTypes := []ice.CandidateType{ice.CandidateTypeHost, ice.CandidateTypeServerReflexive, ice.CandidateTypeRelay}
	switch cfg.Policy {
	case PolicyAll:
		if len(cfg.TURN) == 0 {
			candTypes = []ice.CandidateType{ice.CandidateTypeHost}
		}
	case PolicyRelay:
		if len(cfg.TURN) == 0 {
			return nil, fmt.Errorf("%w: Policy relay needs TURN servers", ErrConfig)
		}
		candTypes = []ice.CandidateType{ice.CandidateTypeRelay}
	default:
		return nil, fmt.Errorf("%w: Policy %q: want all or relay", ErrConfig, cfg.Policy)
	}
	if len(cfg.SRTPProfiles) == 0 {
		cfg.SRTPProfiles = DefaultSRTPProfiles
	}
	for _, p := range cfg.SRTPProfiles {
		if _, err := srtpProfile(p); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if cfg.ReplayWindow == 0 {
		cfg.ReplayWindow = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	fp, err := certFingerprint("sha-256", cfg.Certificate.Certificate[0])
	if err != nil {
		return nil, err
	}
	arr := &arrivals{}
	opts := []ice.AgentOption{
		ice.WithNet(arr.wrap(cfg.Net)),
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes(candTypes),
		ice.WithIncludeLoopback(),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithLoggerFactory(slogFactory{cfg.Logger}),
	}
	if len(cfg.TURN) > 0 {
		opts = append(opts, ice.WithUrls(cfg.TURN))
		opts = append(opts, turnOptions(cfg)...)
	}
	if cfg.Policy == PolicyRelay {
		opts = append(opts, ice.WithRelayAcceptanceMinWait(0))
	}
	agent, err := ice.NewAgentWithOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrICE, err)
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.Logger,
		agent:    agent,
		localFP:  fp,
		observer: wire.NewObserver(),
		ssrc:     rand.Uint32() | 1,
		cname:    randomToken(16),
		gathered: make(chan struct{}),
		arrivals: arr,
	}
	if err := agent.OnCandidate(p.onCandidate); err != nil {
		_ = agent.Close()
		return nil, fmt.Errorf("%w: %w", ErrICE, err)
	}
	return p, nil
}

func (p *Peer) onCandidate(c ice.Candidate) {
	if c == nil {
		close(p.gathered)
		return
	}
	p.candMu.Lock()
	p.cands = append(p.cands, c)
	p.candMu.Unlock()
}

// gather runs complete (non-trickle) gathering and returns the candidates.
func (p *Peer) gather(ctx context.Context) ([]ice.Candidate, error) {
	if err := p.agent.GatherCandidates(); err != nil {
		return nil, fmt.Errorf("%w: gathering: %w", ErrICE, err)
	}
	select {
	case <-p.gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: gathering: %w", ErrICE, ctx.Err())
	}
	p.candMu.Lock()
	defer p.candMu.Unlock()
	if len(p.cands) == 0 {
		return nil, fmt.Errorf("%w: no candidate gathered (policy %s)", ErrICE, p.cfg.Policy)
	}
	return append([]ice.Candidate(nil), p.cands...), nil
}

func (p *Peer) localDesc(ctx context.Context, setup, mid string, codecs []media.Codec) ([]byte, error) {
	cands, err := p.gather(ctx)
	if err != nil {
		return nil, err
	}
	ufrag, pwd, err := p.agent.GetLocalUserCredentials()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrICE, err)
	}
	return p.describe(localDesc{
		sessionID: newSessionID(), ufrag: ufrag, pwd: pwd, fp: p.localFP,
		setup: setup, mid: mid, codecs: codecs, cands: forSDP(cands, p.cfg.Policy),
		ssrc: p.ssrc, cname: p.cname,
	})
}

// describe writes d, rewritten by LocalSDP when it is set.
func (p *Peer) describe(d localDesc) ([]byte, error) {
	b, err := buildSDP(d)
	if err != nil || p.cfg.LocalSDP == nil {
		return b, err
	}
	return p.cfg.LocalSDP(b), nil
}

// parseRemote shows the far end's description to RemoteSDP and parses it.
func (p *Peer) parseRemote(b []byte) (remoteDesc, error) {
	if p.cfg.RemoteSDP != nil {
		p.cfg.RemoteSDP(b)
	}
	return parseSDP(b)
}

// Offer gathers candidates (complete, no trickle) and returns our SDP offer
// listing codecs in order of preference.
func (p *Peer) Offer(ctx context.Context, codecs []media.Codec) ([]byte, error) {
	if len(codecs) == 0 {
		return nil, fmt.Errorf("%w: offer without codecs", ErrNoCodec)
	}
	p.mu.Lock()
	if err := p.expect(stageNew); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.stage = stageOffered
	p.offerer = true
	p.mu.Unlock()
	return p.localDesc(ctx, p.cfg.Setup, "0", codecs)
}

// Answer applies the far end's offer, picks the first offered codec that is
// one of codecs (the offerer's preference wins), gathers, and returns our SDP
// answer and the negotiated codec (with the offer's payload type).
func (p *Peer) Answer(ctx context.Context, offer []byte, codecs []media.Codec) ([]byte, media.Codec, error) {
	r, err := p.parseRemote(offer)
	if err != nil {
		return nil, media.Codec{}, err
	}
	codec, ok := media.PickCodec(r.codecs, codecs)
	if !ok {
		return nil, media.Codec{}, fmt.Errorf("%w: offered %v, have %v", ErrNoCodec, r.codecs, codecs)
	}
	// RFC 5763 5: an answer is active or passive; active is preferred.
	setup := SetupActive
	switch r.setup {
	case SetupActive:
		setup = SetupPassive
	case SetupActpass:
		if p.cfg.Setup == SetupPassive {
			setup = SetupPassive
		}
	}
	p.mu.Lock()
	if err := p.expect(stageNew); err != nil {
		p.mu.Unlock()
		return nil, media.Codec{}, err
	}
	p.stage = stageNegotiated
	p.remote, p.codec, p.dtlsClient = r, codec, setup == SetupActive
	p.mu.Unlock()
	p.addRemoteCandidates(r.cands)

	mid := r.mid
	if mid == "" {
		mid = "0"
	}
	ours := codec
	for _, c := range codecs {
		if c.Same(codec) {
			ours.Fmtp = c.Fmtp
		}
	}
	answer, err := p.localDesc(ctx, setup, mid, []media.Codec{ours})
	if err != nil {
		return nil, media.Codec{}, err
	}
	return answer, codec, nil
}

// SetAnswer applies the far end's answer to our offer and returns the
// negotiated codec (the answer's first codec that we offered).
func (p *Peer) SetAnswer(answer []byte) (media.Codec, error) {
	r, err := p.parseRemote(answer)
	if err != nil {
		return media.Codec{}, err
	}
	var client bool
	switch {
	case r.setup == SetupActpass:
		return media.Codec{}, fmt.Errorf("%w: an answer must not say a=setup:actpass", ErrSDP)
	case p.cfg.Setup == SetupActive && r.setup != SetupPassive,
		p.cfg.Setup == SetupPassive && r.setup != SetupActive:
		return media.Codec{}, fmt.Errorf("%w: we offered setup %s, the answer says %s", ErrSDP, p.cfg.Setup, r.setup)
	default:
		client = r.setup == SetupPassive
	}
	p.mu.Lock()
	if err := p.expect(stageOffered); err != nil {
		p.mu.Unlock()
		return media.Codec{}, err
	}
	if len(r.codecs) == 0 {
		p.mu.Unlock()
		return media.Codec{}, fmt.Errorf("%w: the answer has no codec we know", ErrNoCodec)
	}
	p.stage = stageNegotiated
	p.remote, p.codec, p.dtlsClient = r, r.codecs[0], client
	codec := p.codec
	p.mu.Unlock()
	p.addRemoteCandidates(r.cands)
	return codec, nil
}

func (p *Peer) addRemoteCandidates(raw []string) {
	for _, v := range raw {
		c, err := ice.UnmarshalCandidate(v)
		if err != nil {
			p.log.Debug("remote candidate skipped", "candidate", v, "err", err)
			continue
		}
		if a, err := netip.ParseAddr(c.Address()); err == nil && p.cfg.AllowRemote != nil {
			p.cfg.AllowRemote(a)
		}
		if err := p.agent.AddRemoteCandidate(c); err != nil {
			p.log.Debug("remote candidate refused", "candidate", v, "err", err)
		}
	}
}

// expect checks the stage; the caller holds p.mu.
func (p *Peer) expect(want stage) error {
	if p.closed {
		return ErrClosed
	}
	if p.stage != want {
		return fmt.Errorf("%w (stage %d, want %d)", ErrState, p.stage, want)
	}
	return nil
}

var _ media.Leg = (*Peer)(nil)

// SSRC returns the SSRC the leg declares in its SDP (a=ssrc) and sends
// with: WriteRTP puts it on every packet on the wire.
func (p *Peer) SSRC() uint32 { return p.ssrc }

func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// OnRTP sets the function called with each decrypted RTP packet and its
// arrival time, on the leg's read goroutine. Set it before Connect. The
// packet and its payload are only valid during the call.
func (p *Peer) OnRTP(fn func(pkt *rtp.Packet, arrival time.Time)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRTP = fn
}

// srtpProfile maps a DTLS use_srtp profile to pion/srtp's (same numbers).
func srtpProfile(p dtls.SRTPProtectionProfile) (srtp.ProtectionProfile, error) {
	switch p {
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AES128_CM_HMAC_SHA1_32,
		dtls.SRTP_NULL_HMAC_SHA1_80, dtls.SRTP_NULL_HMAC_SHA1_32,
		dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM:
		return srtp.ProtectionProfile(p), nil
	}
	return 0, fmt.Errorf("peer: SRTP profile %#04x not supported", uint16(p))
}
