// Package wire reads DTLS as it crosses the wire (RFC 6347): record headers,
// handshake headers with their fragments, the ClientHello and ServerHello
// (version, cipher suites, use_srtp profiles, extended_master_secret) and
// plaintext alerts. Observer turns the datagrams of one call leg into a
// reports.Security that states what was negotiated, as seen in the clear.
//
// Every parser here takes untrusted bytes: it never panics, and returns
// ErrTruncated or ErrMalformed for what it cannot read.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors the parsers return, wrapped with detail.
var (
	ErrNotDTLS   = errors.New("wire: not a DTLS record")
	ErrTruncated = errors.New("wire: truncated")
	ErrMalformed = errors.New("wire: malformed")
)

// Content types of a DTLS record.
const (
	ContentChangeCipherSpec = 20
	ContentAlert            = 21
	ContentHandshake        = 22
	ContentApplicationData  = 23
)

// Handshake message types.
const (
	HandshakeClientHello        = 1
	HandshakeServerHello        = 2
	HandshakeHelloVerifyRequest = 3
	HandshakeCertificate        = 11
	HandshakeServerKeyExchange  = 12
	HandshakeCertificateRequest = 13
	HandshakeServerHelloDone    = 14
	HandshakeCertificateVerify  = 15
	HandshakeClientKeyExchange  = 16
	HandshakeFinished           = 20
)

// Extension types this package reads.
const (
	ExtUseSRTP               = 0x000e
	ExtExtendedMasterSecret  = 0x0017
	ExtRenegotiationInfo     = 0xff01
	recordHeaderLen          = 13
	handshakeHeaderLen       = 12
	helloRandomLen           = 32
	maxHandshakeMessageBytes = 1 << 16 // reassembly limit: hellos are far smaller
)

// IsDTLS reports whether a datagram's first byte is in the DTLS range of
// RFC 7983 (20-63).
func IsDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// Record is one DTLS record: its header and its fragment (which aliases the
// datagram).
type Record struct {
	ContentType uint8
	Version     uint16
	Epoch       uint16
	Sequence    uint64 // 48 bits
	Fragment    []byte
}

// ParseRecords splits a datagram into its records. It returns the records it
// could read and an error for the first one it could not (a truncated record
// ends the datagram).
func ParseRecords(b []byte) ([]Record, error) {
	if !IsDTLS(b) {
		return nil, ErrNotDTLS
	}
	var recs []Record
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			return recs, fmt.Errorf("%w: record header needs %d bytes, have %d", ErrTruncated, recordHeaderLen, len(b))
		}
		r := Record{
			ContentType: b[0],
			Version:     binary.BigEndian.Uint16(b[1:3]),
			Epoch:       binary.BigEndian.Uint16(b[3:5]),
			Sequence:    uint64(binary.BigEndian.Uint16(b[5:7]))<<32 | uint64(binary.BigEndian.Uint32(b[7:11])),
		}
		n := int(binary.BigEndian.Uint16(b[11:13]))
		if len(b) < recordHeaderLen+n {
			return recs, fmt.Errorf("%w: record of %d bytes, have %d", ErrTruncated, n, len(b)-recordHeaderLen)
		}
		r.Fragment = b[recordHeaderLen : recordHeaderLen+n]
		recs = append(recs, r)
		b = b[recordHeaderLen+n:]
	}
	return recs, nil
}

// Handshake is one handshake message or fragment of one (RFC 6347 4.2.2).
type Handshake struct {
	Type           uint8
	Length         uint32 // length of the whole message
	MessageSeq     uint16
	FragmentOffset uint32
	FragmentLength uint32
	Body           []byte // this fragment's bytes
}

// Complete reports whether the fragment is the whole message.
func (h Handshake) Complete() bool { return h.FragmentOffset == 0 && h.FragmentLength == h.Length }

// ParseHandshakes reads the handshake fragments in a plaintext handshake
// record's fragment.
func ParseHandshakes(b []byte) ([]Handshake, error) {
	var out []Handshake
	for len(b) > 0 {
		if len(b) < handshakeHeaderLen {
			return out, fmt.Errorf("%w: handshake header", ErrTruncated)
		}
		h := Handshake{
			Type:           b[0],
			Length:         uint24(b[1:4]),
			MessageSeq:     binary.BigEndian.Uint16(b[4:6]),
			FragmentOffset: uint24(b[6:9]),
			FragmentLength: uint24(b[9:12]),
		}
		if uint64(h.FragmentOffset)+uint64(h.FragmentLength) > uint64(h.Length) {
			return out, fmt.Errorf("%w: fragment %d+%d beyond length %d", ErrMalformed, h.FragmentOffset, h.FragmentLength, h.Length)
		}
		if uint64(len(b)-handshakeHeaderLen) < uint64(h.FragmentLength) {
			return out, fmt.Errorf("%w: handshake fragment", ErrTruncated)
		}
		h.Body = b[handshakeHeaderLen : handshakeHeaderLen+int(h.FragmentLength)]
		out = append(out, h)
		b = b[handshakeHeaderLen+int(h.FragmentLength):]
	}
	return out, nil
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// ClientHello is what a ClientHello offers.
type ClientHello struct {
	Version              uint16
	Cookie               []byte
	CipherSuites         []uint16
	Extensions           []uint16 // types, in order
	SRTPProfiles         []uint16 // from use_srtp
	ExtendedMasterSecret bool
}

// ServerHello is what a ServerHello chose.
type ServerHello struct {
	Version              uint16
	CipherSuite          uint16
	Extensions           []uint16
	UseSRTP              bool   // the use_srtp extension is present
	SRTPProfile          uint16 // the chosen profile, when UseSRTP
	ExtendedMasterSecret bool
}

// reader walks a body without panicking; the first short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = ErrTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

// ParseClientHello reads a complete ClientHello body.
func ParseClientHello(body []byte) (ClientHello, error) {
	r := &reader{b: body}
	var ch ClientHello
	ch.Version = uint16(r.u16())
	r.take(helloRandomLen)
	r.take(r.u8()) // session id
	ch.Cookie = append([]byte(nil), r.take(r.u8())...)
	suites := r.take(r.u16())
	if len(suites)%2 != 0 {
		return ch, fmt.Errorf("%w: odd cipher suites length", ErrMalformed)
	}
	for i := 0; i+1 < len(suites); i += 2 {
		ch.CipherSuites = append(ch.CipherSuites, binary.BigEndian.Uint16(suites[i:]))
	}
	r.take(r.u8()) // compression methods
	if r.err != nil {
		return ch, fmt.Errorf("client hello: %w", r.err)
	}
	err := walkExtensions(r.b, func(typ uint16, data []byte) error {
		ch.Extensions = append(ch.Extensions, typ)
		switch typ {
		case ExtUseSRTP:
			p, err := parseUseSRTP(data)
			ch.SRTPProfiles = p
			return err
		case ExtExtendedMasterSecret:
			ch.ExtendedMasterSecret = true
		}
		return nil
	})
	if err != nil {
		return ch, fmt.Errorf("client hello: %w", err)
	}
	return ch, nil
}

// ParseServerHello reads a complete ServerHello body.
func ParseServerHello(body []byte) (ServerHello, error) {
	r := &reader{b: body}
	var sh ServerHello
	sh.Version = uint16(r.u16())
	r.take(helloRandomLen)
	r.take(r.u8()) // session id
	sh.CipherSuite = uint16(r.u16())
	r.u8() // compression method
	if r.err != nil {
		return sh, fmt.Errorf("server hello: %w", r.err)
	}
	err := walkExtensions(r.b, func(typ uint16, data []byte) error {
		sh.Extensions = append(sh.Extensions, typ)
		switch typ {
		case ExtUseSRTP:
			p, err := parseUseSRTP(data)
			if err != nil {
				return err
			}
			sh.UseSRTP = true
			if len(p) > 0 {
				sh.SRTPProfile = p[0]
			}
		case ExtExtendedMasterSecret:
			sh.ExtendedMasterSecret = true
		}
		return nil
	})
	if err != nil {
		return sh, fmt.Errorf("server hello: %w", err)
	}
	return sh, nil
}

// walkExtensions calls fn for each extension; an absent extensions block is
// fine (a hello may end after compression).
func walkExtensions(b []byte, fn func(typ uint16, data []byte) error) error {
	if len(b) == 0 {
		return nil
	}
	r := &reader{b: b}
	all := r.take(r.u16())
	if r.err != nil {
		return fmt.Errorf("extensions: %w", r.err)
	}
	er := &reader{b: all}
	for len(er.b) > 0 {
		typ := uint16(er.u16())
		data := er.take(er.u16())
		if er.err != nil {
			return fmt.Errorf("extension %#04x: %w", typ, er.err)
		}
		if err := fn(typ, data); err != nil {
			return fmt.Errorf("extension %#04x: %w", typ, err)
		}
	}
	return nil
}

// parseUseSRTP reads the use_srtp extension (RFC 5764 4.1.1): a list of
// 2-byte profiles, then an MKI.
func parseUseSRTP(data []byte) ([]uint16, error) {
	r := &reader{b: data}
	list := r.take(r.u16())
	r.take(r.u8()) // srtp_mki
	if r.err != nil {
		return nil, r.err
	}
	if len(list)%2 != 0 {
		return nil, fmt.Errorf("%w: odd use_srtp profile list", ErrMalformed)
	}
	out := make([]uint16, 0, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		out = append(out, binary.BigEndian.Uint16(list[i:]))
	}
	return out, nil
}

// Alert is a plaintext DTLS alert.
type Alert struct {
	Level       uint8 // 1 warning, 2 fatal
	Description uint8
}

// Fatal reports whether the alert is fatal.
func (a Alert) Fatal() bool { return a.Level == 2 }

func (a Alert) String() string {
	level := "warning"
	if a.Fatal() {
		level = "fatal"
	} else if a.Level != 1 {
		level = fmt.Sprintf("level(%d)", a.Level)
	}
	return level + " " + AlertName(a.Description)
}

// ParseAlert reads a plaintext alert record's fragment.
func ParseAlert(b []byte) (Alert, error) {
	if len(b) < 2 {
		return Alert{}, fmt.Errorf("alert: %w", ErrTruncated)
	}
	return Alert{Level: b[0], Description: b[1]}, nil
}
