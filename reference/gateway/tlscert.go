package gateway

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
	"time"
)

// serverTLS returns the TLS config of the wss and tls listeners (TLS 1.2
// and up) and a pool that trusts its certificate when the certificate is
// self-signed (nil for the user's own).
func serverTLS(cfg Config) (*tls.Config, *x509.CertPool, error) {
	var cert tls.Certificate
	var pool *x509.CertPool
	if cfg.TLSCertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, nil, invalid("tls_cert_file", "%v", err)
		}
		cert = c
	} else {
		c, leaf, err := selfSigned(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
		}
		cert = c
		pool = x509.NewCertPool()
		pool.AddCert(leaf)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, pool, nil
}

// selfSigned makes an ECDSA P-256 certificate for the domain, localhost and
// every listen address, good for a year.
func selfSigned(cfg Config) (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, a := range cfg.listenAddrs() {
		if ap, err := netip.ParseAddrPort(a.Addr); err == nil {
			ips = append(ips, ap.Addr().AsSlice())
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cfg.Domain, Organization: []string{"Gauntlet reference gateway"}},
		DNSNames:              []string{cfg.Domain, "localhost"},
		IPAddresses:           ips,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

// listenAddrs is every configured listener, the named ones first.
func (c Config) listenAddrs() []Listener {
	var out []Listener
	for _, l := range []Listener{
		{"ws", c.WSAddr}, {"wss", c.WSSAddr}, {"udp", c.UDPAddr}, {"tcp", c.TCPAddr}, {"tls", c.TLSAddr},
	} {
		if l.Addr != "" {
			out = append(out, l)
		}
	}
	return append(out, c.Listen...)
}
