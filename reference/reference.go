// Package reference starts Gauntlet's reference deployment in-process, on
// loopback and free ports, the way httptest.NewServer does: the known-good
// system every suite and scenario runs against when no target is given. In
// this cut it is the WebRTC gateway (see package gateway) and, when
// configured, the TURN relay (package turn); rooms join it later. It
// imports nothing else of Gauntlet.
package reference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

// Config configures the reference deployment.
type Config struct {
	Gateway gateway.Config `yaml:"gateway"`
	// TURN, when set, starts the TURN relay too (turn.DefaultTestConfig
	// suits a deployment on loopback, whose peers are loopback addresses).
	TURN *turn.Config `yaml:"turn"`
	// Rooms, when set, starts the rooms service too, after the TURN relay
	// it hands credentials for (rooms without turn is a config error).
	Rooms *rooms.Config `yaml:"rooms"`
	// Logger is used by every part whose own config sets none; nil discards.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig returns the hardened defaults of every part: the gateway,
// the TURN relay (with loopback peers allowed: every agent here lives on
// loopback) and the rooms service.
func DefaultConfig() Config {
	t := turn.DefaultTestConfig()
	r := rooms.DefaultConfig()
	return Config{Gateway: gateway.DefaultConfig(), TURN: &t, Rooms: &r}
}

// Validate reports the first invalid field of any part.
func (c Config) Validate() error {
	if err := c.Gateway.Validate(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if c.TURN != nil {
		if err := c.TURN.Validate(); err != nil {
			return fmt.Errorf("turn: %w", err)
		}
	}
	return c.validateRooms()
}

// Reference is a running reference deployment.
type Reference struct {
	cfg     Config
	gateway *gateway.Gateway
	turn    *turn.Server
	rooms   *rooms.Server
}

// Start validates cfg, starts every part and returns once all listen. ctx
// bounds the start only; the deployment runs until Close.
func Start(ctx context.Context, cfg Config) (*Reference, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Gateway.Logger == nil {
		cfg.Gateway.Logger = cfg.Logger
	}
	r := &Reference{cfg: cfg}
	if cfg.TURN != nil {
		if err := r.startTURN(ctx); err != nil {
			return nil, err
		}
		r.linkTURN()
	}
	gw, err := gateway.New(r.cfg.Gateway)
	if err == nil {
		err = gw.Start(ctx)
	}
	if err != nil {
		err = fmt.Errorf("reference: %w", err)
		if r.turn != nil {
			err = errors.Join(err, r.turn.Close())
		}
		return nil, err
	}
	r.gateway = gw
	if cfg.Rooms != nil {
		if err := r.startRooms(ctx); err != nil {
			return nil, errors.Join(err, r.Close())
		}
	}
	return r, nil
}

// Gateway returns the running gateway.
func (r *Reference) Gateway() *gateway.Gateway { return r.gateway }

// Close stops every part and returns once all their goroutines have exited.
func (r *Reference) Close() error {
	err := r.gateway.Close()
	if r.rooms != nil {
		err = errors.Join(err, r.rooms.Close())
	}
	if r.turn != nil {
		err = errors.Join(err, r.turn.Close())
	}
	return err
}

// Drain stops every part gently: the gateway refuses new calls and lets
// the current ones run until they end or its drain timeout (or ctx) is over.
func (r *Reference) Drain(ctx context.Context) error {
	return r.gateway.Drain(ctx)
}

// TargetYAML renders a target file that points at the running parts,
// with the users' passwords (the target file keeps them out of reports).
func (r *Reference) TargetYAML() []byte {
	g := r.cfg.Gateway
	var b strings.Builder
	b.WriteString("name: reference\n")
	b.WriteString("authorized: false\n")
	b.WriteString("sip:\n")
	fmt.Fprintf(&b, "  domain: %s\n", scalar(g.Domain))
	secure := false // a TLS listener named: ws over TLS, or tls
	if ws := r.gateway.WSURL(); ws != "" {
		fmt.Fprintf(&b, "  ws: %s\n", ws)
	} else {
		fmt.Fprintf(&b, "  ws: %s\n", r.gateway.WSSURL())
		secure = true
	}
	fmt.Fprintf(&b, "  udp: %s\n", r.gateway.UDPAddr())
	if a := r.gateway.TCPAddr(); a != "" {
		fmt.Fprintf(&b, "  tcp: %s\n", a)
	}
	if a := r.gateway.TLSAddr(); a != "" {
		fmt.Fprintf(&b, "  tls: %s\n", a)
		secure = true
	}
	if secure && r.gateway.RootCAs() != nil {
		// The certificate is self-signed unless the config names one.
		b.WriteString("  insecure_tls: true\n")
	}
	if g.TrunkSRTP == gateway.TrunkSRTPSDES {
		// Phones must speak SDES-SRTP, with the suites the gateway offers.
		b.WriteString("  srtp: sdes\n")
		fmt.Fprintf(&b, "  sdes_suites: [%s]\n", strings.Join(g.SDESSuites, ", "))
	}
	b.WriteString("users:\n")
	fmt.Fprintf(&b, "  webrtc: {pattern: %s, start: %d, password: %s%s}\n", strconv.Quote(g.WebRTCUsers.Pattern), g.WebRTCUsers.Start,
		strconv.Quote(r.gateway.Password(gateway.KindWebRTC)), tokenYAML(g.Auth.JWT))
	fmt.Fprintf(&b, "  sip: {pattern: %s, start: %d, password: %s}\n", strconv.Quote(g.SIPUsers.Pattern), g.SIPUsers.Start,
		strconv.Quote(r.gateway.Password(gateway.KindSIP)))
	r.writeTURN(&b)
	r.writeRooms(&b)
	return []byte(b.String())
}

var plainScalar = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// scalar writes s as a YAML plain scalar when that is safe, else quoted.
func scalar(s string) string {
	if plainScalar.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}
