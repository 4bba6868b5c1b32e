package reference

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"
)

func TestTargetYAML(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	cfg.TURN, cfg.Rooms = nil, nil // the gateway's part alone; turnref_test.go and roomsref_test.go hold the rest
	ref, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	gw := ref.Gateway()
	want := fmt.Sprintf(`name: reference
authorized: false
sip:
  domain: gauntlet.test
  ws: %s
  udp: %s
  tcp: %s
  tls: %s
  insecure_tls: true
users:
  webrtc: {pattern: "web{n}", start: 1000, password: %q}
  sip: {pattern: "desk{n}", start: 2000, password: %q}
`, gw.WSURL(), gw.UDPAddr(), gw.TCPAddr(), gw.TLSAddr(), gw.Password(gateway.KindWebRTC), gw.Password(gateway.KindSIP))
	got := ref.TargetYAML()
	if string(got) != want {
		t.Errorf("TargetYAML:\n%s\nwant:\n%s", got, want)
	}
	var target struct {
		Name       string `yaml:"name"`
		Authorized bool   `yaml:"authorized"`
		SIP        struct {
			Domain, WS, UDP string
		} `yaml:"sip"`
		Users map[string]struct {
			Pattern  string
			Start    int
			Password string
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(got, &target); err != nil {
		t.Fatalf("TargetYAML is not YAML: %v", err)
	}
	if target.SIP.WS != gw.WSURL() || target.SIP.UDP != gw.UDPAddr() || target.Users["sip"].Pattern != "desk{n}" || target.Users["webrtc"].Start != 1000 ||
		target.Users["sip"].Password != gw.Password(gateway.KindSIP) {
		t.Errorf("TargetYAML decodes to %+v", target)
	}
	if gw.WSURL() == "" || gw.UDPAddr() == "" {
		t.Errorf("running gateway has no addresses: ws %q udp %q", gw.WSURL(), gw.UDPAddr())
	}
	if err := ref.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// With trunk_srtp: sdes the target file tells sip agents to speak
// SDES-SRTP with the gateway's suites.
func TestTargetYAMLWithSDES(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	cfg.TURN, cfg.Rooms = nil, nil
	cfg.Gateway.TrunkSRTP = gateway.TrunkSRTPSDES
	cfg.Gateway.SDESSuites = []string{"AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80"}
	ref, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var target struct {
		SIP struct {
			SRTP       string   `yaml:"srtp"`
			SDESSuites []string `yaml:"sdes_suites"`
		} `yaml:"sip"`
	}
	raw := ref.TargetYAML()
	if err := yaml.Unmarshal(raw, &target); err != nil {
		t.Fatalf("TargetYAML is not YAML: %v\n%s", err, raw)
	}
	if target.SIP.SRTP != "sdes" || fmt.Sprint(target.SIP.SDESSuites) != "[AEAD_AES_256_GCM AES_CM_128_HMAC_SHA1_80]" {
		t.Errorf("sip.srtp %q sdes_suites %v in\n%s", target.SIP.SRTP, target.SIP.SDESSuites, raw)
	}
}

func TestStartRefusesInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Gateway.DTLSRole = "both"
	if _, err := Start(t.Context(), cfg); !errors.Is(err, gateway.ErrInvalidConfig) {
		t.Fatalf("Start: %v, want gateway.ErrInvalidConfig", err)
	}
}
