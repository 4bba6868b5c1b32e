package scenarios

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/dtls/v3"
	"golang.org/x/sync/errgroup"
)

// startParallel bounds how many virtual users connect and register at once.
const startParallel = 32

// user is one virtual user and its lease: a user takes part in one call at
// a time.
type user struct {
	ep    *endpoint.Endpoint // nil when it could not connect or register
	net   *socket.Net        // a room participant's socket layer (rooms populations; no ep)
	err   error              // why ep (or net) is nil
	lease chan struct{}
}

func (u *user) acquire(ctx context.Context) error {
	select {
	case u.lease <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *user) release() { <-u.lease }

// populations are the run's virtual users by population name.
type populations struct {
	byName map[string][]*user
}

// startPopulations connects and registers every virtual user (and gives
// room participants their socket layers). It fails with ErrUnreachable
// only when no user at all reached the target, the rooms service
// included.
func (r *runner) startPopulations(ctx context.Context) (*populations, error) {
	s, t := r.cfg.Scenario, r.cfg.Target
	guard, err := t.Guard(ctx)
	if err != nil {
		return &populations{}, err
	}
	sources, err := t.Sources(ctx)
	if err != nil {
		return &populations{}, err
	}
	pops := &populations{byName: map[string][]*user{}}
	var g errgroup.Group
	g.SetLimit(startParallel)
	for _, p := range s.Populations {
		users := make([]*user, p.Count)
		pops.byName[p.Name] = users
		for i := range users {
			u := &user{lease: make(chan struct{}, 1)}
			users[i] = u
			addrs, err := nextAddrs(p, sources)
			if err != nil {
				return pops, err
			}
			if p.Rooms() {
				u.net, u.err = r.roomUser(p, i, addrs, guard)
				continue
			}
			g.Go(func() error {
				u.ep, u.err = r.startUser(ctx, p, i, addrs, guard)
				return nil
			})
		}
	}
	_ = g.Wait()
	roomsUp, err := r.probeRooms(ctx, pops)
	if err != nil && !pops.anyEndpoint() {
		return pops, err
	}
	if err := pops.reachable(ctx, s.Populations); err != nil && !roomsUp {
		return pops, err
	}
	return pops, nil
}

// reachable reports ErrUnreachable when no user came up and some user
// found nothing there (refused, no answer before the register timeout);
// users that were answered and refused (401, 403) mean the target is up.
func (p *populations) reachable(ctx context.Context, order []Population) error {
	var silent error
	for _, pop := range order {
		for _, u := range p.byName[pop.Name] {
			if u.ep != nil {
				return nil
			}
			if silent == nil && unanswered(u.err) {
				silent = u.err
			}
		}
	}
	if ctx.Err() != nil || silent == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, silent)
}

// unanswered says whether err means the target never answered.
func unanswered(err error) bool {
	return errors.Is(err, sipua.ErrUnreachable) || errors.Is(err, sipua.ErrTransport) ||
		errors.Is(err, sipua.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// startUser brings up virtual user i of population p and registers it; the
// REGISTER (or the failure to connect) becomes a record.
func (r *runner) startUser(ctx context.Context, p Population, i int, addrs userAddrs, guard *socket.Guard) (*endpoint.Endpoint, error) {
	opts, err := r.netOptions(p, i, addrs)
	if err != nil {
		return nil, err
	}
	n, err := socket.New(append(opts, socket.WithGuard(guard), socket.WithLogger(r.log))...)
	if err != nil {
		return nil, err
	}
	cfg, err := r.cfg.Target.EndpointConfig(p, i, n, r.clock)
	if err != nil {
		return nil, err
	}
	cfg.Logger, cfg.SIP.Logger = r.log, r.log
	cfg.DTMF = r.cfg.Scenario.usesDTMF()
	name := cfg.SIP.User
	if p.Direct() {
		// No SIP: nothing to register. Failing to build is a config error.
		return endpoint.New(ctx, cfg)
	}

	regCtx, cancel := context.WithTimeout(ctx, r.cfg.Scenario.Timeouts.Register)
	defer cancel()
	start := time.Now()
	ep, err := endpoint.New(regCtx, cfg)
	if err != nil {
		r.report(reports.Result{
			Kind: reports.KindRegister, ID: "register-" + name, Population: p.Name, From: name,
			Start: start, End: time.Now(), Outcome: reports.OutcomeFailed,
			Cause: reports.CauseUnreachable, Error: err.Error(),
		})
		return nil, err
	}
	res := ep.Register(regCtx)
	res.Population = p.Name
	r.report(res)
	if res.Outcome != reports.OutcomeOK {
		_ = ep.Close()
		if res.Cause == reports.CauseUnreachable || res.Cause == reports.CauseTimeout {
			return nil, fmt.Errorf("%w: %s: REGISTER: %s", sipua.ErrUnreachable, name, res.Error)
		}
		return nil, fmt.Errorf("%s: REGISTER: %s", name, res.Error)
	}
	r.update(func(p *Progress) { p.Registered++ })
	return ep, nil
}

func (r *runner) report(res reports.Result) { r.cfg.Reporter.Add(res) }

// close unregisters (when the run ended normally) and closes every user.
func (p *populations) close(ctx context.Context, unregister bool) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, startParallel)
	for _, users := range p.byName {
		for _, u := range users {
			if u.ep == nil {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if unregister {
					uctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_ = u.ep.Unregister(uctx)
					cancel()
				}
				_ = u.ep.Close()
			}()
		}
	}
	wg.Wait()
}

// EndpointConfig is the configuration of virtual user i of population p
// on this target, on the socket layer n and pacing clock.
func (t *Target) EndpointConfig(p Population, i int, n *socket.Net, clock *media.Clock) (endpoint.Config, error) {
	name, password, err := t.User(p.Name, p.Kind, i)
	if errors.Is(err, ErrNoUsers) && p.Direct() {
		name, password, err = fmt.Sprintf("%s-%d", p.Name, i), "", nil // no SIP login: the name only labels TURN credentials
	}
	if err != nil {
		return endpoint.Config{}, err
	}
	cfg := endpoint.Config{
		Kind:  string(p.Kind),
		SIP:   sipua.Config{Domain: t.SIPDomain(), User: name, Password: password},
		Net:   n,
		Clock: clock,
	}
	if cfg.Codecs, err = mediaCodecs(p.Codecs); err != nil {
		return endpoint.Config{}, err
	}
	switch p.Kind {
	case KindWebRTC:
		u, err := url.Parse(t.SIP.WS)
		if err != nil {
			return endpoint.Config{}, fmt.Errorf("target %s: sip.ws: %w", t.Name, err)
		}
		cfg.SIP.Transport, cfg.SIP.Server = u.Scheme, t.SIP.WS
		if u.Scheme == "wss" {
			// Insecure only when the target file says so.
			cfg.SIP.TLSConfig = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: t.SIP.InsecureTLS}
		}
		if cfg.SRTPProfiles, err = dtlsProfiles(p.SRTPProfiles); err != nil {
			return endpoint.Config{}, err
		}
		cfg.DTLSSetup = string(p.DTLSSetup)
		cfg.ICEPolicy = p.ICEPolicy
		cfg.Direct = p.Direct()
		cfg.SIP.Token, cfg.SIP.TokenInQuery = t.Token(p.Name, p.Kind, name)
		login := TURNLogin{User: name, Password: password, Token: cfg.SIP.Token}
		if cfg.TURNSource, err = t.TURNSource(login, n, p.NoTURN); err != nil {
			return endpoint.Config{}, err
		}
		cfg.TURNTLS = t.TURNTLS()
	default:
		cfg.SDES = t.PhoneSDES()
		switch p.Transport {
		case sipua.TransportTCP:
			cfg.SIP.Transport, cfg.SIP.Server = sipua.TransportTCP, t.SIP.TCP
		case sipua.TransportTLS:
			cfg.SIP.Transport, cfg.SIP.Server = sipua.TransportTLS, t.SIP.TLS
			host, _, _ := net.SplitHostPort(t.SIP.TLS)
			// Insecure only when the target file says so.
			cfg.SIP.TLSConfig = &tls.Config{ServerName: host, InsecureSkipVerify: t.SIP.InsecureTLS, MinVersion: tls.VersionTLS12}
		default:
			cfg.SIP.Transport, cfg.SIP.Server = sipua.TransportUDP, t.SIP.UDP
		}
	}
	return cfg, nil
}

// Guard returns a socket guard that allows what the target file names: its
// SIP hosts (and, always, loopback). Host names are resolved once, here.
func (t *Target) Guard(ctx context.Context) (*socket.Guard, error) {
	g := socket.NewGuard()
	for _, h := range t.hosts() {
		if ip, err := netip.ParseAddr(h); err == nil {
			g.Allow(ip)
			continue
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		if err != nil {
			return nil, fmt.Errorf("%w: resolving %s: %w", ErrUnreachable, h, err)
		}
		for _, ip := range ips {
			g.Allow(ip)
		}
	}
	return g, nil
}

func mediaCodecs(cs []Codec) ([]media.Codec, error) {
	out := make([]media.Codec, 0, len(cs))
	for _, c := range cs {
		mc, err := media.LookupCodec(string(c))
		if err != nil {
			return nil, err
		}
		out = append(out, mc)
	}
	return out, nil
}

var dtlsProfileIDs = map[SRTPProfile]dtls.SRTPProtectionProfile{
	SRTPAES128CMHMACSHA180: dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	SRTPAES128CMHMACSHA132: dtls.SRTP_AES128_CM_HMAC_SHA1_32,
	SRTPAEADAES128GCM:      dtls.SRTP_AEAD_AES_128_GCM,
	SRTPAEADAES256GCM:      dtls.SRTP_AEAD_AES_256_GCM,
	SRTPNullHMACSHA180:     dtls.SRTP_NULL_HMAC_SHA1_80,
	SRTPNullHMACSHA132:     dtls.SRTP_NULL_HMAC_SHA1_32,
}

func dtlsProfiles(ps []SRTPProfile) ([]dtls.SRTPProtectionProfile, error) {
	out := make([]dtls.SRTPProtectionProfile, 0, len(ps))
	for _, p := range ps {
		id, ok := dtlsProfileIDs[p]
		if !ok {
			return nil, fmt.Errorf("%w: SRTP profile %s", ErrUnsupported, p)
		}
		out = append(out, id)
	}
	return out, nil
}
