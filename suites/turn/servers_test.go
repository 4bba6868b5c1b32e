package turn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

// Settings every server under test runs with, so that one spec fits all.
const (
	quota        = 3     // allocations per username
	capBytes     = 32000 // relayed payload per allocation and direction, bytes/s
	restTTL      = time.Hour
	realmDefault = "gauntlet.test"
)

// server is one TURN server the suite runs against, and what it is known
// to do differently from RFC 8656 (specs skip those with the reason).
type server struct {
	name    string
	udp     netip.AddrPort // IPv4 UDP (and TCP, for coturn) listener
	udp6    netip.AddrPort
	tcp     netip.AddrPort
	tls     netip.AddrPort
	tlsCA   []byte // PEM the TLS listener's certificate chains to
	realm   string
	secrets []string // TURN REST secrets, current first
	// rfc6062 is set when the server relays TCP (it then answers a TCP
	// REQUESTED-TRANSPORT over UDP with 400 instead of 442).
	rfc6062 bool
	// self is a listen address the peer policy must refuse, if the server
	// can refuse its own address with loopback peers allowed.
	self       netip.AddrPort
	deviations map[string]string
	stop       func() error
}

// Known deviations, by the id specs ask for.
const (
	devUnknownTransport442 = "unknown-transport-442"
	devNoAllocation437     = "no-allocation-437"
	devChannelRange8656    = "channel-range-8656"
)

func (s *server) deviation(id string) {
	if why, ok := s.deviations[id]; ok {
		Skip(fmt.Sprintf("%s: known deviation: %s", s.name, why))
	}
}

var (
	sourcesMu sync.Mutex
	sources   = socket.NewSources()
)

// client connects a TURN client from its own loopback source address.
func (s *server) client(ctx context.Context, transport string, addr netip.AddrPort, username, password string) *turnload.Client {
	GinkgoHelper()
	cfg := turnload.ClientConfig{Server: addr, Transport: transport, Username: username, Password: password}
	src := netip.IPv6Loopback()
	if addr.Addr().Is4() {
		sourcesMu.Lock()
		var err error
		src, err = sources.Next()
		sourcesMu.Unlock()
		Expect(err).NotTo(HaveOccurred())
	}
	n, err := socket.New(socket.WithSourceIP(src))
	Expect(err).NotTo(HaveOccurred())
	cfg.Net = n
	if transport == turnload.TransportTLS {
		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM(s.tlsCA)).To(BeTrue())
		cfg.TLS = &tls.Config{RootCAs: pool, ServerName: addr.Addr().String(), MinVersion: tls.VersionTLS12}
	}
	c, err := turnload.Dial(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// user returns fresh TURN REST credentials for a new user name.
func (s *server) user(prefix string) (username, password string) {
	return turnload.RESTCredentials(s.secrets[0], fmt.Sprintf("%s%d", prefix, userSeq.Add(1)), time.Now().Add(restTTL))
}

var userSeq atomic.Int64

// udpClient is a UDP client over IPv4 with fresh credentials.
func (s *server) udpClient(ctx context.Context) *turnload.Client {
	GinkgoHelper()
	u, p := s.user("u")
	return s.client(ctx, turnload.TransportUDP, s.udp, u, p)
}

// startReference starts the reference relay with the suite's settings.
func startReference(ctx context.Context) (*server, error) {
	cfg := turn.DefaultTestConfig()
	cfg.Realm = realmDefault
	cfg.Secrets = []string{"suite-current-secret-0123456789", "suite-previous-secret-0123456789"}
	cfg.MaxAllocationsPerUser = quota
	cfg.BandwidthBitsPerSecond = capBytes * 8
	cfg.Logger = suiteLogger()
	r, err := turn.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return &server{
		name:       "reference",
		udp:        r.UDPAddrs()[0],
		udp6:       r.UDPAddrs()[1],
		tcp:        r.TCPAddrs()[0],
		tls:        r.TLSAddrs()[0],
		tlsCA:      r.CertificatePEM(),
		realm:      cfg.Realm,
		secrets:    cfg.Secrets,
		self:       r.UDPAddrs()[0],
		deviations: map[string]string{},
		stop:       r.Close,
	}, nil
}
