package peer_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var fingerprintLine = regexp.MustCompile(`a=fingerprint:sha-256 [0-9A-F:]+`)

func replaceFingerprint(t *testing.T, sdp []byte, cert *tls.Certificate) []byte {
	t.Helper()
	sum := sha256.Sum256(cert.Certificate[0])
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	out := fingerprintLine.ReplaceAll(sdp, []byte("a=fingerprint:sha-256 "+strings.Join(parts, ":")))
	if bytes.Equal(out, sdp) {
		t.Fatal("no fingerprint to replace")
	}
	return out
}
