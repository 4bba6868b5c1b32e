package wire

import "fmt"

// DTLS protocol versions on the wire.
const (
	VersionDTLS10 = 0xfeff
	VersionDTLS12 = 0xfefd
	VersionDTLS13 = 0xfefc
)

// VersionName names a DTLS version as reports show it ("DTLS 1.2"), or
// gives its hex value.
func VersionName(v uint16) string {
	switch v {
	case VersionDTLS10:
		return "DTLS 1.0"
	case VersionDTLS12:
		return "DTLS 1.2"
	case VersionDTLS13:
		return "DTLS 1.3"
	}
	return fmt.Sprintf("0x%04X", v)
}

// cipherSuites are the IANA names of the suites that matter for DTLS-SRTP
// and for the downgrade attacks (TLS Cipher Suites registry).
var cipherSuites = map[uint16]string{
	0x0000: "TLS_NULL_WITH_NULL_NULL",
	0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
	0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
	0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
	0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
	0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
	0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
	0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
	0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
	0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
	0x5600: "TLS_FALLBACK_SCSV",
	0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
	0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
	0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	0xC02D: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
	0xC02E: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
	0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
	0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
	0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
	0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
	0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
	0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
	0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
	0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
	0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
	0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
	0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
}

// CipherSuiteName gives a suite's IANA name, or "0xC0FF" for one not in the
// table.
func CipherSuiteName(id uint16) string {
	if n, ok := cipherSuites[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", id)
}

// SRTP protection profiles (RFC 5764, RFC 7714).
const (
	SRTPAES128CMSHA180 = 0x0001
	SRTPAES128CMSHA132 = 0x0002
	SRTPNullSHA180     = 0x0005
	SRTPNullSHA132     = 0x0006
	SRTPAEADAES128GCM  = 0x0007
	SRTPAEADAES256GCM  = 0x0008
)

var srtpProfiles = map[uint16]string{
	SRTPAES128CMSHA180: "SRTP_AES128_CM_HMAC_SHA1_80",
	SRTPAES128CMSHA132: "SRTP_AES128_CM_HMAC_SHA1_32",
	SRTPNullSHA180:     "SRTP_NULL_HMAC_SHA1_80",
	SRTPNullSHA132:     "SRTP_NULL_HMAC_SHA1_32",
	SRTPAEADAES128GCM:  "SRTP_AEAD_AES_128_GCM",
	SRTPAEADAES256GCM:  "SRTP_AEAD_AES_256_GCM",
}

// SRTPProfileName gives an SRTP protection profile's IANA name, or its hex
// value.
func SRTPProfileName(id uint16) string {
	if n, ok := srtpProfiles[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", id)
}

var alerts = map[uint8]string{
	0:   "close_notify",
	10:  "unexpected_message",
	20:  "bad_record_mac",
	21:  "decryption_failed",
	22:  "record_overflow",
	30:  "decompression_failure",
	40:  "handshake_failure",
	41:  "no_certificate",
	42:  "bad_certificate",
	43:  "unsupported_certificate",
	44:  "certificate_revoked",
	45:  "certificate_expired",
	46:  "certificate_unknown",
	47:  "illegal_parameter",
	48:  "unknown_ca",
	49:  "access_denied",
	50:  "decode_error",
	51:  "decrypt_error",
	60:  "export_restriction",
	70:  "protocol_version",
	71:  "insufficient_security",
	80:  "internal_error",
	86:  "inappropriate_fallback",
	90:  "user_canceled",
	100: "no_renegotiation",
	110: "unsupported_extension",
}

// AlertName gives an alert description's name (RFC 5246 7.2), or
// "alert(N)".
func AlertName(d uint8) string {
	if n, ok := alerts[d]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", d)
}
