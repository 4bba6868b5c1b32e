package attack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// TURNEnv is the target's TURN relays and how to get credentials.
type TURNEnv struct {
	// URLs are TURN URIs (RFC 7065): turn:host:port?transport=udp|tcp,
	// turns:host:port.
	URLs []string
	// RESTSecret, when set, mints TURN REST credentials (HMAC-SHA1 of
	// "expiry:user"); else Username and Password are static.
	RESTSecret         string
	Username, Password string
	InsecureTLS        bool // accept a turns: certificate that does not verify

	// LoopbackPeers says the deployment relays to loopback peers on
	// purpose (a relay on the test machine whose peers live on loopback,
	// as the embedded reference's do): turn-abuse then leaves 127.0.0.0/8,
	// ::1 and ::ffff:127.0.0.1 out of its deny-list probes. Off, a relay
	// that grants a permission toward its own loopback is VULNERABLE.
	LoopbackPeers bool
	// AllocationQuota is the per-user allocation quota the deployment
	// promises; turn-abuse expects 486 by the allocation after it. 0 expects
	// one within DefaultQuotaProbe allocations.
	AllocationQuota int
	// BandwidthCap is the per-allocation relayed bandwidth the deployment
	// promises, in bits per second and direction; turn-abuse offers three
	// times that and expects at most half as much again to come through. 0
	// offers DefaultBandwidthProbe and expects a cap well below it.
	BandwidthCap int64
}

func (t TURNEnv) configured() bool { return len(t.URLs) > 0 }

// turnAttacks are the attacks on TURN relays.
func turnAttacks() []Attack {
	return []Attack{
		{
			Name:    "turn-abuse",
			Summary: "unauthenticated, expired and edited credentials; CreatePermission/ChannelBind toward denied peers; per-user quota; bandwidth cap (RFC 8656)",
			Needs:   []string{"turn"},
			Run:     TURNAbuse,
		},
	}
}

// ErrNoUDPServer is wrapped when the target names no TURN server over UDP.
var ErrNoUDPServer = errors.New("attack: the target names no turn: URL over UDP")

// udpServer returns the first TURN server reachable over UDP, preferring
// IPv4 (the attack's source addresses are IPv4 loopback).
func (t TURNEnv) udpServer(ctx context.Context) (netip.AddrPort, error) {
	var v6 netip.AddrPort
	for _, raw := range t.URLs {
		u, err := stun.ParseURI(raw)
		if err != nil || u.Scheme != stun.SchemeTypeTURN || u.Proto != stun.ProtoTypeUDP {
			continue
		}
		addrs, err := resolveTURNHost(ctx, u.Host)
		if err != nil {
			return netip.AddrPort{}, err
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a.Unmap(), uint16(u.Port))
			if ap.Addr().Is4() {
				return ap, nil
			}
			if !v6.IsValid() {
				v6 = ap
			}
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.AddrPort{}, fmt.Errorf("%w (URLs: %s)", ErrNoUDPServer, strings.Join(t.URLs, ", "))
}

func resolveTURNHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("attack: resolve TURN host %q: %w", host, err)
	}
	return addrs, nil
}

// rest reports whether the env mints TURN REST credentials.
func (t TURNEnv) rest() bool { return t.RESTSecret != "" }

// credentials returns credentials for user, valid an hour: minted from
// the REST secret, else the static user's (whatever user says).
func (t TURNEnv) credentials(user string) (username, password string) {
	if t.rest() {
		return turnload.RESTCredentials(t.RESTSecret, user, time.Now().Add(time.Hour))
	}
	return t.Username, t.Password
}

// turnRunID names an attack run's TURN users, so repeated runs against one
// relay do not share quota.
func turnRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// turnSession is what one TURN attack run shares: the server, a socket
// layer on its own source address (with the capture), and the clients it
// opened, closed together.
type turnSession struct {
	env     *Env
	server  netip.AddrPort
	net     *socket.Net
	capture *Capture
	user    string // prefix of this run's user names
	clients []*turnload.Client
	// allocated are the clients holding an allocation, deleted at close.
	allocated []*turnload.Client
}

func openTURNSession(ctx context.Context, env *Env, name string) (*turnSession, error) {
	server, err := env.TURN.udpServer(ctx)
	if err != nil {
		return nil, err
	}
	capture, err := env.NewCapture(name)
	if err != nil {
		return nil, err
	}
	n, err := env.Net(capture.Option())
	if err != nil {
		return nil, errors.Join(err, capture.Close())
	}
	return &turnSession{env: env, server: server, net: n, capture: capture, user: "gauntlet-" + name + "-" + turnRunID()}, nil
}

// dial connects a client with the given credentials ("" for none).
func (s *turnSession) dial(ctx context.Context, username, password string, onData func(netip.AddrPort, []byte, time.Time)) (*turnload.Client, error) {
	c, err := turnload.Dial(ctx, turnload.ClientConfig{
		Net: s.net, Server: s.server, Username: username, Password: password,
		OnData: onData, Logger: s.env.Logger(),
	})
	if err != nil {
		return nil, err
	}
	s.clients = append(s.clients, c)
	return c, nil
}

// userClient dials a client with valid credentials for the run's user named
// suffix.
func (s *turnSession) userClient(ctx context.Context, suffix string, onData func(netip.AddrPort, []byte, time.Time)) (*turnload.Client, error) {
	u, p := s.env.TURN.credentials(s.user + "-" + suffix)
	return s.dial(ctx, u, p, onData)
}

// allocate asks c for a UDP relay and remembers to delete it at close.
func (s *turnSession) allocate(ctx context.Context, c *turnload.Client, extra ...stun.Setter) (turnload.Allocation, error) {
	a, err := c.Allocate(ctx, 0, extra...)
	if err == nil {
		s.allocated = append(s.allocated, c)
	}
	return a, err
}

// release deletes the allocations of the clients opened since mark (a
// len of s.clients taken earlier) and closes them, so that a check's
// allocations do not count toward the next check's quota. Deleting is best
// effort and bounded: a relay that does not answer lets them expire.
func (s *turnSession) release(mark int) error {
	if mark > len(s.clients) {
		return nil
	}
	done := s.clients[mark:]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var errs []error
	for _, c := range done {
		if slices.Contains(s.allocated, c) {
			rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, _ = c.Refresh(rctx, 0) // nothing to do about a failed delete: the allocation expires
			rcancel()
		}
		errs = append(errs, c.Close())
	}
	s.allocated = slices.DeleteFunc(s.allocated, func(c *turnload.Client) bool { return slices.Contains(done, c) })
	s.clients = s.clients[:mark]
	return errors.Join(errs...)
}

// close releases every client and closes the capture.
func (s *turnSession) close() error {
	return errors.Join(s.release(0), s.capture.Close())
}
