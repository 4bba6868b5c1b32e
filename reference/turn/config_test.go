package turn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*turn.Config)
		field string // "" means valid
	}{
		{"defaults", func(*turn.Config) {}, ""},
		{"test defaults", func(c *turn.Config) { *c = turn.DefaultTestConfig() }, ""},
		{"no listener", func(c *turn.Config) { c.UDP, c.TCP, c.TLS = nil, nil, nil }, "udp"},
		{"bad udp", func(c *turn.Config) { c.UDP = []string{"localhost:3478"} }, "udp[0]"},
		{"unspecified tcp", func(c *turn.Config) { c.TCP = []string{"0.0.0.0:3478"} }, "tcp[0]"},
		{"no relay", func(c *turn.Config) { c.RelayIPv4, c.RelayIPv6 = "", "" }, "relay_ipv4"},
		{"v6 as relay v4", func(c *turn.Config) { c.RelayIPv4 = "::1" }, "relay_ipv4"},
		{"mapped as relay v6", func(c *turn.Config) { c.RelayIPv6 = "::ffff:127.0.0.1" }, "relay_ipv6"},
		{"cert without key", func(c *turn.Config) { c.TLSCertFile = "c.pem" }, "tls_cert_file"},
		{"bad metrics address", func(c *turn.Config) { c.MetricsAddr = "localhost:9100" }, "metrics_addr"},
		{"no realm", func(c *turn.Config) { c.Realm = "" }, "realm"},
		{"open relay", func(c *turn.Config) { c.Secrets, c.Users = nil, nil }, "secrets"},
		{"three secrets", func(c *turn.Config) {
			c.Secrets = []string{strings.Repeat("a", 16), strings.Repeat("b", 16), strings.Repeat("c", 16)}
		}, "secrets"},
		{"short secret", func(c *turn.Config) { c.Secrets = []string{"short"} }, "secrets[0]"},
		{"REST-looking user", func(c *turn.Config) { c.Users = map[string]string{"1700000000:x": "pw"} }, "users"},
		{"empty password", func(c *turn.Config) { c.Users = map[string]string{"u": ""} }, "users"},
		{"unknown weaken", func(c *turn.Config) { c.Weaken = []string{"everything"} }, "weaken"},
		{"every weaken", func(c *turn.Config) { c.Weaken = turn.WeakenNames }, ""},
		{"bad denied prefix", func(c *turn.Config) { c.DeniedPeers = []string{"10.0.0.0"} }, "denied_peers[0]"},
		{"zero quota", func(c *turn.Config) { c.MaxAllocationsPerUser = 0 }, "max_allocations_per_user"},
		{"negative cap", func(c *turn.Config) { c.BandwidthBitsPerSecond = -1 }, "bandwidth_bps"},
		{"tiny cap", func(c *turn.Config) { c.BandwidthBitsPerSecond = 8000 }, "bandwidth_bps"},
		{"no cap", func(c *turn.Config) { c.BandwidthBitsPerSecond = 0 }, ""},
		{"lifetime over an hour", func(c *turn.Config) { c.MaxLifetime = 2 * time.Hour }, "max_lifetime"},
		{"lifetime under default", func(c *turn.Config) { c.MaxLifetime = time.Minute }, "max_lifetime"},
		{"fractional lifetime", func(c *turn.Config) { c.MaxLifetime = 900*time.Second + time.Millisecond }, "max_lifetime"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := turn.DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.field != "" && err == nil:
				t.Fatalf("want an error naming %s", tc.field)
			case tc.field != "" && !errors.Is(err, turn.ErrInvalidConfig):
				t.Fatalf("%v does not wrap ErrInvalidConfig", err)
			case tc.field != "" && !strings.Contains(err.Error(), ": "+tc.field+": "):
				t.Fatalf("%v does not name the field %s", err, tc.field)
			}
		})
	}
}

func TestDefaultConfigsDiffer(t *testing.T) {
	a, b := turn.DefaultConfig(), turn.DefaultConfig()
	if a.Secrets[0] == b.Secrets[0] || a.Users["gauntlet"] == b.Users["gauntlet"] {
		t.Fatal("DefaultConfig hands out the same secret twice")
	}
	if a.AllowLoopbackPeers || !turn.DefaultTestConfig().AllowLoopbackPeers {
		t.Fatal("loopback peers: denied by default, allowed by the test preset")
	}
}

// The TURN REST vector of pion/turn's lt_cred_test.go (CONFORMANCE.md).
func TestRESTPasswordVector(t *testing.T) {
	if got := turn.RESTPassword("foobar", "1599491771"); got != "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=" {
		t.Fatalf("RESTPassword = %q", got)
	}
	u, p := turn.RESTCredentials("foobar", "", time.Unix(1599491771, 0))
	if u != "1599491771" || p != "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=" {
		t.Fatalf("RESTCredentials = %q, %q", u, p)
	}
	if u, _ := turn.RESTCredentials("foobar", "alice", time.Unix(1599491771, 0)); u != "1599491771:alice" {
		t.Fatalf("username %q", u)
	}
}
