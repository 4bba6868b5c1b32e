package turn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
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
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func runCoturn(ctx context.Context, bin, dir string) (*server, error) {
	certPEM, err := writeCert(dir)
	if err != nil {
		return nil, err
	}
	// coturn also binds port+1 of each listener (RFC 5780 alternate ports).
	port, err := freePortPair()
	if err != nil {
		return nil, err
	}
	tlsPort, err := freePortPair()
	if err != nil {
		return nil, err
	}
	secrets := []string{"coturn-current-secret-0123456789", "coturn-previous-secret-0123456789"}
	var conf strings.Builder
	for _, line := range []string{
		"listening-ip=127.0.0.1", "listening-ip=::1", "relay-ip=127.0.0.1", "relay-ip=::1",
		fmt.Sprintf("listening-port=%d", port), fmt.Sprintf("tls-listening-port=%d", tlsPort),
		"min-port=49152", "max-port=65535",
		"realm=" + realmDefault, "fingerprint", "use-auth-secret",
		"static-auth-secret=" + secrets[0], "static-auth-secret=" + secrets[1],
		fmt.Sprintf("user-quota=%d", quota), fmt.Sprintf("max-bps=%d", capBytes),
		"max-allocate-lifetime=3600",
		"no-cli", "no-dtls", "no-tlsv1", "no-tlsv1_1", "no-multicast-peers", "allow-loopback-peers",
		"no-stun-backward-compatibility", "no-rfc5780",
		"cert=" + filepath.Join(dir, "cert.pem"), "pkey=" + filepath.Join(dir, "key.pem"),
		"userdb=" + filepath.Join(dir, "turndb"), "pidfile=" + filepath.Join(dir, "turnserver.pid"),
		"log-file=" + filepath.Join(dir, "turnserver.log"), "simple-log", "no-software-attribute",
	} {
		conf.WriteString(line + "\n")
	}
	for _, d := range coturnDenied {
		conf.WriteString("denied-peer-ip=" + d + "\n")
	}
	confPath := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(exited)
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return os.RemoveAll(dir)
	}
	udp := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ready, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitReady(ready, udp, exited); err != nil {
		_ = stop()
		return nil, fmt.Errorf("coturn (%s): %w", confPath, err)
	}
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
		stop:       stop,
	}, nil
}

// freePortPair finds a port p with p and p+1 free for UDP and TCP on
// 127.0.0.1 and ::1.
func freePortPair() (int, error) {
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		_ = c.Close()
		if p < 65535 && portsFree(p, p+1) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no two adjacent free ports found")
}

func portsFree(ports ...int) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for _, p := range ports {
		for _, host := range []string{"127.0.0.1", "::1"} {
			addr := net.JoinHostPort(host, fmt.Sprint(p))
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				return false
			}
			closers = append(closers, u.Close)
			t, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			closers = append(closers, t.Close)
		}
	}
	return true
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
