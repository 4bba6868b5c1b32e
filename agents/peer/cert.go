package peer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	_ "crypto/sha1" // RFC 8122 allows sha-1 fingerprints (a warning, not a weakness)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ErrWeakFingerprint is wrapped when the remote SDP's fingerprint uses a hash
// RFC 8122 forbids (md5, md2) or one this package does not know.
var ErrWeakFingerprint = errors.New("peer: fingerprint hash refused")

// NewCertificate generates a self-signed ECDSA P-256 certificate for DTLS,
// valid for 30 days. Generate one per agent and share it across its calls.
func NewCertificate() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peer: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("peer: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "gauntlet"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("peer: certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// fingerprintHashes are the SDP hash names (RFC 8122 5) this package
// accepts; md5 and md2 are refused.
var fingerprintHashes = map[string]crypto.Hash{
	"sha-1":   crypto.SHA1,
	"sha-224": crypto.SHA224,
	"sha-256": crypto.SHA256,
	"sha-384": crypto.SHA384,
	"sha-512": crypto.SHA512,
}

// fingerprint is one a=fingerprint value.
type fingerprint struct {
	hash  string // lower case, e.g. "sha-256"
	value string // upper-case hex with colons
}

func (f fingerprint) String() string { return f.hash + " " + f.value }

// parseFingerprint reads "sha-256 AB:CD:...".
func parseFingerprint(v string) (fingerprint, error) {
	hash, value, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return fingerprint{}, fmt.Errorf("%w: fingerprint %q has no value", ErrSDP, v)
	}
	hash = strings.ToLower(hash)
	h, known := fingerprintHashes[hash]
	if !known {
		return fingerprint{}, fmt.Errorf("%w: %q", ErrWeakFingerprint, hash)
	}
	value = strings.ToUpper(strings.TrimSpace(value))
	raw, err := hex.DecodeString(strings.ReplaceAll(value, ":", ""))
	if err != nil || len(raw) != h.Size() {
		return fingerprint{}, fmt.Errorf("%w: fingerprint %q is not a %s digest", ErrSDP, value, hash)
	}
	return fingerprint{hash: hash, value: value}, nil
}

// certFingerprint computes the fingerprint of a DER certificate.
func certFingerprint(hash string, der []byte) (fingerprint, error) {
	h, ok := fingerprintHashes[hash]
	if !ok {
		return fingerprint{}, fmt.Errorf("%w: %q", ErrWeakFingerprint, hash)
	}
	d := h.New()
	d.Write(der)
	sum := d.Sum(nil)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return fingerprint{hash: hash, value: strings.Join(parts, ":")}, nil
}
