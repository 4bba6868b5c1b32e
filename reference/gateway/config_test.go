package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"client role", func(c *Config) { c.DTLSRole = DTLSRoleClient }, ""},
		{"zero value", func(c *Config) { *c = Config{} }, "domain"},
		{"domain with user", func(c *Config) { c.Domain = "a@b" }, "domain"},
		{"ws addr without port", func(c *Config) { c.WSAddr = "127.0.0.1" }, "ws_addr"},
		{"ws addr host name", func(c *Config) { c.WSAddr = "localhost:0" }, "ws_addr"},
		{"udp addr unspecified", func(c *Config) { c.UDPAddr = "0.0.0.0:5060" }, "udp_addr"},
		{"media ip v6", func(c *Config) { c.MediaIP = "::1" }, "media_ip"},
		{"media ip empty", func(c *Config) { c.MediaIP = "" }, "media_ip"},
		{"no profiles", func(c *Config) { c.SRTPProfiles = nil }, "srtp_profiles"},
		{"null profile", func(c *Config) { c.SRTPProfiles = []string{"SRTP_NULL_HMAC_SHA1_80"} }, "srtp_profiles"},
		{"profile twice", func(c *Config) {
			c.SRTPProfiles = []string{"SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM"}
		}, "srtp_profiles"},
		{"bad role", func(c *Config) { c.DTLSRole = "passive" }, "dtls_role"},
		{"pattern without placeholder", func(c *Config) { c.WebRTCUsers.Pattern = "web" }, "webrtc_users"},
		{"pattern with space", func(c *Config) { c.SIPUsers.Pattern = "desk {n}" }, "sip_users"},
		{"zero count", func(c *Config) { c.SIPUsers.Count = 0 }, "sip_users"},
		{"overlapping ranges", func(c *Config) { c.SIPUsers = UserRange{Pattern: "web{n}", Start: 1500, Count: 10} }, "sip_users"},
		{"nested patterns", func(c *Config) { c.SIPUsers = UserRange{Pattern: "web1{n}", Start: 0, Count: 10} }, "sip_users"},
		{"min expires zero", func(c *Config) { c.MinExpires = 0 }, "min_expires"},
		{"max below min", func(c *Config) { c.MaxExpires = time.Second }, "max_expires"},
		{"default above max", func(c *Config) { c.DefaultExpires = 3 * time.Hour }, "default_expires"},
		{"fractional seconds", func(c *Config) { c.MinExpires = 1500 * time.Millisecond }, "min_expires"},
		{"no bindings", func(c *Config) { c.MaxBindings = 0 }, "max_bindings"},
		{"no invite timeout", func(c *Config) { c.InviteTimeout = 0 }, "invite_timeout"},
		{"trunk srtp none", func(c *Config) { c.TrunkSRTP = TrunkSRTPNone }, ""},
		{"trunk srtp sdes", func(c *Config) { c.TrunkSRTP = TrunkSRTPSDES }, ""},
		{"sdes with every suite", func(c *Config) { c.TrunkSRTP, c.SDESSuites = TrunkSRTPSDES, SDESSuiteNames() }, ""},
		{"trunk srtp dtls", func(c *Config) { c.TrunkSRTP = "dtls" }, "trunk_srtp"},
		{"trunk srtp upper case", func(c *Config) { c.TrunkSRTP = "SDES" }, "trunk_srtp"},
		{"sdes without suites", func(c *Config) { c.TrunkSRTP, c.SDESSuites = TrunkSRTPSDES, nil }, "sdes_suites"},
		{"no suites without sdes", func(c *Config) { c.SDESSuites = nil }, ""},
		{"unknown suite", func(c *Config) { c.SDESSuites = []string{"AES_CM_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80"} }, "sdes_suites[1]"},
		{"DTLS profile name as suite", func(c *Config) { c.SDESSuites = []string{"SRTP_AES128_CM_HMAC_SHA1_80"} }, "sdes_suites[0]"},
		{"suite in lower case", func(c *Config) { c.SDESSuites = []string{"aead_aes_128_gcm"} }, "sdes_suites[0]"},
		{"suite twice", func(c *Config) { c.SDESSuites = []string{"AEAD_AES_128_GCM", "AEAD_AES_128_GCM"} }, "sdes_suites[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Validate: %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
}

func TestNewRefusesForeignMediaIP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MediaIP = "192.0.2.1" // TEST-NET-1, on no interface here
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New: %v, want ErrInvalidConfig", err)
	}
}
