package wire_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

func TestPionHandshakeCapture(t *testing.T) {
	o := wire.NewObserver()
	observeCapture(o, loadCapture(t))

	want := reports.Security{
		DTLSVersion:          "DTLS 1.2",
		CipherSuite:          "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		SRTPProfile:          "SRTP_AEAD_AES_128_GCM",
		ExtendedMasterSecret: true,
		ObservedBy:           "wire",
	}
	if got := o.Security(); got != want {
		t.Fatalf("Security() = %+v, want %+v", got, want)
	}
	ch, dir, count, ok := o.ClientHello()
	if !ok || dir != wire.Out || count != 2 {
		t.Fatalf("ClientHello: ok %v dir %v count %d, want 2 sent (before and after the cookie)", ok, dir, count)
	}
	if ch.Version != wire.VersionDTLS12 || !slices.Contains(ch.CipherSuites, 0xC02B) || !ch.ExtendedMasterSecret || len(ch.Cookie) == 0 {
		t.Fatalf("ClientHello = %+v", ch)
	}
	if !slices.Equal(ch.SRTPProfiles, []uint16{wire.SRTPAES128CMSHA180, wire.SRTPAEADAES128GCM}) {
		t.Fatalf("offered profiles %v", ch.SRTPProfiles)
	}
	sh, sdir, ok := o.ServerHello()
	if !ok || sdir != wire.In || sh.CipherSuite != 0xC02B || !sh.UseSRTP {
		t.Fatalf("ServerHello = %+v dir %v ok %v", sh, sdir, ok)
	}
	if !o.HelloVerifyRequested() {
		t.Error("HelloVerifyRequest not seen")
	}
	for _, a := range o.Alerts() {
		if !a.Encrypted {
			t.Errorf("alert %+v: the capture only has close_notify after ChangeCipherSpec", a)
		}
	}
	if len(o.Alerts()) == 0 || o.Malformed() != 0 {
		t.Fatalf("alerts %v, malformed %d", o.Alerts(), o.Malformed())
	}
}

// handshake builds one handshake fragment (RFC 6347 4.2.2).
func handshake(typ uint8, length, seq, off int, body []byte) []byte {
	b := []byte{typ, byte(length >> 16), byte(length >> 8), byte(length), byte(seq >> 8), byte(seq),
		byte(off >> 16), byte(off >> 8), byte(off), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// record builds one DTLS 1.2 record.
func record(ct uint8, epoch uint16, seq uint64, frag []byte) []byte {
	b := make([]byte, 13, 13+len(frag))
	b[0] = ct
	binary.BigEndian.PutUint16(b[1:], wire.VersionDTLS12)
	binary.BigEndian.PutUint16(b[3:], epoch)
	binary.BigEndian.PutUint16(b[5:], uint16(seq>>32))
	binary.BigEndian.PutUint32(b[7:], uint32(seq))
	binary.BigEndian.PutUint16(b[11:], uint16(len(frag)))
	return append(b, frag...)
}

// helloBody returns the body of the first complete message of type typ in
// the capture.
func helloBody(t *testing.T, typ uint8) []byte {
	t.Helper()
	for _, d := range loadCapture(t) {
		recs, _ := wire.ParseRecords(d.b)
		for _, r := range recs {
			if r.ContentType != wire.ContentHandshake || r.Epoch != 0 {
				continue
			}
			hs, _ := wire.ParseHandshakes(r.Fragment)
			for _, h := range hs {
				if h.Type == typ && h.Complete() {
					return h.Body
				}
			}
		}
	}
	t.Fatalf("no message of type %d in the capture", typ)
	return nil
}

func TestFragmentedHelloReassembled(t *testing.T) {
	ch := helloBody(t, wire.HandshakeClientHello)
	sh := helloBody(t, wire.HandshakeServerHello)
	o := wire.NewObserver()
	n := len(ch)
	// Client hello in three fragments, out of order, one overlapping; the
	// last two share a datagram.
	o.Observe(wire.Out, record(22, 0, 2, handshake(1, n, 0, 40, ch[40:90])))
	o.Observe(wire.Out, append(record(22, 0, 1, handshake(1, n, 0, 0, ch[:50])),
		record(22, 0, 3, handshake(1, n, 0, 90, ch[90:]))...))
	if _, _, _, ok := o.ClientHello(); !ok {
		t.Fatal("fragmented ClientHello not reassembled")
	}
	// Server hello in two fragments, the first alone is not enough.
	m := len(sh)
	o.Observe(wire.In, record(22, 0, 1, handshake(2, m, 1, 0, sh[:10])))
	if got := o.Security(); got != (reports.Security{}) {
		t.Fatalf("Security after half a ServerHello = %+v, want empty", got)
	}
	o.Observe(wire.In, record(22, 0, 2, handshake(2, m, 1, 10, sh[10:])))
	if got := o.Security().SRTPProfile; got != "SRTP_AEAD_AES_128_GCM" {
		t.Fatalf("SRTP profile after reassembly = %q", got)
	}
	if o.Malformed() != 0 {
		t.Fatalf("malformed = %d", o.Malformed())
	}
}

func TestTruncatedAndForeignDatagrams(t *testing.T) {
	var serverFlight []byte
	for _, d := range loadCapture(t) {
		if !d.out && len(d.b) > 100 {
			serverFlight = d.b
			break
		}
	}
	tests := []struct {
		name      string
		b         []byte
		malformed bool
	}{
		{"rtp", []byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 1}, false},
		{"stun", []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, false},
		{"empty", nil, false},
		{"short header", []byte{22, 0xfe, 0xfd, 0}, true},
		{"record longer than datagram", serverFlight[:60], true},
		{"handshake header cut", record(22, 0, 0, []byte{2, 0, 0}), true},
		{"fragment beyond length", record(22, 0, 0, handshake(2, 4, 0, 2, []byte{1, 2, 3})), true},
		{"server hello cut", record(22, 0, 0, handshake(2, 20, 0, 0, make([]byte, 20))), true},
		{"alert cut", record(21, 0, 0, []byte{2}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := wire.NewObserver()
			o.Observe(wire.In, tc.b)
			if got := o.Malformed() > 0; got != tc.malformed {
				t.Fatalf("malformed = %v, want %v", got, tc.malformed)
			}
			if got := o.Security(); got != (reports.Security{}) {
				t.Fatalf("Security() = %+v, want empty", got)
			}
		})
	}
	if _, err := wire.ParseRecords([]byte{0x80, 0}); !errors.Is(err, wire.ErrNotDTLS) {
		t.Errorf("ParseRecords(rtp) = %v, want ErrNotDTLS", err)
	}
	if _, err := wire.ParseRecords(serverFlight[:60]); !errors.Is(err, wire.ErrTruncated) {
		t.Errorf("ParseRecords(cut) = %v, want ErrTruncated", err)
	}
}

func TestPlaintextAlert(t *testing.T) {
	o := wire.NewObserver()
	o.Observe(wire.In, record(21, 0, 5, []byte{2, 40}))
	o.Observe(wire.Out, record(21, 1, 5, []byte{0xde, 0xad, 0xbe, 0xef}))
	got := o.Alerts()
	if len(got) != 2 || got[0].Alert.String() != "fatal handshake_failure" || got[0].Dir != wire.In || !got[1].Encrypted {
		t.Fatalf("alerts = %+v", got)
	}
}

func TestServerHelloWithoutUseSRTP(t *testing.T) {
	body := []byte{0xfe, 0xff}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)          // session id
	body = append(body, 0xc0, 0x14) // cipher suite
	body = append(body, 0)          // compression
	o := wire.NewObserver()
	o.Observe(wire.In, record(22, 0, 0, handshake(2, len(body), 0, 0, body)))
	want := reports.Security{DTLSVersion: "DTLS 1.0", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", ObservedBy: "wire"}
	if got := o.Security(); got != want {
		t.Fatalf("Security() = %+v, want %+v", got, want)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{wire.CipherSuiteName(0xC02B), "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{wire.CipherSuiteName(0xC030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{wire.CipherSuiteName(0xC0AE), "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
		{wire.CipherSuiteName(0x00A8), "TLS_PSK_WITH_AES_128_GCM_SHA256"},
		{wire.CipherSuiteName(0xC02D), "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
		{wire.CipherSuiteName(0xBEEF), "0xBEEF"},
		{wire.SRTPProfileName(1), "SRTP_AES128_CM_HMAC_SHA1_80"},
		{wire.SRTPProfileName(2), "SRTP_AES128_CM_HMAC_SHA1_32"},
		{wire.SRTPProfileName(5), "SRTP_NULL_HMAC_SHA1_80"},
		{wire.SRTPProfileName(6), "SRTP_NULL_HMAC_SHA1_32"},
		{wire.SRTPProfileName(7), "SRTP_AEAD_AES_128_GCM"},
		{wire.SRTPProfileName(8), "SRTP_AEAD_AES_256_GCM"},
		{wire.SRTPProfileName(9), "0x0009"},
		{wire.VersionName(0xfefd), "DTLS 1.2"},
		{wire.VersionName(0xfeff), "DTLS 1.0"},
		{wire.VersionName(0x0303), "0x0303"},
		{wire.AlertName(70), "protocol_version"},
		{wire.AlertName(100), "no_renegotiation"},
		{wire.AlertName(200), "alert(200)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func FuzzObserve(f *testing.F) {
	for _, d := range loadCapture(f) {
		f.Add(d.b)
	}
	f.Add(record(22, 0, 0, handshake(1, 100, 0, 50, make([]byte, 50))))
	f.Add(record(21, 0, 0, []byte{2, 40}))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := wire.NewObserver()
		o.Observe(wire.In, b)
		o.Observe(wire.Out, b)
		_ = o.Security()
		recs, _ := wire.ParseRecords(b)
		for _, r := range recs {
			hs, _ := wire.ParseHandshakes(r.Fragment)
			for _, h := range hs {
				_, _ = wire.ParseClientHello(h.Body)
				_, _ = wire.ParseServerHello(h.Body)
			}
		}
		_, _ = wire.ParseClientHello(b)
		_, _ = wire.ParseServerHello(b)
	})
}

func TestProgressFollowsBothSides(t *testing.T) {
	o := wire.NewObserver()
	observeCapture(o, loadCapture(t))
	out, in := o.Progress(wire.Out), o.Progress(wire.In)
	for _, typ := range []uint8{wire.HandshakeClientHello, wire.HandshakeCertificate, wire.HandshakeClientKeyExchange, wire.HandshakeCertificateVerify} {
		if !out.Sent(typ) {
			t.Errorf("client side: message %d not seen in %v", typ, out.Messages)
		}
	}
	for _, typ := range []uint8{wire.HandshakeHelloVerifyRequest, wire.HandshakeServerHello, wire.HandshakeServerKeyExchange, wire.HandshakeServerHelloDone} {
		if !in.Sent(typ) {
			t.Errorf("server side: message %d not seen in %v", typ, in.Messages)
		}
	}
	if out.Sent(wire.HandshakeServerHello) || in.Sent(wire.HandshakeClientKeyExchange) {
		t.Errorf("directions mixed up: out %v, in %v", out.Messages, in.Messages)
	}
	if !out.ChangeCipherSpec || !out.Encrypted || !in.ChangeCipherSpec || !in.Encrypted {
		t.Errorf("out %+v, in %+v: both sides finished", out, in)
	}

	stopped := wire.NewObserver() // a client that answers the ServerHello with an alert
	stopped.Observe(wire.In, record(21, 0, 1, []byte{2, 70}))
	if p := stopped.Progress(wire.In); len(p.Messages) != 0 || p.ChangeCipherSpec || p.Encrypted {
		t.Errorf("an alert alone shows as progress %+v", p)
	}
}
