package plainrtp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// sdesSuite is an SDES crypto-suite (RFC 4568; RFC 6188 for AES-256,
// RFC 7714 for the AEAD ones) with the pion/srtp profile that implements it and the lengths
// of its master key and salt, which the inline key carries concatenated.
type sdesSuite struct {
	name            string
	profile         srtp.ProtectionProfile
	keyLen, saltLen int
}

// sdesSuites are the suites a leg can speak, in the default order of
// preference: the 80-bit tag first (every SDES endpoint has it), the
// 32-bit tags last.
var sdesSuites = []sdesSuite{
	{"AES_CM_128_HMAC_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80, 16, 14},
	{"AEAD_AES_128_GCM", srtp.ProtectionProfileAeadAes128Gcm, 16, 12},
	{"AEAD_AES_256_GCM", srtp.ProtectionProfileAeadAes256Gcm, 32, 12},
	{"AES_256_CM_HMAC_SHA1_80", srtp.ProtectionProfileAes256CmHmacSha1_80, 32, 14},
	{"AES_CM_128_HMAC_SHA1_32", srtp.ProtectionProfileAes128CmHmacSha1_32, 16, 14},
	{"AES_256_CM_HMAC_SHA1_32", srtp.ProtectionProfileAes256CmHmacSha1_32, 32, 14},
}

// SDESSuites names the SDES crypto-suites a leg can offer and accept
// (Config.SDES), in the default order of preference.
func SDESSuites() []string {
	out := make([]string, len(sdesSuites))
	for i, s := range sdesSuites {
		out[i] = s.name
	}
	return out
}

// lookupSuite finds a suite by name; suite names are tokens, matched
// without regard to case as other endpoints may not keep it.
func lookupSuite(name string) (sdesSuite, bool) {
	for _, s := range sdesSuites {
		if strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	return sdesSuite{}, false
}

// Why an a=crypto line cannot be used; parseCrypto wraps one of these.
var (
	errCryptoSyntax      = errors.New("malformed a=crypto")
	errCryptoSuite       = errors.New("unknown crypto-suite")
	errCryptoKey         = errors.New("bad inline key")
	errCryptoUnsupported = errors.New("unsupported a=crypto parameter")
)

// cryptoLine is one a=crypto attribute (RFC 4568 9.1) with one inline
// master key: its tag, its suite, the key and salt concatenated, and the
// MKI the sender puts in each packet (nil when it puts none).
type cryptoLine struct {
	tag   uint32
	suite sdesSuite
	key   []byte
	mki   []byte
}

// newCrypto makes our own line for suite: a fresh master key and salt from
// the CSPRNG (RFC 4568 6.1: never reuse one across sessions), no MKI.
func newCrypto(tag uint32, suite sdesSuite) (cryptoLine, error) {
	key := make([]byte, suite.keyLen+suite.saltLen)
	if _, err := rand.Read(key); err != nil {
		return cryptoLine{}, fmt.Errorf("plainrtp: SDES key: %w", err)
	}
	return cryptoLine{tag: tag, suite: suite, key: key}, nil
}

// value renders the attribute's value: "<tag> <suite> inline:<key||salt>".
func (c cryptoLine) value() string {
	v := strconv.FormatUint(uint64(c.tag), 10) + " " + c.suite.name + " inline:" + base64.StdEncoding.EncodeToString(c.key)
	if len(c.mki) > 0 {
		var n uint64
		for _, b := range c.mki {
			n = n<<8 | uint64(b)
		}
		v += "|" + strconv.FormatUint(n, 10) + ":" + strconv.Itoa(len(c.mki))
	}
	return v
}

// sameKey reports whether c and o key SRTP the same way.
func (c cryptoLine) sameKey(o cryptoLine) bool {
	return c.suite.name == o.suite.name && string(c.key) == string(o.key) && string(c.mki) == string(o.mki)
}

// parseCrypto reads an a=crypto value (RFC 4568 9.1):
//
//	<tag> <crypto-suite> inline:<key||salt>[|<lifetime>][|<MKI>:<length>] [<session-param>...]
//
// One master key only (several need MKIs to tell them apart; no endpoint
// we know sends that). A lifetime is read and not enforced: calls here are
// far shorter than any lifetime. Session parameters that weaken SRTP
// (UNENCRYPTED_*, UNAUTHENTICATED_SRTP) or that pion cannot do (KDR,
// FEC_*) make the line unusable, as does one we do not know; WSH is a
// hint our replay window (64) already meets.
func parseCrypto(v string) (cryptoLine, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return cryptoLine{}, fmt.Errorf("%w: %q: want <tag> <crypto-suite> inline:<key>", errCryptoSyntax, v)
	}
	tag, err := parseTag(f[0])
	if err != nil {
		return cryptoLine{}, err
	}
	suite, ok := lookupSuite(f[1])
	if !ok {
		return cryptoLine{}, fmt.Errorf("%w: %q (have %s)", errCryptoSuite, f[1], strings.Join(SDESSuites(), ", "))
	}
	c := cryptoLine{tag: tag, suite: suite}
	if err := c.parseKeyParams(f[2]); err != nil {
		return cryptoLine{}, err
	}
	for _, p := range f[3:] {
		if err := checkSessionParam(p); err != nil {
			return cryptoLine{}, err
		}
	}
	return c, nil
}

func parseTag(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: tag %q is not 1 to 9 digits", errCryptoSyntax, s)
	}
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n), nil
}

// parseKeyParams reads "inline:<key||salt>[|lifetime][|mki:length]".
func (c *cryptoLine) parseKeyParams(p string) error {
	if strings.Contains(p, ";") {
		return fmt.Errorf("%w: several master keys", errCryptoUnsupported)
	}
	method, info, ok := strings.Cut(p, ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return fmt.Errorf("%w: key method %q (only inline exists)", errCryptoSyntax, method)
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return fmt.Errorf("%w: %q has more than key, lifetime and MKI", errCryptoSyntax, info)
	}
	key, err := decodeKey(parts[0])
	if err != nil {
		return err
	}
	if want := c.suite.keyLen + c.suite.saltLen; len(key) != want {
		return fmt.Errorf("%w: %d bytes, %s wants %d (key %d + salt %d)", errCryptoKey, len(key), c.suite.name, want, c.suite.keyLen, c.suite.saltLen)
	}
	c.key = key
	for i, part := range parts[1:] {
		if value, length, isMKI := strings.Cut(part, ":"); isMKI {
			if i != len(parts)-2 {
				return fmt.Errorf("%w: the MKI must come last", errCryptoSyntax)
			}
			if c.mki, err = parseMKI(value, length); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			return fmt.Errorf("%w: two lifetimes", errCryptoSyntax)
		}
		if err := checkLifetime(part); err != nil {
			return err
		}
	}
	return nil
}

// decodeKey reads base64 with or without its padding (RFC 4568 asks for
// padding; not every endpoint writes it).
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", errCryptoKey)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %w", errCryptoKey, err)
	}
	return key, nil
}

func checkLifetime(s string) error {
	digits, pow := strings.CutPrefix(s, "2^")
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || pow && n > 64 {
		return fmt.Errorf("%w: lifetime %q", errCryptoSyntax, s)
	}
	return nil
}

// parseMKI reads "<value>:<length>": the MKI as an integer and its length
// in bytes (1 to 128), big-endian in each packet.
func parseMKI(value, length string) ([]byte, error) {
	n, err := strconv.ParseUint(length, 10, 8)
	if err != nil || n < 1 || n > 128 || len(length) > 3 {
		return nil, fmt.Errorf("%w: MKI length %q", errCryptoSyntax, length)
	}
	v, err := strconv.ParseUint(value, 10, 64)
	if err != nil || n < 8 && v>>(8*n) != 0 {
		return nil, fmt.Errorf("%w: MKI %q does not fit in %d bytes", errCryptoSyntax, value, n)
	}
	mki := make([]byte, n)
	for i := len(mki) - 1; i >= 0 && v > 0; i-- {
		mki[i], v = byte(v), v>>8
	}
	return mki, nil
}

func checkSessionParam(p string) error {
	name, _, _ := strings.Cut(p, "=")
	switch strings.ToUpper(name) {
	case "WSH":
		return nil
	case "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP":
		return fmt.Errorf("%w: %s switches SRTP protection off", errCryptoUnsupported, p)
	}
	return fmt.Errorf("%w: session parameter %s", errCryptoUnsupported, p)
}

// pickCrypto returns the first line of lines (the offerer's order of
// preference) whose suite is one of ours and which parses, and why none
// did when none does.
func pickCrypto(lines []string, ours []sdesSuite) (cryptoLine, error) {
	var first error
	for _, v := range lines {
		c, err := parseCrypto(v)
		if err == nil && !hasSuite(ours, c.suite) {
			err = fmt.Errorf("%w: %s is not one of this leg's suites", errCryptoSuite, c.suite.name)
		}
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return cryptoLine{}, fmt.Errorf("%w: RTP/SAVP without any a=crypto", ErrSDP)
	}
	return cryptoLine{}, fmt.Errorf("%w: no usable a=crypto: %w", ErrSDP, first)
}

func hasSuite(ss []sdesSuite, s sdesSuite) bool {
	for _, o := range ss {
		if o.name == s.name {
			return true
		}
	}
	return false
}

// matchAnswer checks an answer's a=crypto lines against our offer: exactly
// one, with one of our tags and that tag's suite (RFC 4568: the answerer
// picks one offered attribute and answers under its tag).
func matchAnswer(lines []string, offered []cryptoLine) (local, remote cryptoLine, err error) {
	if len(lines) != 1 {
		return cryptoLine{}, cryptoLine{}, fmt.Errorf("%w: the answer has %d a=crypto lines, want exactly 1", ErrSDP, len(lines))
	}
	remote, err = parseCrypto(lines[0])
	if err != nil {
		return cryptoLine{}, cryptoLine{}, fmt.Errorf("%w: the answer's a=crypto: %w", ErrSDP, err)
	}
	for _, o := range offered {
		if o.tag != remote.tag {
			continue
		}
		if o.suite.name != remote.suite.name {
			return cryptoLine{}, cryptoLine{}, fmt.Errorf("%w: the answer's tag %d names %s, we offered %s under it", ErrSDP, remote.tag, remote.suite.name, o.suite.name)
		}
		return o, remote, nil
	}
	return cryptoLine{}, cryptoLine{}, fmt.Errorf("%w: the answer's tag %d is none of ours", ErrSDP, remote.tag)
}

// configSuites resolves Config.SDES.
func configSuites(names []string) ([]sdesSuite, error) {
	out := make([]sdesSuite, 0, len(names))
	for _, n := range names {
		s, ok := lookupSuite(n)
		if !ok {
			return nil, fmt.Errorf("%w: SDES suite %q (have %s)", ErrConfig, n, strings.Join(SDESSuites(), ", "))
		}
		if hasSuite(out, s) {
			return nil, fmt.Errorf("%w: SDES suite %s listed twice", ErrConfig, s.name)
		}
		out = append(out, s)
	}
	return out, nil
}
