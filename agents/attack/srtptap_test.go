package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"
	"go.uber.org/goleak"
)

// observedPacketConn shows every datagram in and out to obs.
type observedPacketConn struct {
	net.PacketConn
	obs func(in bool, b []byte)
}

func (c *observedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if n > 0 {
		c.obs(true, b[:n])
	}
	return n, addr, err
}

func (c *observedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.obs(false, b)
	return c.PacketConn.WriteTo(b, addr)
}

// tapHandshake runs a DTLS-SRTP handshake on loopback; the tap is on the
// client's side when tapClient, else on the server's. It returns the far
// end's outbound SRTP context, keyed as a WebRTC leg keys it.
func tapHandshake(t *testing.T, tap *dtlsTap, tapClient bool, suite dtls.CipherSuiteID) *srtp.Context {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.PacketConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sc, cc := listen(), listen()
	defer func() { _ = sc.Close(); _ = cc.Close() }()
	common := func(tapped bool) []dtls.Option {
		o := []dtls.Option{dtls.WithCertificates(cert), dtls.WithInsecureSkipVerify(true), dtls.WithCipherSuites(suite),
			dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)}
		if tapped {
			o = append(o, dtls.WithKeyLogWriter(tap))
		}
		return o
	}
	var serverConn, clientConn net.PacketConn = sc, cc
	if tapClient {
		clientConn = &observedPacketConn{PacketConn: cc, obs: tap.observe}
	} else {
		serverConn = &observedPacketConn{PacketConn: sc, obs: tap.observe}
	}
	var sopts []dtls.ServerOption
	for _, o := range common(!tapClient) {
		sopts = append(sopts, o)
	}
	var copts []dtls.ClientOption
	for _, o := range common(tapClient) {
		copts = append(copts, o)
	}
	server, err := dtls.ServerWithOptions(serverConn, cc.LocalAddr(), sopts...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dtls.ClientWithOptions(clientConn, sc.LocalAddr(), copts...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = server.Close(); _ = client.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() { errs <- server.HandshakeContext(ctx) }()
	if err := client.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	far, farIsClient := server, false // the far end: the side without the tap
	if !tapClient {
		far, farIsClient = client, true
	}
	chosen, ok := far.SelectedSRTPProtectionProfile()
	if !ok {
		t.Fatal("no SRTP profile negotiated")
	}
	state, ok := far.ConnectionState()
	if !ok {
		t.Fatal("no DTLS state")
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(chosen)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, farIsClient); err != nil {
		t.Fatal(err)
	}
	tx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestDTLSTapReadsTheFarEndsSRTP(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tests := []struct {
		name   string
		client bool
		suite  dtls.CipherSuiteID
	}{
		{"tap on the client, SHA-256 PRF", true, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"tap on the server, SHA-256 PRF", false, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"tap on the client, SHA-384 PRF", true, dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"tap on the server, SHA-384 PRF", false, dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marks := newMarkTally()
			tap := newDTLSTap(marks)
			early := markedRTP(t, 5, 0)
			tap.observe(true, early) // before any key: unreadable, not a crash
			tx := tapHandshake(t, tap, tc.client, tc.suite)
			sealed, err := tx.EncryptRTP(nil, markedRTP(t, 5, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			tap.observe(true, sealed)
			tap.observe(true, sealed) // a replay: counted too
			flipped := bytes.Clone(sealed)
			flipped[len(flipped)-1] ^= 1
			tap.observe(true, flipped)
			tap.observe(false, sealed) // our own outbound SRTP is not the far end's
			if n := marks.count(5, 1); n != 2 {
				t.Errorf("packet 1 counted %d times, want 2", n)
			}
			if c := tap.counts(); c.read != 2 || c.unreadable != 2 {
				t.Errorf("counts %v, want 2 read and 2 unreadable (the early one, the flipped one)", c)
			}
		})
	}
}

// cryptoValue is an a=crypto value for AES_CM_128_HMAC_SHA1_80 with a
// fresh key, and the context that sends under it.
func cryptoValue(t *testing.T, tag string) (string, *srtp.Context) {
	t.Helper()
	key := make([]byte, 30)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	tx, err := srtp.CreateContext(key[:16], key[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	return tag + " AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(key), tx
}

func TestSDESTapReadsWithTheTargetsKeys(t *testing.T) {
	marks := newMarkTally()
	tap := newSDESTap(marks)
	other, _ := cryptoValue(t, "1")
	theirs, tx := cryptoValue(t, "2")
	seal := func(counter uint32) []byte {
		b, err := tx.EncryptRTP(nil, markedRTP(t, 9, counter), nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tap.observe(seal(0)) // before the SDP: unreadable
	invite := "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/SAVP 0\r\n" +
		"a=crypto:" + other + "\r\na=crypto:" + theirs + "\r\na=crypto:3 F8_128_HMAC_SHA1_80 inline:AAAA\r\n"
	tap.observe([]byte(invite))
	tap.observe([]byte(invite)) // a retransmission adds no key
	one := seal(1)
	tap.observe(one)
	tap.observe(one) // a replay: counted too
	flipped := bytes.Clone(seal(2))
	flipped[len(flipped)-1] ^= 1
	tap.observe(flipped)
	tap.observe([]byte{0x80, 200, 0, 1, 0, 0, 0, 7}) // RTCP: not read
	if n := marks.count(9, 1); n != 2 {
		t.Errorf("packet 1 counted %d times, want 2", n)
	}
	if n := marks.count(9, 2); n != 0 {
		t.Errorf("a flipped tag counted %d times", n)
	}
	if c := tap.counts(); c.read != 2 || c.unreadable != 2 {
		t.Errorf("counts %v, want 2 read and 2 unreadable (before the SDP, the flipped tag)", c)
	}
	if len(tap.taps) != 2 {
		t.Errorf("%d keys kept, want 2 (the unknown suite is no key)", len(tap.taps))
	}
}
