package turn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// coturnDeviations are what coturn 4.6.1 (Debian 12) is known to do
// differently from RFC 8656; the specs that check them skip with these
// reasons against coturn.
var coturnDeviations = map[string]string{
	devUnknownTransport442: "coturn answers a REQUESTED-TRANSPORT other than UDP or TCP with 400; RFC 8656 7.2 asks for 442",
	devNoAllocation437:     "coturn answers CreatePermission and ChannelBind on a 5-tuple without an allocation with 400; RFC 8656 5 asks for 437 (its Refresh does answer 437)",
	devChannelRange8656:    "coturn accepts channel numbers up to 0x7FFF (the RFC 5766 range); RFC 8656 12 allows 0x4000-0x4FFF only",
}

// coturnDenied is the deny-by-default peer list of CONFORMANCE.md in
// coturn's denied-peer-ip syntax, loopback left out (the suite's peers live
// there), multicast covered by no-multicast-peers, and the unspecified
// "::-::" left out too: coturn 4.6.1 then refuses every IPv4 peer of a
// client that is not on 127.0.0.1 ("denied in the range: ::-::").
var coturnDenied = []string{
	"0.0.0.0-0.255.255.255",
	"10.0.0.0-10.255.255.255",
	"100.64.0.0-100.127.255.255",
	"169.254.0.0-169.254.255.255",
	"172.16.0.0-172.31.255.255",
	"192.168.0.0-192.168.255.255",
	"240.0.0.0-255.255.255.255",
	"::ffff:0.0.0.0-::ffff:255.255.255.255",
	"64:ff9b::-64:ff9b::ffff:ffff",
	"fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	"fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
}

// startCoturn runs turnserver on loopback-only ports with a generated
// configuration matching the reference's suite settings.
func startCoturn(ctx context.Context, bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "gauntlet-coturn-")
	if err != nil {
		return nil, err
	}
	s, err := runCoturn(ctx, bin, dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return s, nil
}

func runCoturn(ctx context.Context, bin, dir string) (*server, error) {
	certPEM, err := writeCert(dir)
	if err != nil {
		return nil, err
	}
	// coturn also binds port+1 of each listener (RFC 5780 alternate ports).
	loopbacks := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	port, err := fixture.FreePortPair(loopbacks...)
	if err != nil {
		return nil, err
	}
	tlsPort, err := fixture.FreePortPair(loopbacks...)
	if err != nil {
		return nil, err
	}
	secrets := []string{"coturn-current-secret-0123456789", "coturn-previous-secret-0123456789"}
	lines := []string{
		"listening-ip=::1", fmt.Sprintf("tls-listening-port=%d", tlsPort),
		"realm=" + realmDefault, "static-auth-secret=" + secrets[0], "static-auth-secret=" + secrets[1],
		fmt.Sprintf("user-quota=%d", quota), fmt.Sprintf("max-bps=%d", capBytes),
		"max-allocate-lifetime=3600",
		"no-tlsv1", "no-tlsv1_1", "no-multicast-peers", "allow-loopback-peers",
		"cert=" + filepath.Join(dir, "cert.pem"), "pkey=" + filepath.Join(dir, "key.pem"),
	}
	for _, d := range coturnDenied {
		lines = append(lines, "denied-peer-ip="+d)
	}
	ct, err := fixture.StartCoturn(ctx, fixture.CoturnConfig{Bin: bin, Dir: dir, Port: port, Lines: lines})
	if err != nil {
		return nil, err
	}
	udp := ct.Addr()
	return &server{
		name:       "coturn",
		udp:        udp,
		udp6:       netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)),
		tcp:        udp,
		tls:        netip.AddrPortFrom(udp.Addr(), uint16(tlsPort)),
		tlsCA:      certPEM,
		realm:      realmDefault,
		secrets:    secrets,
		rfc6062:    true,
		deviations: coturnDeviations,
		stop:       func() error { return errors.Join(ct.Close(), os.RemoveAll(dir)) },
	}, nil
}

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1.
func writeCert(dir string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "gauntlet suite coturn"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
}
