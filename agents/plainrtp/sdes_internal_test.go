package plainrtp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// keyOf is n bytes 0, 1, 2, ... in base64, padded or not.
func keyOf(n int, padded bool) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	if padded {
		return base64.StdEncoding.EncodeToString(b)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

func TestParseCrypto(t *testing.T) {
	k30, k28, k44 := keyOf(30, true), keyOf(28, true), keyOf(44, true)
	tests := []struct {
		name  string
		value string
		err   error // nil: parses
		tag   uint32
		suite string
		mki   []byte
	}{
		{"AES-CM 80", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, nil, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"AES-CM 32, lifetime", "7 AES_CM_128_HMAC_SHA1_32 inline:" + k30 + "|2^31", nil, 7, "AES_CM_128_HMAC_SHA1_32", nil},
		{"GCM 128, padded 28 bytes", "2 AEAD_AES_128_GCM inline:" + k28, nil, 2, "AEAD_AES_128_GCM", nil},
		{"GCM 128, padding left out", "2 AEAD_AES_128_GCM inline:" + keyOf(28, false), nil, 2, "AEAD_AES_128_GCM", nil},
		{"GCM 256", "3 AEAD_AES_256_GCM inline:" + k44, nil, 3, "AEAD_AES_256_GCM", nil},
		{"AES-256-CM (RFC 6188)", "4 AES_256_CM_HMAC_SHA1_80 inline:" + keyOf(46, true), nil, 4, "AES_256_CM_HMAC_SHA1_80", nil},
		{"suite in lower case", "1 aes_cm_128_hmac_sha1_80 inline:" + k30, nil, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"lifetime and MKI (RFC 4568's example form)", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^20|1:4", nil, 1, "AES_CM_128_HMAC_SHA1_80", []byte{0, 0, 0, 1}},
		{"MKI without lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|258:2", nil, 1, "AES_CM_128_HMAC_SHA1_80", []byte{1, 2}},
		{"decimal lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1048576", nil, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"window size hint", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " WSH=128", nil, 1, "AES_CM_128_HMAC_SHA1_80", nil},
		{"nine-digit tag", "999999999 AES_CM_128_HMAC_SHA1_80 inline:" + k30, nil, 999999999, "AES_CM_128_HMAC_SHA1_80", nil},

		{"too few fields", "1 AES_CM_128_HMAC_SHA1_80", errCryptoSyntax, 0, "", nil},
		{"ten-digit tag", "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + k30, errCryptoSyntax, 0, "", nil},
		{"tag not a number", "one AES_CM_128_HMAC_SHA1_80 inline:" + k30, errCryptoSyntax, 0, "", nil},
		{"unknown suite", "1 F8_128_HMAC_SHA1_80 inline:" + k30, errCryptoSuite, 0, "", nil},
		{"no key method", "1 AES_CM_128_HMAC_SHA1_80 " + k30, errCryptoSyntax, 0, "", nil},
		{"other key method", "1 AES_CM_128_HMAC_SHA1_80 uri:http://k.test/" + k30, errCryptoSyntax, 0, "", nil},
		{"inline key not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64!", errCryptoKey, 0, "", nil},
		{"empty inline key", "1 AES_CM_128_HMAC_SHA1_80 inline:", errCryptoKey, 0, "", nil},
		{"key too short for the suite", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k28, errCryptoKey, 0, "", nil},
		{"key too long for the suite", "1 AEAD_AES_128_GCM inline:" + k30, errCryptoKey, 0, "", nil},
		{"GCM 256 with a 128-bit key", "1 AEAD_AES_256_GCM inline:" + k28, errCryptoKey, 0, "", nil},
		{"bad lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^x", errCryptoSyntax, 0, "", nil},
		{"two lifetimes", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|2^20|2^21", errCryptoSyntax, 0, "", nil},
		{"MKI before lifetime", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:4|2^20", errCryptoSyntax, 0, "", nil},
		{"MKI too big for its length", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|256:1", errCryptoSyntax, 0, "", nil},
		{"MKI length 0", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:0", errCryptoSyntax, 0, "", nil},
		{"several master keys", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + "|1:1;inline:" + k30 + "|2:1", errCryptoUnsupported, 0, "", nil},
		{"unencrypted SRTP", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " UNENCRYPTED_SRTP", errCryptoUnsupported, 0, "", nil},
		{"unauthenticated SRTP", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " UNAUTHENTICATED_SRTP", errCryptoUnsupported, 0, "", nil},
		{"key derivation rate", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " KDR=10", errCryptoUnsupported, 0, "", nil},
		{"unknown session parameter", "1 AES_CM_128_HMAC_SHA1_80 inline:" + k30 + " FOO=1", errCryptoUnsupported, 0, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCrypto(tc.value)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %+v, %v; want %v", c, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.tag != tc.tag || c.suite.name != tc.suite || !bytes.Equal(c.mki, tc.mki) || len(c.key) != c.suite.keyLen+c.suite.saltLen {
				t.Fatalf("got tag %d suite %s mki %v key %d bytes", c.tag, c.suite.name, c.mki, len(c.key))
			}
		})
	}
}

func TestCryptoRoundTrip(t *testing.T) {
	for _, s := range sdesSuites {
		c, err := newCrypto(12, s)
		if err != nil {
			t.Fatal(err)
		}
		c.mki = []byte{0, 5}
		back, err := parseCrypto(c.value())
		if err != nil {
			t.Fatalf("%s: %q: %v", s.name, c.value(), err)
		}
		if !back.sameKey(c) || back.tag != 12 {
			t.Fatalf("%s: %q read back as %+v", s.name, c.value(), back)
		}
	}
	a, _ := newCrypto(1, sdesSuites[0])
	b, _ := newCrypto(1, sdesSuites[0])
	if bytes.Equal(a.key, b.key) {
		t.Fatal("two fresh keys are equal")
	}
}

func TestPickCrypto(t *testing.T) {
	k30 := keyOf(30, true)
	gcm, cm80 := sdesSuites[1], sdesSuites[0]
	tests := []struct {
		name  string
		lines []string
		ours  []sdesSuite
		tag   uint32 // 0: ErrSDP
	}{
		{"the offerer's first usable line wins", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, "2 AEAD_AES_128_GCM inline:" + keyOf(28, true)}, []sdesSuite{gcm, cm80}, 1},
		{"a suite we do not speak is skipped", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, "2 AEAD_AES_128_GCM inline:" + keyOf(28, true)}, []sdesSuite{gcm}, 2},
		{"a malformed line is skipped", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:short", "5 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, []sdesSuite{cm80}, 5},
		{"an unknown suite is skipped", []string{"1 F8_128_HMAC_SHA1_80 inline:" + k30, "3 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, []sdesSuite{cm80}, 3},
		{"nothing usable", []string{"1 F8_128_HMAC_SHA1_80 inline:" + k30}, []sdesSuite{cm80}, 0},
		{"no a=crypto at all", nil, []sdesSuite{cm80}, 0},
	}
	for _, tc := range tests {
		c, err := pickCrypto(tc.lines, tc.ours)
		switch {
		case tc.tag == 0 && !errors.Is(err, ErrSDP):
			t.Errorf("%s: got %+v, %v; want ErrSDP", tc.name, c, err)
		case tc.tag != 0 && (err != nil || c.tag != tc.tag):
			t.Errorf("%s: got tag %d, %v; want tag %d", tc.name, c.tag, err, tc.tag)
		}
	}
}

func TestMatchAnswer(t *testing.T) {
	offered, err := offerCrypto([]sdesSuite{sdesSuites[0], sdesSuites[1]}) // tag 1 AES-CM-80, tag 2 GCM-128
	if err != nil {
		t.Fatal(err)
	}
	k30, k28 := keyOf(30, true), keyOf(28, true)
	tests := []struct {
		name  string
		lines []string
		tag   uint32 // 0: ErrSDP
	}{
		{"first tag", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, 1},
		{"second tag", []string{"2 AEAD_AES_128_GCM inline:" + k28}, 2},
		{"tag we did not offer", []string{"3 AES_CM_128_HMAC_SHA1_80 inline:" + k30}, 0},
		{"tag and suite do not match", []string{"1 AEAD_AES_128_GCM inline:" + k28}, 0},
		{"two lines", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k30, "2 AEAD_AES_128_GCM inline:" + k28}, 0},
		{"none", nil, 0},
		{"wrong key length", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + k28}, 0},
	}
	for _, tc := range tests {
		local, remote, err := matchAnswer(tc.lines, offered)
		switch {
		case tc.tag == 0 && !errors.Is(err, ErrSDP):
			t.Errorf("%s: got %v; want ErrSDP", tc.name, err)
		case tc.tag != 0 && (err != nil || local.tag != tc.tag || remote.tag != tc.tag || !local.sameKey(offered[tc.tag-1])):
			t.Errorf("%s: got local %d remote %d, %v; want tag %d with our offered key", tc.name, local.tag, remote.tag, err, tc.tag)
		}
	}
}

func TestWithOneCrypto(t *testing.T) {
	sdp := "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 A inline:x\r\na=crypto:2 B inline:y\r\na=sendrecv\r\n"
	c, _ := newCrypto(2, sdesSuites[0])
	got := string(withOneCrypto([]byte(sdp), c))
	want := "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:" + c.value() + "\r\na=sendrecv\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if strings.Count(got, "a=crypto:") != 1 {
		t.Fatal("more than one a=crypto left")
	}
}

func TestConfigSuites(t *testing.T) {
	if _, err := configSuites([]string{"AES_CM_128_HMAC_SHA1_80", "NULL_HMAC_SHA1_80"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown suite: %v", err)
	}
	if _, err := configSuites([]string{"AEAD_AES_128_GCM", "aead_aes_128_gcm"}); !errors.Is(err, ErrConfig) {
		t.Errorf("a suite twice: %v", err)
	}
	if got, err := configSuites(SDESSuites()); err != nil || len(got) != len(sdesSuites) {
		t.Errorf("every suite: %d, %v", len(got), err)
	}
}
