package reference

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
)

func TestLoadConfigExample(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "reference.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Gateway
	if g.WSAddr != "127.0.0.1:5066" || len(g.Listen) != 2 || g.Listen[0].Addr != "[::1]:5060" ||
		g.RateLimit.RetryAfter != 5*time.Second || g.Faults[0].Share != 0.1 || g.SIPUsers.Password != "change-me-desk" {
		t.Errorf("loaded %+v", g)
	}
	if g.TrunkSRTP != gateway.TrunkSRTPNone || len(g.SDESSuites) != 2 || g.SDESSuites[1] != "AEAD_AES_128_GCM" {
		t.Errorf("trunk_srtp %q sdes_suites %v", g.TrunkSRTP, g.SDESSuites)
	}
	// What the file leaves out keeps its default.
	if g.MaxBindings != gateway.DefaultConfig().MaxBindings {
		t.Errorf("max_bindings = %d, want the default", g.MaxBindings)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		field      string
	}{
		{"unknown field", "gateway:\n  domain: a.test\n  colour: red\n", 3, "gateway.colour"},
		{"wrong type", "gateway:\n  max_bindings: many\n", 2, "gateway.max_bindings"},
		{"duration without unit", "gateway:\n  invite_timeout: 60\n", 2, "gateway.invite_timeout"},
		{"invalid value", "gateway:\n  rate_limit:\n    invite_per_user: {per_second: 1, burst: 0}\n", 3, "gateway.rate_limit.invite_per_user.burst"},
		{"bad listener", "gateway:\n  listen:\n    - {transport: udp, addr: \"[::1]:0\"}\n    - {transport: sctp, addr: \"[::1]:0\"}\n", 4, "gateway.listen[1].transport"},
		{"bad weaken", "gateway:\n  weaken: [digest, everything]\n", 2, "gateway.weaken[1]"},
		{"bad fault", "gateway:\n  faults:\n    - name: drop-media\n      direction: sideways\n", 4, "gateway.faults[0].direction"},
		{"bad trunk srtp", "gateway:\n  domain: a.test\n  trunk_srtp: zrtp\n", 3, "gateway.trunk_srtp"},
		{"sdes without suites", "gateway:\n  trunk_srtp: sdes\n  sdes_suites: []\n", 3, "gateway.sdes_suites"},
		{"syntax", "gateway: [\n", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("ref.yaml", []byte(tc.yaml))
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if tc.line != 0 && (ce.Line != tc.line || ce.Field != tc.field) {
				t.Fatalf("err = %v (line %d field %q), want line %d field %q", err, ce.Line, ce.Field, tc.line, tc.field)
			}
			if ce.File != "ref.yaml" {
				t.Fatalf("file %q", ce.File)
			}
		})
	}
}

func TestParseConfigEmpty(t *testing.T) {
	cfg, err := ParseConfig("empty.yaml", nil)
	if err != nil || cfg.Gateway.Domain != gateway.DefaultConfig().Domain {
		t.Fatalf("empty config: %v, %+v", err, cfg.Gateway.Domain)
	}
}
