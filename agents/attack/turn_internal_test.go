package attack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

func TestCombineTURNChecks(t *testing.T) {
	res := func(name string) turnCheck { return turnCheck{name: name, verdict: Resisted, summary: "held"} }
	vuln := func(name, sev string) turnCheck {
		return turnCheck{name: name, verdict: Vulnerable, severity: sev, summary: "failed", remediation: "fix " + name}
	}
	inc := func(name string) turnCheck {
		return turnCheck{name: name, verdict: Inconclusive, summary: "not measured"}
	}
	cases := []struct {
		name         string
		checks       []turnCheck
		verdict      string
		severity     string
		remediation  string
		warnings     int
		evidenceHead string
	}{
		{"all held", []turnCheck{res("a"), res("b")}, Resisted, "", "", 0, "[a] resisted: held"},
		{"one failed", []turnCheck{res("a"), vuln("b", Medium)}, Vulnerable, Medium, "fix b", 0, "[a] resisted: held"},
		{"worst severity wins", []turnCheck{vuln("a", Low), vuln("b", High), vuln("c", Medium)}, Vulnerable, High, "fix a fix b fix c", 0, "[a] VULNERABLE: failed"},
		{"unverified is a warning", []turnCheck{res("a"), inc("b")}, Resisted, "", "", 1, "[a] resisted: held"},
		{"failed beats unverified", []turnCheck{inc("a"), vuln("b", High)}, Vulnerable, High, "fix b", 1, "[a] inconclusive: not measured"},
		{"nothing verified", []turnCheck{inc("a"), inc("b")}, Inconclusive, "", "", 2, "[a] inconclusive: not measured"},
		{"undecided counts as inconclusive", []turnCheck{{name: "a", summary: "?"}}, Inconclusive, "", "", 1, "[a] inconclusive: ?"},
	}
	for _, tc := range cases {
		out := combineTURNChecks("x", tc.checks)
		if out.Verdict != tc.verdict || out.Severity != tc.severity || out.Remediation != tc.remediation ||
			len(out.Warnings) != tc.warnings || len(out.Evidence) == 0 || out.Evidence[0] != tc.evidenceHead {
			t.Errorf("%s: got %s/%s %q, %d warnings, evidence %q; want %s/%s %q, %d warnings, first %q",
				tc.name, out.Verdict, out.Severity, out.Remediation, len(out.Warnings), out.Evidence,
				tc.verdict, tc.severity, tc.remediation, tc.warnings, tc.evidenceHead)
		}
	}
}

func TestCombineTURNChecksEvidence(t *testing.T) {
	c := turnCheck{name: "peer-deny"}
	c.fact("10.0.0.1:9: granted")
	c.warn("odd")
	c.vulnerable(High, "deny", "1 of 2 granted")
	out := combineTURNChecks("turn-abuse", []turnCheck{c})
	want := []string{"[peer-deny] VULNERABLE: 1 of 2 granted", "[peer-deny] 10.0.0.1:9: granted"}
	if !slices.Equal(out.Evidence, want) || !slices.Equal(out.Warnings, []string{"[peer-deny] odd"}) {
		t.Fatalf("evidence %q, warnings %q", out.Evidence, out.Warnings)
	}
	if !strings.Contains(out.Reason, "peer-deny") {
		t.Fatalf("reason %q does not name the failed defence", out.Reason)
	}
}

func TestBandwidthCapped(t *testing.T) {
	cases := []struct {
		offered, delivered float64
		promised           int64
		want               bool
	}{
		{3e6, 3e6, 0, false},
		{3e6, 2.5e6, 0, false},
		{3e6, 2.3e6, 0, true},
		{3e6, 1.2e6, 0, true},
		{3e6, 0, 0, true},
		{3e6, 1.4e6, 1e6, true},
		{3e6, 1.5e6, 1e6, true},
		{3e6, 1.6e6, 1e6, false},
	}
	for _, tc := range cases {
		if got := turnBandwidthCapped(tc.offered, tc.delivered, tc.promised); got != tc.want {
			t.Errorf("offered %.0f delivered %.0f promised %d: capped %v, want %v", tc.offered, tc.delivered, tc.promised, got, tc.want)
		}
	}
}

func TestBurstDue(t *testing.T) {
	cases := []struct {
		elapsed time.Duration
		rate    float64
		size    int
		want    int
	}{
		{0, 3e6, 1000, 0},
		{time.Second, 3e6, 1000, 375},
		{500 * time.Millisecond, 3e6, 1000, 187},
		{time.Millisecond, 3e6, 1000, 0},
		{time.Second, 8000, 1000, 1},
	}
	for _, tc := range cases {
		if got := turnBurstDue(tc.elapsed, tc.rate, tc.size); got != tc.want {
			t.Errorf("%v at %.0f bit/s, %d B: %d due, want %d", tc.elapsed, tc.rate, tc.size, got, tc.want)
		}
	}
}

func TestDenyProbes(t *testing.T) {
	for _, list := range [][]turnDeniedPeer{turnDeniedV4, turnDeniedV6} {
		all, noLoop := turnDenyProbes(list, false), turnDenyProbes(list, true)
		if len(all) != len(list) {
			t.Errorf("loopback denied: %d probes of %d", len(all), len(list))
		}
		for _, p := range noLoop {
			if p.addr.Addr().Unmap().IsLoopback() {
				t.Errorf("loopback allowed, yet %s is probed", p.addr)
			}
		}
		if len(noLoop) == len(list) {
			t.Errorf("no loopback probe left out of %v", list)
		}
	}
	for _, p := range turnDeniedV4 {
		if !p.addr.Addr().Is4() {
			t.Errorf("IPv4 probe %s is not IPv4", p.addr)
		}
	}
	for _, p := range turnDeniedV6 {
		if !p.addr.Addr().Is6() {
			t.Errorf("IPv6 probe %s is not IPv6 (an IPv4-mapped probe must stay IPv6)", p.addr)
		}
	}
	if !slices.ContainsFunc(turnDeniedV4, func(p turnDeniedPeer) bool {
		return p.addr.Addr() == netip.MustParseAddr("169.254.169.254")
	}) {
		t.Error("the cloud metadata address is not probed")
	}
}

func TestUDPServer(t *testing.T) {
	cases := []struct {
		urls []string
		want string
		err  error
	}{
		{[]string{"turn:127.0.0.1:3478?transport=udp"}, "127.0.0.1:3478", nil},
		{[]string{"turn:127.0.0.1:3478"}, "127.0.0.1:3478", nil},
		{[]string{"turns:127.0.0.1:5349", "turn:[::1]:3478?transport=udp", "turn:127.0.0.2:3478?transport=udp"}, "127.0.0.2:3478", nil},
		{[]string{"turn:[::1]:3478?transport=udp"}, "[::1]:3478", nil},
		{[]string{"turn:127.0.0.1:3478?transport=tcp", "turns:127.0.0.1:5349"}, "", ErrNoUDPServer},
	}
	for _, tc := range cases {
		got, err := TURNEnv{URLs: tc.urls}.udpServer(context.Background())
		if !errors.Is(err, tc.err) || (err == nil && got.String() != tc.want) {
			t.Errorf("%v: %v, %v; want %s, %v", tc.urls, got, err, tc.want, tc.err)
		}
	}
}

func TestTURNCredentials(t *testing.T) {
	rest := TURNEnv{RESTSecret: "foobar"}
	u, p := rest.credentials("alice")
	if !strings.HasSuffix(u, ":alice") || p == "" {
		t.Errorf("REST credentials %q/%q", u, p)
	}
	static := TURNEnv{Username: "bob", Password: "pw"}
	if u, p := static.credentials("alice"); u != "bob" || p != "pw" {
		t.Errorf("static credentials %q/%q, want bob/pw", u, p)
	}
}

func TestSTUNRaw(t *testing.T) {
	var id [stun.TransactionIDSize]byte
	copy(id[:], "gauntlet-tx1")
	good := stunWellFormed(stun.BindingRequest, id, true, stunAttrOf(stunUnknownOptional, []byte("junk")))
	m := &stun.Message{Raw: good}
	if err := m.Decode(); err != nil || stun.Fingerprint.Check(m) != nil || m.TransactionID != id {
		t.Fatalf("well-formed Binding does not decode: %v", err)
	}
	cases := []struct {
		name  string
		b     []byte
		valid bool
	}{
		{"well formed", rawSTUN(stunBindingRequest, -1, stunCookie, id, stunAttrOf(stunAttrSoftware, []byte("abcd"))), true},
		{"bad cookie", rawSTUN(stunBindingRequest, -1, stunCookie^1, id), false},
		{"attribute past the message", rawSTUN(stunBindingRequest, 8, stunCookie, id, stunAttr{typ: stunAttrSoftware, value: []byte("abcd"), length: 200}), false},
		{"unpadded", rawSTUN(stunBindingRequest, -1, stunCookie, id, stunAttr{typ: stunAttrSoftware, value: []byte("ab"), length: -1, unpadded: true}), false},
	}
	for _, tc := range cases {
		m := &stun.Message{Raw: tc.b}
		if err := m.Decode(); (err == nil) != tc.valid {
			t.Errorf("%s: decode error %v, want valid %v", tc.name, err, tc.valid)
		}
	}
	if b := rawSTUN(stunBindingRequest, -1, stunCookie, id, stunAttr{typ: stunAttrSoftware, value: []byte("ab"), length: -1, unpadded: true}); len(b) != 26 || b[3] != 6 {
		t.Errorf("unpadded message: %d bytes, length field %d; want 26 and 6", len(b), b[3])
	}
	if b := stunChannelData(0x4001, 1000, []byte("junk")); len(b) != 8 || b[0] != 0x40 || b[1] != 0x01 || int(b[2])<<8|int(b[3]) != 1000 {
		t.Errorf("ChannelData % x", b)
	}
}

// silentEnv is an env whose TURN server is a socket that never answers.
func silentEnv(t *testing.T) *Env {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return &Env{
		TURN: TURNEnv{URLs: []string{"turn:" + pc.LocalAddr().String() + "?transport=udp"}, RESTSecret: "a-secret-of-some-length"},
		Net: func(opts ...socket.Option) (*socket.Net, error) {
			return socket.New(append([]socket.Option{socket.WithSourceIP(netip.MustParseAddr("127.0.4.1"))}, opts...)...)
		},
		CaptureDir: t.TempDir(),
	}
}

func TestTURNAttacksInconclusiveWhenUnanswered(t *testing.T) {
	for _, run := range []func(context.Context, *Env) Outcome{TURNAbuse, TURNTorture} {
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		out := run(ctx, silentEnv(t))
		cancel()
		if out.Verdict != Inconclusive || out.Reason == "" {
			t.Errorf("against a silent server: %s (%q), want inconclusive with a reason", out.Verdict, out.Reason)
		}
	}
}

func TestTURNAttacksNeedTURN(t *testing.T) {
	as, err := Select([]string{"turn-abuse", "turn-torture"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if out := Run(context.Background(), a, &Env{}); out.Verdict != Inconclusive || !strings.Contains(out.Reason, "turn") {
			t.Errorf("%s without a turn section: %s (%q)", a.Name, out.Verdict, out.Reason)
		}
	}
}
