package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// Values of Config.TrunkSRTP: how media toward phones is protected.
const (
	// TrunkSRTPNone is plain RTP/AVP toward phones (also written "").
	TrunkSRTPNone = "none"
	// TrunkSRTPSDES is SRTP keyed in the SDP (SDES, RFC 4568): RTP/SAVP
	// with a=crypto, required of every phone.
	TrunkSRTPSDES = "sdes"
)

// sdesSuite is an SDES crypto-suite (RFC 4568; RFC 7714 for the AEAD
// ones) with the pion/srtp profile that implements it and the lengths of
// the master key and salt its inline key carries, concatenated.
type sdesSuite struct {
	name            string
	profile         srtp.ProtectionProfile
	keyLen, saltLen int
}

// sdesSuites are the suites the gateway can speak toward phones.
var sdesSuites = []sdesSuite{
	{"AES_CM_128_HMAC_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80, 16, 14},
	{"AES_CM_128_HMAC_SHA1_32", srtp.ProtectionProfileAes128CmHmacSha1_32, 16, 14},
	{"AEAD_AES_128_GCM", srtp.ProtectionProfileAeadAes128Gcm, 16, 12},
	{"AEAD_AES_256_GCM", srtp.ProtectionProfileAeadAes256Gcm, 32, 12},
}

// SDESSuiteNames lists the crypto-suites Config.SDESSuites may name.
func SDESSuiteNames() []string {
	out := make([]string, len(sdesSuites))
	for i, s := range sdesSuites {
		out[i] = s.name
	}
	return out
}

// DefaultSDESSuites are the suites offered toward phones by default, in
// order: the 80-bit HMAC tag that every SDES phone speaks, then AES-GCM.
func DefaultSDESSuites() []string { return []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"} }

func lookupSDES(name string) (sdesSuite, bool) {
	for _, s := range sdesSuites {
		if strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	return sdesSuite{}, false
}

// cryptoAttr is one a=crypto attribute (RFC 4568 9.1) with a single inline
// master key: its tag, suite, master key followed by master salt, and the
// MKI its sender puts in every packet (nil for none).
type cryptoAttr struct {
	Tag   uint32
	Suite sdesSuite
	Key   []byte
	MKI   []byte
}

// newCryptoAttr makes the gateway's own attribute for suite under tag: a
// fresh key and salt from the CSPRNG for every call (RFC 4568 6.1), no MKI
// and no lifetime.
func newCryptoAttr(tag uint32, s sdesSuite) (cryptoAttr, error) {
	key := make([]byte, s.keyLen+s.saltLen)
	if _, err := rand.Read(key); err != nil {
		return cryptoAttr{}, fmt.Errorf("SDES key: %w", err)
	}
	return cryptoAttr{Tag: tag, Suite: s, Key: key}, nil
}

// String renders the attribute's value.
func (a cryptoAttr) String() string {
	v := strconv.FormatUint(uint64(a.Tag), 10) + " " + a.Suite.name + " inline:" + base64.StdEncoding.EncodeToString(a.Key)
	if len(a.MKI) > 0 {
		var n uint64
		for _, b := range a.MKI {
			n = n<<8 | uint64(b)
		}
		v += "|" + strconv.FormatUint(n, 10) + ":" + strconv.Itoa(len(a.MKI))
	}
	return v
}

// sameKey reports whether a and o key SRTP alike (the tag aside).
func (a cryptoAttr) sameKey(o cryptoAttr) bool {
	return a.Suite.name == o.Suite.name && string(a.Key) == string(o.Key) && string(a.MKI) == string(o.MKI)
}

// parseCryptoAttr reads an a=crypto value (RFC 4568 9.1):
//
//	<tag> <crypto-suite> inline:<key||salt>[|<lifetime>][|<MKI>:<length>] [<session-param>...]
//
// with one master key. The lifetime is read, not enforced. Session
// parameters that switch protection off (UNENCRYPTED_*,
// UNAUTHENTICATED_SRTP), that pion cannot honour (KDR, FEC_*) or that are
// unknown make the attribute unusable; WSH is a hint the gateway's replay
// window (128) already meets. Errors wrap ErrSDPNoCrypto.
func parseCryptoAttr(v string) (cryptoAttr, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return cryptoAttr{}, refuse(ErrSDPNoCrypto, "a=crypto %q: want <tag> <crypto-suite> inline:<key>", v)
	}
	if len(f[0]) > 9 || strings.Trim(f[0], "0123456789") != "" {
		return cryptoAttr{}, refuse(ErrSDPNoCrypto, "a=crypto tag %q is not 1 to 9 digits", f[0])
	}
	tag, _ := strconv.ParseUint(f[0], 10, 32)
	suite, ok := lookupSDES(f[1])
	if !ok {
		return cryptoAttr{}, refuse(ErrSDPNoCrypto, "a=crypto suite %q is unknown", f[1])
	}
	a := cryptoAttr{Tag: uint32(tag), Suite: suite}
	if err := a.readKeyParams(f[2]); err != nil {
		return cryptoAttr{}, err
	}
	for _, p := range f[3:] {
		name, _, _ := strings.Cut(p, "=")
		if !strings.EqualFold(name, "WSH") {
			return cryptoAttr{}, refuse(ErrSDPNoCrypto, "a=crypto session parameter %s is not supported", p)
		}
	}
	return a, nil
}

// readKeyParams reads "inline:<key||salt>[|lifetime][|mki:length]".
func (a *cryptoAttr) readKeyParams(p string) error {
	if strings.Contains(p, ";") {
		return refuse(ErrSDPNoCrypto, "a=crypto with several master keys is not supported")
	}
	method, info, ok := strings.Cut(p, ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return refuse(ErrSDPNoCrypto, "a=crypto key method %q is not inline", method)
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return refuse(ErrSDPNoCrypto, "a=crypto key %q has more than key, lifetime and MKI", info)
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) == 0 {
		return refuse(ErrSDPNoCrypto, "a=crypto inline key is not base64")
	}
	if want := a.Suite.keyLen + a.Suite.saltLen; len(key) != want {
		return refuse(ErrSDPNoCrypto, "a=crypto inline key is %d bytes, %s wants %d", len(key), a.Suite.name, want)
	}
	a.Key = key
	lifetime := false
	for i, part := range parts[1:] {
		value, length, isMKI := strings.Cut(part, ":")
		switch {
		case isMKI && i == len(parts)-2:
			if a.MKI, err = readMKI(value, length); err != nil {
				return err
			}
		case isMKI || lifetime || !validLifetime(part):
			return refuse(ErrSDPNoCrypto, "a=crypto key parameter %q", part)
		default:
			lifetime = true
		}
	}
	return nil
}

func validLifetime(s string) bool {
	digits, pow := strings.CutPrefix(s, "2^")
	n, err := strconv.ParseUint(digits, 10, 64)
	return err == nil && n > 0 && (!pow || n <= 64)
}

// readMKI reads an MKI "<value>:<length in bytes, 1-128>" into the bytes
// that travel in each packet, big-endian.
func readMKI(value, length string) ([]byte, error) {
	n, err := strconv.ParseUint(length, 10, 8)
	if err != nil || n < 1 || n > 128 {
		return nil, refuse(ErrSDPNoCrypto, "a=crypto MKI length %q", length)
	}
	v, err := strconv.ParseUint(value, 10, 64)
	if err != nil || n < 8 && v>>(8*n) != 0 {
		return nil, refuse(ErrSDPNoCrypto, "a=crypto MKI %q does not fit %d bytes", value, n)
	}
	mki := make([]byte, n)
	for i := len(mki) - 1; i >= 0 && v > 0; i-- {
		mki[i], v = byte(v), v>>8
	}
	return mki, nil
}

// cryptoValues lists the m-line's a=crypto values in order (RFC 4568 puts
// them at media level only).
func cryptoValues(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == "crypto" {
			out = append(out, a.Value)
		}
	}
	return out
}

// pickCrypto takes the first of an offer's a=crypto lines, in the
// offerer's order of preference, that parses and names one of suites;
// prefer, when set, wins over order (a re-offer keeps the negotiated
// suite if it still offers it). Why none fits is in the error.
func pickCrypto(lines []string, suites []sdesSuite, prefer string) (cryptoAttr, error) {
	var found []cryptoAttr
	var first error
	for _, v := range lines {
		a, err := parseCryptoAttr(v)
		if err == nil && !slices.ContainsFunc(suites, func(s sdesSuite) bool { return s.name == a.Suite.name }) {
			err = refuse(ErrSDPNoCrypto, "a=crypto suite %s is not configured (sdes_suites)", a.Suite.name)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		found = append(found, a)
	}
	if len(found) == 0 {
		if first == nil {
			first = refuse(ErrSDPNoCrypto, "RTP/SAVP without a=crypto")
		}
		return cryptoAttr{}, first
	}
	for _, a := range found {
		if a.Suite.name == prefer {
			return a, nil
		}
	}
	return found[0], nil
}

// matchCrypto checks an answer's a=crypto lines against the offered ones:
// exactly one, under an offered tag, naming that tag's suite. It returns
// the offered attribute (ours) and the answer's (the phone's).
func matchCrypto(lines []string, offered []cryptoAttr) (ours, theirs cryptoAttr, err error) {
	if len(lines) != 1 {
		return cryptoAttr{}, cryptoAttr{}, refuse(ErrSDPNoCrypto, "the answer has %d a=crypto lines, want exactly 1", len(lines))
	}
	theirs, err = parseCryptoAttr(lines[0])
	if err != nil {
		return cryptoAttr{}, cryptoAttr{}, err
	}
	for _, o := range offered {
		if o.Tag != theirs.Tag {
			continue
		}
		if o.Suite.name != theirs.Suite.name {
			return cryptoAttr{}, cryptoAttr{}, refuse(ErrSDPNoCrypto, "the answer's tag %d names %s, offered with %s", theirs.Tag, theirs.Suite.name, o.Suite.name)
		}
		return o, theirs, nil
	}
	return cryptoAttr{}, cryptoAttr{}, refuse(ErrSDPNoCrypto, "the answer's tag %d was not offered", theirs.Tag)
}

func (c Config) validateSDES() error {
	switch c.TrunkSRTP {
	case "", TrunkSRTPNone, TrunkSRTPSDES:
	default:
		return invalid("trunk_srtp", "%q is neither %q nor %q", c.TrunkSRTP, TrunkSRTPNone, TrunkSRTPSDES)
	}
	if len(c.SDESSuites) == 0 && c.TrunkSRTP == TrunkSRTPSDES {
		return invalid("sdes_suites", "empty: trunk_srtp: sdes needs at least one of %s", strings.Join(SDESSuiteNames(), ", "))
	}
	for i, name := range c.SDESSuites {
		field := fmt.Sprintf("sdes_suites[%d]", i)
		s, ok := lookupSDES(name)
		if !ok || s.name != name {
			return invalid(field, "%q is not one of %s", name, strings.Join(SDESSuiteNames(), ", "))
		}
		if slices.Index(c.SDESSuites, name) != i {
			return invalid(field, "%q listed twice", name)
		}
	}
	return nil
}

// sdes reports whether SDES-SRTP is required toward phones.
func (c Config) sdes() bool { return c.TrunkSRTP == TrunkSRTPSDES }

// phoneSuites returns SDESSuites resolved; call only on a validated config.
func (c Config) phoneSuites() []sdesSuite {
	out := make([]sdesSuite, 0, len(c.SDESSuites))
	for _, name := range c.SDESSuites {
		s, _ := lookupSDES(name)
		out = append(out, s)
	}
	return out
}
