package sipua

import (
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestNextInterval(t *testing.T) {
	const t2 = 4 * time.Second
	ms := time.Millisecond
	tests := []struct {
		name       string
		cur        time.Duration
		invite     bool
		proceeding bool
		want       time.Duration
	}{
		{"INVITE doubles (Timer A)", 500 * ms, true, false, time.Second},
		{"INVITE passes T2", 4 * time.Second, true, false, 8 * time.Second},
		{"non-INVITE doubles (Timer E)", 500 * ms, false, false, time.Second},
		{"non-INVITE capped at T2", 4 * time.Second, false, false, t2},
		{"non-INVITE caps a doubling", 3 * time.Second, false, false, t2},
		{"non-INVITE proceeding is T2", 500 * ms, false, true, t2},
	}
	for _, tt := range tests {
		if got := nextInterval(tt.cur, t2, tt.invite, tt.proceeding); got != tt.want {
			t.Errorf("%s: nextInterval(%s) = %s, want %s", tt.name, tt.cur, got, tt.want)
		}
	}
}

func TestPickChallenges(t *testing.T) {
	ch := func(realm, alg string, qop ...string) string {
		return (&digest.Challenge{Realm: realm, Nonce: "n", Algorithm: alg, QOP: qop}).String()
	}
	tests := []struct {
		name   string
		values []string
		want   map[string]string // realm -> algorithm picked
	}{
		{"md5 alone", []string{ch("a", "MD5", "auth")}, map[string]string{"a": "MD5"}},
		{"no algorithm means MD5", []string{ch("a", "", "auth")}, map[string]string{"a": ""}},
		{"sha-256 after md5", []string{ch("a", "MD5", "auth"), ch("a", "SHA-256", "auth")}, map[string]string{"a": "SHA-256"}},
		{"sha-256 before md5", []string{ch("a", "SHA-256", "auth"), ch("a", "MD5", "auth")}, map[string]string{"a": "SHA-256"}},
		{"sha-512-256 strongest", []string{ch("a", "SHA-256"), ch("a", "SHA-512-256")}, map[string]string{"a": "SHA-512-256"}},
		{"sess variants skipped", []string{ch("a", "SHA-256-sess", "auth"), ch("a", "MD5", "auth")}, map[string]string{"a": "MD5"}},
		{"unknown qop skipped", []string{ch("a", "SHA-256", "auth-conf"), ch("a", "MD5")}, map[string]string{"a": "MD5"}},
		{"spaced qop list", []string{`Digest realm="a", nonce="n", algorithm=SHA-256, qop="auth-conf, auth"`}, map[string]string{"a": "SHA-256"}},
		{"one per realm", []string{ch("a", "MD5"), ch("b", "SHA-256")}, map[string]string{"a": "MD5", "b": "SHA-256"}},
		{"basic ignored", []string{`Basic realm="a"`}, map[string]string{}},
	}
	for _, tt := range tests {
		got := pickChallenges(tt.values)
		if len(got) != len(tt.want) {
			t.Errorf("%s: picked %d challenges, want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for _, c := range got {
			if alg, ok := tt.want[c.Realm]; !ok || alg != c.Algorithm {
				t.Errorf("%s: realm %q picked %q, want %q", tt.name, c.Realm, c.Algorithm, alg)
			}
		}
	}
}

func TestTargetURI(t *testing.T) {
	u := &UA{cfg: Config{Domain: "example.org"}}
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "bob", want: "sip:bob@example.org"},
		{in: "+15551234", want: "sip:+15551234@example.org"},
		{in: "sip:bob@other.example:5070", want: "sip:bob@other.example:5070"},
		{in: "sips:bob@other.example", want: "sips:bob@other.example"},
		{in: "tel:+15551234", want: "tel:+15551234"},
		{in: "", bad: true},
		{in: "bob@example.org", bad: true},
		{in: "bo b", bad: true},
	}
	for _, tt := range tests {
		got, err := u.targetURI(tt.in)
		switch {
		case tt.bad && err == nil:
			t.Errorf("targetURI(%q) = %s, want an error", tt.in, got.String())
		case !tt.bad && (err != nil || got.String() != tt.want):
			t.Errorf("targetURI(%q) = %s, %v; want %s", tt.in, got.String(), err, tt.want)
		}
	}
}

func TestResponseDest(t *testing.T) {
	src := netip.MustParseAddrPort("127.0.0.9:40000")
	tests := []struct {
		via  string
		want string
	}{
		{"SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKx;rport", "127.0.0.9:40000"}, // RFC 3581: the source port
		{"SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKx", "127.0.0.9:5080"},        // the Via port
		{"SIP/2.0/UDP host.example;branch=z9hG4bKx", "127.0.0.9:5060"},          // received address, default port
	}
	for _, tt := range tests {
		msg, err := sip.ParseMessage([]byte("OPTIONS sip:a@b SIP/2.0\r\nVia: " + tt.via +
			"\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := responseDest(msg.(*sip.Request), src); got.String() != tt.want {
			t.Errorf("Via %s: response to %s, want %s", tt.via, got, tt.want)
		}
	}
}

func TestInDialogRouting(t *testing.T) {
	u := &UA{cfg: Config{UserAgent: "test"}, tp: &udpTransport{}, viaHost: "127.0.0.1", viaPort: 5060,
		contact: &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "127.0.0.1"}}}
	uri := func(s string) sip.Uri {
		var x sip.Uri
		if err := sip.ParseUri(s, &x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name      string
		routes    []string
		wantRURI  string
		wantRoute []string
	}{
		{"no route set", nil, "sip:b@10.0.0.2", nil},
		{"loose routers", []string{"sip:p1;lr", "sip:p2;lr"}, "sip:b@10.0.0.2", []string{"sip:p1;lr", "sip:p2;lr"}},
		{"strict router", []string{"sip:p1", "sip:p2;lr"}, "sip:p1", []string{"sip:p2;lr", "sip:b@10.0.0.2"}},
	}
	for _, tt := range tests {
		d := &Dialog{ua: u, CallID: "c", target: uri("sip:b@10.0.0.2")}
		for _, r := range tt.routes {
			d.routes = append(d.routes, uri(r))
		}
		req := d.requestLocked(sip.BYE, 2, false)
		if got := req.Recipient.String(); got != tt.wantRURI {
			t.Errorf("%s: Request-URI %s, want %s", tt.name, got, tt.wantRURI)
		}
		var got []string
		for _, h := range req.GetHeaders("Route") {
			got = append(got, h.(*sip.RouteHeader).Address.String())
		}
		if len(got) != len(tt.wantRoute) {
			t.Errorf("%s: Route %q, want %q", tt.name, got, tt.wantRoute)
			continue
		}
		for i := range got {
			if got[i] != tt.wantRoute[i] {
				t.Errorf("%s: Route %q, want %q", tt.name, got, tt.wantRoute)
			}
		}
		if len(d.routes) != len(tt.routes) {
			t.Errorf("%s: building the request changed the route set", tt.name)
		}
	}
}
