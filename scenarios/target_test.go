package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"

	"gopkg.in/yaml.v3"
)

const testDeskEnv = "GAUNTLET_TEST_DESK_PASSWORD"

func TestLoadTargetExample(t *testing.T) {
	t.Setenv("GAUNTLET_WEB_PASSWORD", "web-secret")
	t.Setenv("GAUNTLET_DESK_PASSWORD", "desk-secret")
	tg, err := LoadTarget("targets/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tg.SIPDomain() != "gauntlet.test" || !tg.Loopback() {
		t.Errorf("domain %q loopback %v", tg.SIPDomain(), tg.Loopback())
	}
	user, pw, err := tg.User("browsers", KindWebRTC, 3)
	if err != nil || user != "web1003" || pw != "web-secret" {
		t.Errorf("User(browsers, webrtc, 3) = %q, %q, %v", user, pw, err)
	}
	user, pw, err = tg.User("phones", KindSIP, 0)
	if err != nil || user != "desk2000" || pw != "desk-secret" {
		t.Errorf("User(phones, sip, 0) = %q, %q, %v", user, pw, err)
	}
	s, err := Load("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Check(s); err != nil {
		t.Errorf("smoke.yaml against targets/local.yaml: %v", err)
	}
}

func testTarget(t *testing.T) *Target {
	t.Helper()
	t.Setenv(testDeskEnv, "desk-pass")
	tg, err := ParseTarget("t.yaml", []byte(`
name: t
sip:
  ws: wss://sbc.example.test:443/ws
  udp: "[::1]:5060"
  insecure_tls: true
users:
  browsers: {pattern: "b{n}", start: 0, password: "b-pass"}
  webrtc: {pattern: "web{n}", start: 1000, password: "web-pass"}
  sip: {pattern: "desk{n}", start: 2000, password_env: GAUNTLET_TEST_DESK_PASSWORD}
`))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTargetUser(t *testing.T) {
	tg := testTarget(t)
	cases := []struct {
		pop      string
		kind     Kind
		i        int
		user, pw string
		err      error
	}{
		{"browsers", KindWebRTC, 7, "b7", "b-pass", nil},      // by population name
		{"agents", KindWebRTC, 7, "web1007", "web-pass", nil}, // by kind
		{"phones", KindSIP, 12, "desk2012", "desk-pass", nil}, // password from the environment
		{"trunks", Kind("trunk"), 0, "", "", ErrNoUsers},      // neither
		{"browsers", KindWebRTC, -1, "", "", ErrRange},        // bad index
	}
	for _, c := range cases {
		user, pw, err := tg.User(c.pop, c.kind, c.i)
		if user != c.user || pw != c.pw || !errors.Is(err, c.err) {
			t.Errorf("User(%s, %s, %d) = %q, %q, %v; want %q, %q, %v", c.pop, c.kind, c.i, user, pw, err, c.user, c.pw, c.err)
		}
	}
	if tg.SIPDomain() != "sbc.example.test" || tg.Loopback() {
		t.Errorf("domain %q (want the ws host), loopback %v (want false)", tg.SIPDomain(), tg.Loopback())
	}
	t.Setenv(testDeskEnv, "")
	if _, _, err := tg.User("phones", KindSIP, 0); !errors.Is(err, ErrRequired) {
		t.Errorf("password_env emptied after load: got %v, want ErrRequired", err)
	}
}

// Nothing that prints or encodes a target may show a password.
func TestTargetRedacts(t *testing.T) {
	tg := testTarget(t)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("target", "password", tg.Users["webrtc"].Password, "target", tg)
	jsonOut, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":  tg.String(),
		"%v":      fmt.Sprintf("%v", tg),
		"%+v":     fmt.Sprintf("%+v", *tg),
		"%#v":     fmt.Sprintf("%#v", *tg),
		"%s user": fmt.Sprintf("%s %q %x", tg.Users["webrtc"].Password, tg.Users["webrtc"].Password, tg.Users["webrtc"].Password),
		"json":    string(jsonOut),
		"yaml":    string(yamlOut),
		"slog":    logged.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{"b-pass", "web-pass", "desk-pass", fmt.Sprintf("%x", "web-pass")} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a password:\n%s", name, out)
			}
		}
	}
	for _, name := range []string{"String", "json", "yaml", "slog"} {
		if !strings.Contains(outputs[name], Redacted) {
			t.Errorf("%s does not say %s:\n%s", name, Redacted, outputs[name])
		}
	}
	if !strings.Contains(outputs["String"], "password_env: GAUNTLET_TEST_DESK_PASSWORD") {
		t.Errorf("String should show which variable holds a password:\n%s", outputs["String"])
	}
}

func TestBadTargets(t *testing.T) {
	t.Setenv(testDeskEnv, "desk-pass")
	cases := []badCase{
		{"bad-scheme", []string{`4:3: sip.ws: bad URL "http://127.0.0.1:5066/": scheme must be ws or wss, got "http"`}, ErrSyntax},
		{"no-port", []string{`5:3: sip.udp: bad address "127.0.0.1": want host:port`}, ErrSyntax},
		{"port-range", []string{`5:3: sip.udp: bad address "127.0.0.1:70000": port must be 1..65535, got "70000"`}, ErrRange},
		{"url-credentials", []string{`4:3: sip.ws: the URL holds credentials, which would end up in reports`}, ErrConflict},
		{"missing-n", []string{`9:5: users.sip.pattern: pattern "desk" has no {n}`}, ErrSyntax},
		{"both-passwords", []string{`11:5: users.sip.password_env: give password or password_env, not both`}, ErrConflict},
		{"env-unset", []string{`11:5: users.sip.password_env: environment variable GAUNTLET_TEST_UNSET_VARIABLE is not set`}, ErrRequired},
		{"insecure-ws", []string{`6:3: sip.insecure_tls: applies only to a wss:// URL`}, ErrConflict},
		{"unknown-field", []string{`6:3: sip.udp_port: unknown field; known: domain, ws, udp, tcp, tls, insecure_tls, srtp, sdes_suites`}, ErrUnknownField},
		{"bad-srtp", []string{`5:3: sip.srtp: unknown value "dtls"; known: "none" (plain RTP/AVP, the default), "sdes" (SDES-SRTP, RFC 4568)`}, ErrUnknownName},
		{"sdes-suites-plain", []string{`5:3: sip.sdes_suites: applies only with srtp: sdes`}, ErrConflict},
		{"bad-sdes-suite", []string{`6:17: sip.sdes_suites[0]: unknown SDES crypto-suite "SRTP_AES128_CM_HMAC_SHA1_80"`, `6:64: sip.sdes_suites[2]: "AEAD_AES_128_GCM" listed twice`}, ErrUnknownName},
		{"wrong-type", []string{`3:1: authorized: want true or false, got the string "yes"`}, ErrType},
		{"no-sip", []string{`2:1: sip: required: something to test: sip (ws for webrtc populations, udp/tcp/tls for sip ones), turn or rooms`}, ErrRequired},
		{"negative-start", []string{`10:5: users.sip.start: must be >= 0, got -1`}, ErrRange},
		{"bad-domain", []string{`4:3: sip.domain: bad domain "sip:gauntlet.test"`}, ErrSyntax},
		{"bad-key", []string{`7:3: users.web browsers: bad key "web browsers"`}, ErrSyntax},
		{"missing-name", []string{`2:1: name: required`}, ErrRequired},
		{"password-number", []string{`6:29: users.sip.password: want a string (quote it); the value is not shown`}, ErrType},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", "badtarget", c.file+".yaml")
			_, err := LoadTarget(path)
			checkBad(t, path, c, err)
			if strings.Contains(err.Error(), "987654") {
				t.Errorf("an error shows a password: %v", err)
			}
		})
	}
}

func TestTargetCheck(t *testing.T) {
	tg := testTarget(t)
	s, err := Parse("s.yaml", []byte(`name: s
populations:
  - {name: agents, kind: webrtc, count: 2}
  - {name: more, kind: webrtc, count: 2}
  - {name: browsers, kind: webrtc, count: 2}
  - {name: phones, kind: sip, count: 2}
flows:
  - {name: f, from: agents, to: phones, hold: 1s}
load: {calls: 1, concurrency: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Check(s); err == nil || !strings.Contains(err.Error(),
		`s.yaml:4:5: populations[1]: population "more" takes users.webrtc of target t.yaml, as "agents" does`) {
		t.Errorf("two populations on one users entry: got %v", err)
	}
	// Overlapping numbers under one pattern, and no UDP for the phones.
	tg.Users["more"] = UserSpec{Pattern: "web{n}", Start: 1001}
	tg.SIP.UDP = ""
	err = tg.Check(s)
	want := []string{
		`s.yaml:6:20: populations[3].kind: sip populations need sip.udp, which target t.yaml does not give`,
		`users.more.start: users 1001..1002 of "web{n}" (population "more") overlap users.webrtc's 1000..1001 (population "agents")`,
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != len(want) {
		t.Fatalf("got %v, want %d errors", err, len(want))
	}
	for i, w := range want {
		if got := errs.List[i].Error(); !strings.Contains(got, w) {
			t.Errorf("error %d = %s, want %s", i, got, w)
		}
	}
}

func TestTargetPhoneSRTP(t *testing.T) {
	const head = "name: t\nsip:\n  udp: 127.0.0.1:5060\n"
	for _, tc := range []struct {
		name, sip string
		want      []string
		view      string
	}{
		{"default", "", nil, ""},
		{"none", "  srtp: none\n", nil, "srtp: none"},
		{"sdes, default suites", "  srtp: sdes\n", plainrtp.SDESSuites(), "srtp: sdes"},
		{"sdes, named suites", "  srtp: sdes\n  sdes_suites: [AEAD_AES_256_GCM, AES_CM_128_HMAC_SHA1_80]\n",
			[]string{"AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80"}, "sdes_suites:\n        - AEAD_AES_256_GCM"},
	} {
		tg, err := ParseTarget("t.yaml", []byte(head+tc.sip))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := tg.PhoneSDES(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: PhoneSDES() = %v, want %v", tc.name, got, tc.want)
		}
		if out := tg.String(); tc.view != "" && !strings.Contains(out, tc.view) {
			t.Errorf("%s: String() lacks %q:\n%s", tc.name, tc.view, out)
		}
	}
}
