package peer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// relay is a TURN server (pion/turn) on loopback for ICE tests: UDP, TCP
// and TLS listeners, one static user, every peer allowed. It also answers
// STUN Binding requests.
type relay struct {
	udp, tcp, tls netip.AddrPort
	roots         *x509.CertPool
}

const relayUser, relayPass, relayRealm = "agent", "agent-password", "gauntlet.test"

func startRelay(t *testing.T) *relay {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, roots := selfSigned(t)
	tlsLn, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"}
	}
	key := turn.GenerateAuthKey(relayUser, relayRealm, relayPass)
	srv, err := turn.NewServer(turn.ServerConfig{
		LoggerFactory: &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled},
		Realm:         relayRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == relayUser
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen()}},
		ListenerConfigs: []turn.ListenerConfig{
			{Listener: tcp, RelayAddressGenerator: gen()},
			{Listener: tlsLn, RelayAddressGenerator: gen()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ap := func(a net.Addr) netip.AddrPort { return netip.MustParseAddrPort(a.String()) }
	return &relay{udp: ap(udp.LocalAddr()), tcp: ap(tcp.Addr()), tls: ap(tlsLn.Addr()), roots: roots}
}

// urls are the ICE servers for a TURN mode: STUN always, TURN over UDP
// from TURNUDP, over TCP and TLS with TURNAll.
func (r *relay) urls(mode nat.TURN) ([]*stun.URI, error) {
	raw := []string{fmt.Sprintf("stun:%s", r.udp)}
	if mode >= nat.TURNUDP {
		raw = append(raw, fmt.Sprintf("turn:%s?transport=udp", r.udp))
	}
	if mode == nat.TURNAll {
		raw = append(raw, fmt.Sprintf("turn:%s?transport=tcp", r.tcp), fmt.Sprintf("turns:%s?transport=tcp", r.tls))
	}
	var out []*stun.URI
	for _, s := range raw {
		u, err := stun.ParseURI(s)
		if err != nil {
			return nil, err
		}
		if u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS {
			u.Username, u.Password = relayUser, relayPass
		}
		out = append(out, u)
	}
	return out, nil
}

func (r *relay) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: r.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test relay"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// natAddrs hands out loopback addresses for agents behind NATs: private
// ones in 127.20/16 and public ones in 127.21/16, unused by the rest.
var natAddrs atomic.Uint32

func nextNATAddrs() (private, public netip.Addr) {
	n := natAddrs.Add(1)
	hi, lo := byte(n/250), byte(n%250+1)
	return netip.AddrFrom4([4]byte{127, 20, hi, lo}), netip.AddrFrom4([4]byte{127, 21, hi, lo})
}

// behind returns the socket layer of an agent behind typ: a NAT, a
// firewall (allowing TCP to tcpPort for TCPOnePort), or nothing for Open.
func behind(typ nat.Type, tcpPort uint16) (*socket.Net, error) {
	private, public := nextNATAddrs()
	opts, err := nat.SocketOptions(typ, private, public, tcpPort)
	if err != nil {
		return nil, err
	}
	return socket.New(opts...)
}
