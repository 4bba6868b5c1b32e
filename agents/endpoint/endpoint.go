// Package endpoint composes Gauntlet's virtual endpoints from the agents'
// parts: a browser-like WebRTC agent (SIP over WebSocket, ICE, DTLS-SRTP via
// agents/peer) and a desk phone (SIP over UDP, plain RTP via
// agents/plainrtp). Each endpoint is one virtual user on its own socket
// layer; it registers, places or accepts calls, sends marked 20 ms audio on
// the shared pacing clock and measures what arrives. Combine turns the two
// legs of a call, both owned by the harness, into one reports.Result.
package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/dtls/v3"
	"github.com/pion/stun/v4"
)

// Kinds of endpoint.
const (
	KindWebRTC = "webrtc" // browser-like: SIP over WebSocket, ICE, DTLS-SRTP
	KindSIP    = "sip"    // desk phone: SIP over UDP, plain RTP
)

// ErrConfig reports a Config that cannot work.
var ErrConfig = errors.New("endpoint: bad config")

// Config describes one virtual user.
type Config struct {
	Kind string
	// SIP is the user agent's configuration; New fills DialContext,
	// ListenPacket and LocalIP from Net when they are unset.
	SIP   sipua.Config
	Net   *socket.Net
	Clock *media.Clock
	// Codecs are offered (or accepted) in this order.
	Codecs []media.Codec
	// SRTPProfiles, DTLSSetup and Certificate apply to webrtc endpoints.
	SRTPProfiles []dtls.SRTPProtectionProfile
	DTLSSetup    string
	Certificate  *tls.Certificate
	// ICEPolicy ("all", the default, or "relay"), TURN and TURNTLS apply
	// to webrtc endpoints: the TURN servers with their credentials, and
	// the TLS configuration for turns: URIs.
	ICEPolicy string
	TURN      []*stun.URI
	TURNTLS   *tls.Config
	// TURNSource, when set, gives each call's TURN servers in place of
	// TURN, asked afresh for every call: time-limited credentials (TURN
	// REST, or a deployment's credential endpoint) never go stale over a
	// long run. A call whose source fails fails with cause ice.
	TURNSource func(ctx context.Context) ([]*stun.URI, error)
	// PeerConfig, when set, adjusts each webrtc leg's peer configuration
	// last (attacks use it to offer what a browser would not).
	PeerConfig func(*peer.Config)
	// Direct endpoints have no SIP user agent: they take part only in
	// calls whose SDP the harness hands across (PlaceDirectCall), as two
	// browsers whose own app relays offer and answer.
	Direct bool
	// DTMF offers and accepts RFC 4733 telephone-events (see Leg.SendDTMF).
	DTMF bool
	// SDES, for sip endpoints, lists the SDES-SRTP crypto-suites their
	// media offers and accepts (plainrtp.Config.SDES); empty: plain RTP.
	SDES []string
	// RegisterExpiry is the Expires of REGISTER (default 300 s).
	RegisterExpiry time.Duration
	Logger         *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Kind != KindWebRTC && c.Kind != KindSIP:
		return fmt.Errorf("%w: kind %q (want %s or %s)", ErrConfig, c.Kind, KindWebRTC, KindSIP)
	case c.Net == nil:
		return fmt.Errorf("%w: no socket layer (Net)", ErrConfig)
	case c.Clock == nil:
		return fmt.Errorf("%w: no pacing clock", ErrConfig)
	case len(c.Codecs) == 0:
		return fmt.Errorf("%w: no codecs", ErrConfig)
	}
	return nil
}

// Endpoint is one virtual user.
type Endpoint struct {
	cfg  Config
	log  *slog.Logger
	ua   *sipua.UA
	cert *tls.Certificate

	// Re-registration before the binding expires, started by the first
	// successful Register and stopped by Unregister or Close.
	refreshOnce sync.Once
	stopRefresh context.CancelFunc
	refreshDone chan struct{}
}

// New connects the user's SIP transport (a WebSocket for webrtc, a UDP
// socket for sip). Errors wrap sipua's (ErrUnreachable names the address).
func New(ctx context.Context, cfg Config) (*Endpoint, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RegisterExpiry == 0 {
		cfg.RegisterExpiry = 300 * time.Second
	}
	e := &Endpoint{cfg: cfg, log: cfg.Logger.With("user", cfg.SIP.User)}
	if cfg.Kind == KindWebRTC {
		e.cert = cfg.Certificate
		if e.cert == nil {
			cert, err := peer.NewCertificate()
			if err != nil {
				return nil, err
			}
			e.cert = cert
		}
	}
	if cfg.Direct {
		return e, nil
	}
	sc := cfg.SIP
	if sc.DialContext == nil {
		sc.DialContext = cfg.Net.DialContext
	}
	if sc.ListenPacket == nil {
		sc.ListenPacket = cfg.Net.ListenPacket
	}
	if !sc.LocalIP.IsValid() {
		sc.LocalIP = cfg.Net.SourceIP()
	}
	if sc.Logger == nil {
		sc.Logger = e.log
	}
	ua, err := sipua.New(ctx, sc)
	if err != nil {
		return nil, err
	}
	e.ua = ua
	return e, nil
}

// User is the user part of the endpoint's AOR.
func (e *Endpoint) User() string { return e.cfg.SIP.User }

// Kind is KindWebRTC or KindSIP.
func (e *Endpoint) Kind() string { return e.cfg.Kind }

// Subprotocol is what the WebSocket 101 echoed (webrtc endpoints).
func (e *Endpoint) Subprotocol() string {
	if e.ua == nil {
		return ""
	}
	return e.ua.Subprotocol()
}

// Register sends REGISTER and returns its record.
func (e *Endpoint) Register(ctx context.Context) reports.Result {
	r := reports.Result{Kind: reports.KindRegister, ID: "register-" + e.User(), From: e.User(), Start: time.Now()}
	if e.ua == nil {
		r.End, r.Outcome, r.Cause, r.Error = r.Start, reports.OutcomeFailed, reports.CauseRegister, ErrDirect.Error()
		return r
	}
	status, err := e.ua.Register(ctx, e.cfg.RegisterExpiry)
	r.End = time.Now()
	r.SIPStatus = status
	r.Phases.SignalingMS = ms(r.End.Sub(r.Start))
	if err != nil {
		r.Outcome, r.Error = reports.OutcomeFailed, err.Error()
		r.Cause = causeOf(err, reports.CauseRegister)
		return r
	}
	r.Outcome = reports.OutcomeOK
	e.keepRegistered()
	return r
}

// keepRegistered re-REGISTERs at half the expiry, as user agents do, so
// that a run longer than the expiry keeps its bindings.
func (e *Endpoint) keepRegistered() {
	e.refreshOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.stopRefresh, e.refreshDone = cancel, make(chan struct{})
		go func() {
			defer close(e.refreshDone)
			t := time.NewTicker(e.cfg.RegisterExpiry / 2)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				rctx, done := context.WithTimeout(ctx, 30*time.Second)
				if _, err := e.ua.Register(rctx, e.cfg.RegisterExpiry); err != nil && ctx.Err() == nil {
					e.log.Warn("re-REGISTER failed", "err", err)
				}
				done()
			}
		}()
	})
}

// stopRefreshing ends re-registration and waits for it.
func (e *Endpoint) stopRefreshing() {
	e.refreshOnce.Do(func() {}) // none may start after this
	if e.stopRefresh != nil {
		e.stopRefresh()
		<-e.refreshDone
	}
}

// Unregister removes the binding (best effort at the end of a run).
func (e *Endpoint) Unregister(ctx context.Context) error {
	e.stopRefreshing()
	if e.ua == nil {
		return nil
	}
	return e.ua.Unregister(ctx)
}

// Close closes the SIP transport; legs still open end with it.
func (e *Endpoint) Close() error {
	e.stopRefreshing()
	if e.ua == nil {
		return nil
	}
	return e.ua.Close()
}

// causeOf classifies an error into a failure cause; fallback is used when
// nothing more specific applies.
func causeOf(err error, fallback string) string {
	var status *sipua.StatusError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return reports.CauseCanceled
	// A media phase that ran out of time failed in that phase: the cause
	// names it (the message says it timed out).
	case errors.Is(err, peer.ErrFingerprint), errors.Is(err, peer.ErrDTLS):
		return reports.CauseDTLS
	case errors.Is(err, peer.ErrICE):
		return reports.CauseICE
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sipua.ErrTimeout):
		return reports.CauseTimeout
	case errors.Is(err, sipua.ErrUnreachable), errors.Is(err, sipua.ErrHandshake),
		errors.Is(err, sipua.ErrTransport), errors.Is(err, sipua.ErrClosed):
		return reports.CauseUnreachable
	case errors.As(err, &status):
		return fallback
	}
	return fallback
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
