package attack

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/wire"
)

// dtlsRecord builds one plaintext DTLS 1.2 record.
func dtlsRecord(ct uint8, epoch uint16, frag []byte) []byte {
	b := make([]byte, 13, 13+len(frag))
	b[0] = ct
	binary.BigEndian.PutUint16(b[1:], wire.VersionDTLS12)
	binary.BigEndian.PutUint16(b[3:], epoch)
	binary.BigEndian.PutUint16(b[11:], uint16(len(frag)))
	return append(b, frag...)
}

// dtlsMessage builds one unfragmented handshake message.
func dtlsMessage(typ uint8, body []byte) []byte {
	n := len(body)
	h := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}
	return append(h, body...)
}

// serverHelloBody is a ServerHello choosing version and suite, with
// use_srtp naming profile when it is not 0.
func serverHelloBody(version, suite, profile uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, version)
	b = append(b, make([]byte, 32)...)
	b = append(b, 0) // session id
	b = binary.BigEndian.AppendUint16(b, suite)
	b = append(b, 0) // compression
	if profile != 0 {
		ext := []byte{0, 0x0e, 0, 5, 0, 2, byte(profile >> 8), byte(profile), 0}
		b = binary.BigEndian.AppendUint16(b, uint16(len(ext)))
		b = append(b, ext...)
	}
	return b
}

func TestOfferedWeaknesses(t *testing.T) {
	good := wire.ClientHello{
		Version: wire.VersionDTLS12, CipherSuites: []uint16{0xC02B, 0xC02C},
		SRTPProfiles: []uint16{wire.SRTPAEADAES128GCM, wire.SRTPAES128CMSHA180}, ExtendedMasterSecret: true,
	}
	tests := []struct {
		name   string
		mod    func(*wire.ClientHello)
		want   []string // severities of the accepted rows, in order; none means one refused row
		detail string
	}{
		{"nothing weak", func(*wire.ClientHello) {}, nil, "none without forward secrecy"},
		{"DTLS 1.0", func(c *wire.ClientHello) { c.Version = wire.VersionDTLS10 }, []string{High}, "DTLS 1.0"},
		{"static RSA suite", func(c *wire.ClientHello) { c.CipherSuites = append(c.CipherSuites, 0x002F) }, []string{High}, "TLS_RSA_WITH_AES_128_CBC_SHA"},
		{"NULL profile", func(c *wire.ClientHello) { c.SRTPProfiles = append(c.SRTPProfiles, wire.SRTPNullSHA132) }, []string{High}, "SRTP_NULL_HMAC_SHA1_32"},
		{"no EMS", func(c *wire.ClientHello) { c.ExtendedMasterSecret = false }, []string{Medium}, "extended_master_secret"},
		{"all at once", func(c *wire.ClientHello) {
			c.Version, c.CipherSuites, c.SRTPProfiles, c.ExtendedMasterSecret = wire.VersionDTLS10, []uint16{0xC02D}, []uint16{wire.SRTPNullSHA180}, false
		}, []string{High, High, High, Medium}, "TLS_ECDH_"},
	}
	for _, tc := range tests {
		ch := good
		ch.CipherSuites = append([]uint16(nil), good.CipherSuites...)
		ch.SRTPProfiles = append([]uint16(nil), good.SRTPProfiles...)
		tc.mod(&ch)
		rows := offeredWeaknesses(ch)
		var got []string
		details := ""
		for _, r := range rows {
			details += r.v.detail + "\n"
			if r.v.state == rowAccepted {
				got = append(got, r.v.severity)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: accepted severities %v, want %v (%s)", tc.name, got, tc.want, details)
		}
		if tc.want == nil && (len(rows) != 1 || rows[0].v.state != rowRefused) {
			t.Errorf("%s: rows %+v, want one refused row", tc.name, rows)
		}
		if !strings.Contains(details, tc.detail) {
			t.Errorf("%s: details %q lack %q", tc.name, details, tc.detail)
		}
	}
}

func TestDTLS10RecordsRewritesOnlyClientHello(t *testing.T) {
	hello := dtlsRecord(wire.ContentHandshake, 0, dtlsMessage(wire.HandshakeClientHello, []byte{0xfe, 0xff}))
	other := dtlsRecord(wire.ContentHandshake, 0, dtlsMessage(wire.HandshakeCertificate, []byte{1}))
	s := &recordingConn{}
	c := dtls10Records{s}
	in := append(append([]byte(nil), hello...), other...)
	if n, err := c.Write(in); err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	out := s.writes[0]
	if v := binary.BigEndian.Uint16(out[1:]); v != wire.VersionDTLS10 {
		t.Errorf("ClientHello record version %#04x, want 0xfeff", v)
	}
	if v := binary.BigEndian.Uint16(out[len(hello)+1:]); v != wire.VersionDTLS12 {
		t.Errorf("other record's version %#04x changed", v)
	}
	if binary.BigEndian.Uint16(in[1:]) != wire.VersionDTLS12 {
		t.Error("the caller's buffer was changed")
	}
	if _, err := c.Write([]byte{0x80, 0}); err != nil || len(s.writes) != 2 || len(s.writes[1]) != 2 {
		t.Error("a non-DTLS datagram must pass unchanged")
	}
}

func TestJudges(t *testing.T) {
	sh := func(version, suite, profile uint16) []byte {
		return dtlsRecord(wire.ContentHandshake, 0, dtlsMessage(wire.HandshakeServerHello, serverHelloBody(version, suite, profile)))
	}
	alert := func(desc uint8) []byte { return dtlsRecord(wire.ContentAlert, 0, []byte{2, desc}) }
	tests := []struct {
		name   string
		status int
		ice    bool
		in     [][]byte
		judge  func(*dtlsProbe) rowVerdict
		state  rowState
		detail string
	}{
		{"CBC refused with an alert", 200, true, [][]byte{alert(71)}, clientHelloRows[1].judge, rowRefused, "fatal insufficient_security"},
		{"CBC accepted", 200, true, [][]byte{sh(wire.VersionDTLS12, 0xC00A, 7)}, clientHelloRows[1].judge, rowAccepted, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
		{"hello ignored", 200, true, nil, clientHelloRows[0].judge, rowRefused, "ignored"},
		{"no ICE", 200, false, nil, clientHelloRows[0].judge, rowUnknown, "ICE"},
		{"503", 503, false, nil, clientHelloRows[0].judge, rowUnknown, "503"},
		{"DTLS 1.0 taken", 200, true, [][]byte{sh(wire.VersionDTLS10, 0xC00A, 1)}, clientHelloRows[2].judge, rowAccepted, "DTLS 1.0"},
		{"DTLS 1.0 answered 1.2", 200, true, [][]byte{sh(wire.VersionDTLS12, 0xC00A, 1)}, clientHelloRows[2].judge, rowRefused, "not a downgrade"},
		{"NULL profile taken", 200, true, [][]byte{sh(wire.VersionDTLS12, 0xC02B, wire.SRTPNullSHA180)}, clientHelloRows[3].judge, rowAccepted, "without encryption"},
		{"profile not offered", 200, true, [][]byte{sh(wire.VersionDTLS12, 0xC02B, wire.SRTPAEADAES128GCM)}, clientHelloRows[3].judge, rowAccepted, "did not offer"},
		{"no use_srtp", 200, true, [][]byte{sh(wire.VersionDTLS12, 0xC02B, 0)}, clientHelloRows[3].judge, rowRefused, "without use_srtp"},
		{"MD5 refused", 488, false, nil, rowMD5.judge, rowRefused, "488"},
		{"MD5 rate-limited", 503, false, nil, rowMD5.judge, rowUnknown, "503"},
		{"SHA-1 refused", 488, false, nil, rowSHA1.judge, rowRefused, "488"},
	}
	taken := &dtlsProbe{obs: wire.NewObserver(), status: 200, ice: true, connected: true}
	if v := rowSHA1.judge(taken); v.state != rowWarning || !strings.Contains(v.detail, "SHA-1") {
		t.Errorf("SHA-1 taken: %+v, want a warning", v)
	}
	if v := rowMD5.judge(taken); v.state != rowAccepted || v.severity != Medium {
		t.Errorf("MD5 taken: %+v, want accepted, medium", v)
	}
	for _, tc := range tests {
		p := &dtlsProbe{obs: wire.NewObserver(), status: tc.status, ice: tc.ice}
		for _, b := range tc.in {
			p.obs.Observe(wire.In, b)
		}
		v := tc.judge(p)
		if v.state != tc.state || !strings.Contains(v.detail, tc.detail) {
			t.Errorf("%s: got state %d %q, want %d with %q", tc.name, v.state, v.detail, tc.state, tc.detail)
		}
	}
}

func TestMatrixOutcome(t *testing.T) {
	tests := []struct {
		name     string
		usable   int
		rows     []rowVerdict
		verdict  string
		severity string
	}{
		{"all refused", 2, []rowVerdict{weakRefused("a"), weakRefused("b")}, Resisted, ""},
		{"one accepted", 2, []rowVerdict{weakRefused("a"), weakTaken(Medium, "cbc")}, Vulnerable, Medium},
		{"worst severity wins", 1, []rowVerdict{weakTaken(Medium, "cbc"), weakTaken(High, "null"), unanswered("x")}, Vulnerable, High},
		{"a row without answer", 2, []rowVerdict{weakRefused("a"), unanswered("503")}, Inconclusive, ""},
		{"no role usable", 0, nil, Inconclusive, ""},
	}
	for _, tc := range tests {
		m := dtlsMatrix{usable: tc.usable}
		for i, v := range tc.rows {
			m.add("row", "server", v, "fix "+string(rune('a'+i)))
		}
		out := m.outcome()
		if out.Verdict != tc.verdict || out.Severity != tc.severity || len(out.Evidence) != len(tc.rows) || out.Reason == "" {
			t.Errorf("%s: %+v", tc.name, out)
		}
		if tc.verdict == Vulnerable && out.Remediation == "" {
			t.Errorf("%s: no remediation", tc.name)
		}
	}
}
