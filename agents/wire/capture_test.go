package wire_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

var update = flag.Bool("update", false, "capture a fresh pion DTLS handshake into testdata")

const captureFile = "testdata/pion-dtls12-handshake.txt"

// datagram is one captured datagram; out is true for client to server.
type datagram struct {
	out bool
	b   []byte
}

// recordingConn records every datagram written through it.
type recordingConn struct {
	net.PacketConn
	out  bool
	mu   *sync.Mutex
	seen *[]datagram
}

func (c recordingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	*c.seen = append(*c.seen, datagram{c.out, append([]byte(nil), p...)})
	c.mu.Unlock()
	return c.PacketConn.WriteTo(p, addr)
}

// TestCapturePionHandshake runs a real pion/dtls v3 handshake over loopback
// UDP and writes its datagrams to testdata (only with -update).
func TestCapturePionHandshake(t *testing.T) {
	if !*update {
		t.Skip("run with -update to capture a fresh handshake")
	}
	var mu sync.Mutex
	var seen []datagram
	cc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ccert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	scert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := dtls.ClientWithOptions(recordingConn{cc, true, &mu, &seen}, sc.LocalAddr(),
		dtls.WithCertificates(ccert),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AEAD_AES_128_GCM),
	)
	if err != nil {
		t.Fatal(err)
	}
	server, err := dtls.ServerWithOptions(recordingConn{sc, false, &mu, &seen}, cc.LocalAddr(),
		dtls.WithCertificates(scert),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
	)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() { errs <- server.HandshakeContext(ctx) }()
	if err := client.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	client.Close()
	server.Close()

	var sb strings.Builder
	sb.WriteString("# A pion/dtls v3.1.15 DTLS 1.2 handshake over loopback UDP, one datagram per line,\n")
	sb.WriteString("# \"c>s\" client to server, \"s>c\" server to client, bytes in hex.\n")
	sb.WriteString("# Made by: go test ./agents/wire -run TestCapturePionHandshake -update\n")
	sb.WriteString("# Client offers SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM; the server prefers GCM;\n")
	sb.WriteString("# both require extended_master_secret; ECDSA P-256 self-signed certificates; client auth required.\n")
	mu.Lock()
	for _, d := range seen {
		dir := "s>c"
		if d.out {
			dir = "c>s"
		}
		fmt.Fprintf(&sb, "%s %s\n", dir, hex.EncodeToString(d.b))
	}
	mu.Unlock()
	if err := os.WriteFile(captureFile, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadCapture reads the captured handshake; out is true for client to server.
func loadCapture(t testing.TB) []datagram {
	t.Helper()
	f, err := os.Open(captureFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []datagram
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		dir, hx, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, datagram{dir == "c>s", b})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// observeCapture feeds a capture to an Observer from the client's side.
func observeCapture(o *wire.Observer, ds []datagram) {
	for _, d := range ds {
		dir := wire.In
		if d.out {
			dir = wire.Out
		}
		o.Observe(dir, d.b)
	}
}
