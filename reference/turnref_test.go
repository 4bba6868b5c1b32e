package reference

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"
)

func TestTargetYAMLWithTURN(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	tc := turn.DefaultTestConfig()
	cfg.TURN = &tc
	ref, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ref.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	var target struct {
		TURN struct {
			Servers []struct {
				URLs  []string `yaml:"urls"`
				TLSCA string   `yaml:"tls_ca"`
			} `yaml:"servers"`
			Credentials struct {
				REST struct {
					Secret string `yaml:"secret"`
					TTL    string `yaml:"ttl"`
				} `yaml:"rest"`
			} `yaml:"credentials"`
		} `yaml:"turn"`
	}
	raw := ref.TargetYAML()
	if err := yaml.Unmarshal(raw, &target); err != nil {
		t.Fatalf("TargetYAML is not YAML: %v\n%s", err, raw)
	}
	srv := target.TURN.Servers
	if len(srv) != 1 || len(srv[0].URLs) != 7 || srv[0].URLs[0] != ref.TURN().URLs()[0] || !strings.HasPrefix(srv[0].URLs[5], "stun:") {
		t.Fatalf("turn servers %+v, want the relay's five TURN URLs and its two STUN ones", srv)
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(srv[0].TLSCA)) {
		t.Errorf("tls_ca is not a PEM certificate: %q", srv[0].TLSCA)
	}
	if c := target.TURN.Credentials.REST; c.Secret != tc.Secrets[0] || c.TTL != "24h" {
		t.Errorf("credentials %+v", c)
	}
}
