package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

// registerOver registers user over a sipgo client of transport ("tcp",
// "tls", "udp") toward addr, answering the digest challenge.
func registerOver(ctx context.Context, t *testing.T, transport, addr, domain, user, password string, tlsConfig *tls.Config) int {
	t.Helper()
	opts := []sipgo.UserAgentOption{sipgo.WithUserAgentDNSResolver(noDNS)}
	if tlsConfig != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(tlsConfig))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	req.SetDestination(addr)
	req.SetTransport(strings.ToUpper(transport))
	aor := sip.Uri{Scheme: "sip", User: user, Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: host, Port: p}})
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER over %s: %v", transport, err)
	}
	if res.StatusCode == 401 {
		if res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			t.Fatalf("REGISTER over %s with credentials: %v", transport, err)
		}
	}
	return res.StatusCode
}

// The gateway speaks SIP over UDP, TCP and TLS (its self-signed
// certificate trusted through RootCAs), on IPv4 and IPv6 loopback.
func TestTransports(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx := deadline(t, 15*time.Second)
	cfg := DefaultConfig()
	cfg.Listen = []Listener{{Transport: "udp", Addr: "[::1]:0"}, {Transport: "tcp", Addr: "[::1]:0"}, {Transport: "ws", Addr: "[::1]:0"}}
	gw := startGateway(ctx, t, cfg)
	pw := gw.Password(KindSIP)
	for i, tc := range []struct {
		transport, addr string
		tls             *tls.Config
	}{
		{"udp", gw.UDPAddr(), nil},
		{"tcp", gw.TCPAddr(), nil},
		{"tls", gw.TLSAddr(), &tls.Config{RootCAs: gw.RootCAs(), ServerName: "127.0.0.1"}},
		{"udp", gw.Addr("udp", true), nil},
		{"tcp", gw.Addr("tcp", true), nil},
	} {
		t.Run(tc.transport+" "+tc.addr, func(t *testing.T) {
			if code := registerOver(ctx, t, tc.transport, tc.addr, gw.Domain(), gw.cfg.SIPUsers.Name(i), pw, tc.tls); code != 200 {
				t.Errorf("REGISTER: %d, want 200", code)
			}
		})
	}
	if got := len(gw.reg.all()); got != 5 {
		t.Errorf("%d users registered, want 5", got)
	}
	if b := dialBrowser(ctx, t, "ws://"+gw.Addr("ws", true)+"/", "web1000", gw.Domain()); b == nil {
		t.Error("no WebSocket over IPv6")
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// With a JWT configured, a WebSocket upgrade needs a valid bearer token of
// the pinned algorithm and audience, unexpired, and the connection speaks
// only for the token's subject.
func TestJWTOnUpgrade(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	secret := []byte(strings.Repeat("k", 32))
	cfg := DefaultConfig()
	cfg.Auth.JWT = JWTConfig{Algorithm: JWTHS256, Secret: string(secret), Audience: "gauntlet"}
	gw := startGateway(ctx, t, cfg)
	exp := time.Now().Add(time.Minute).Unix()
	good := token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "web1000", "aud": "gauntlet", "exp": exp})
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"valid", good, 101},
		{"expired", token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "web1000", "aud": "gauntlet", "exp": time.Now().Add(-time.Minute).Unix()}), 401},
		{"other audience", token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "web1000", "aud": "other", "exp": exp}), 401},
		{"no expiry", token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "web1000", "aud": "gauntlet"}), 401},
		{"alg none", token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "web1000", "aud": "gauntlet", "exp": exp}), 401},
		{"wrong key", token(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), jwt.MapClaims{"sub": "web1000", "aud": "gauntlet", "exp": exp}), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := gw.WSURL()
			if tc.token != "" {
				url += "?access_token=" + tc.token
			}
			if got := upgradeStatus(ctx, t, url); got != tc.want {
				t.Errorf("upgrade: %d, want %d", got, tc.want)
			}
		})
	}
	b := dialBrowser(ctx, t, gw.WSURL()+"?access_token="+good, "web1000", gw.Domain())
	b.password = gw.Password(KindWebRTC)
	reg := func(user string) int {
		got := b.transact(ctx, t, b.request(sip.REGISTER, newDialog(user), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil))
		return got[len(got)-1].StatusCode
	}
	if got := reg("web1000"); got != 200 {
		t.Errorf("REGISTER as the token's subject: %d, want 200", got)
	}
	b.user = "web1001"
	if got := reg("web1001"); got != 403 {
		t.Errorf("REGISTER as another user: %d, want 403", got)
	}
}

// upgradeStatus opens a WebSocket upgrade to url and returns the status.
func upgradeStatus(ctx context.Context, t *testing.T, url string) int {
	t.Helper()
	d := ws.Dialer{Protocols: []string{"sip"}}
	conn, _, _, err := d.Dial(ctx, url)
	if err == nil {
		conn.Close()
		return 101
	}
	var se ws.StatusError
	if ok := asStatus(err, &se); ok {
		return int(se)
	}
	t.Fatalf("upgrade: %v", err)
	return 0
}

func asStatus(err error, se *ws.StatusError) bool {
	s, ok := err.(ws.StatusError)
	if ok {
		*se = s
	}
	return ok
}

// /metrics serves the gateway's counters in the Prometheus text format, and
// /turn-credentials mints TURN REST credentials for a user who proves it.
func TestHTTPEndpoints(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	cfg := DefaultConfig()
	cfg.TURN = TURNConfig{Secret: "a-secret-shared-with-turn", TTL: time.Hour, URIs: []string{"turn:127.0.0.1:3478?transport=udp"}}
	gw := startGateway(ctx, t, cfg)
	b := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
	b.password = gw.Password(KindWebRTC)
	if got := b.transact(ctx, t, b.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil)); got[len(got)-1].StatusCode != 200 {
		t.Fatalf("REGISTER: %s", statuses(got))
	}
	body := httpGet(ctx, t, gw.HTTPURL()+"/metrics", "", "", 200)
	for _, want := range []string{"gauntlet_gateway_registrations_total 1", "gauntlet_gateway_bindings 1", "gauntlet_gateway_active_calls 0",
		`gauntlet_gateway_auth_challenges_total{method="REGISTER"} 1`, `gauntlet_gateway_ws_upgrades_total{status="101"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	httpGet(ctx, t, gw.HTTPURL()+"/turn-credentials", "", "", 401)
	httpGet(ctx, t, gw.HTTPURL()+"/turn-credentials", "web1000", "wrong", 401)
	var creds TURNCredentials
	if err := json.Unmarshal([]byte(httpGet(ctx, t, gw.HTTPURL()+"/turn-credentials", "web1000", gw.Password(KindWebRTC), 200)), &creds); err != nil {
		t.Fatal(err)
	}
	expiry, user, _ := strings.Cut(creds.Username, ":")
	exp, _ := strconv.ParseInt(expiry, 10, 64)
	if user != "web1000" || creds.TTL != 3600 || creds.Password != TURNPassword(cfg.TURN.Secret, creds.Username) ||
		exp < time.Now().Add(59*time.Minute).Unix() || len(creds.URIs) != 1 {
		t.Errorf("credentials %+v", creds)
	}
}

// The TURN REST password is base64(HMAC-SHA1(secret, username)); vector
// from pion/turn's lt_cred_test.go.
func TestTURNPasswordVector(t *testing.T) {
	if got := TURNPassword("foobar", "1599491771"); got != "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=" {
		t.Errorf("TURNPassword = %q", got)
	}
}

func httpGet(ctx context.Context, t *testing.T, url, user, pass string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, res.StatusCode, want)
	}
	return string(body)
}

// Drain refuses new calls with 503 and Retry-After, lets the current one
// run until the drain timeout, then BYEs it and closes.
func TestDrain(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	cfg := DefaultConfig()
	cfg.DrainTimeout = 500 * time.Millisecond
	s := newBridgeSetup(ctx, t, cfg)
	peer := newCallingPeer(ctx, t)
	placeCall(ctx, t, s.browser, peer)
	drained := make(chan error, 1)
	go func() { drained <- s.gw.Drain(context.Background()) }()
	for !s.gw.isDraining() {
		select {
		case <-ctx.Done():
			t.Fatal("not draining")
		default:
			time.Sleep(time.Millisecond) // the Drain goroutine flips a flag; nothing to wait on
		}
	}
	got := s.browser.invite(ctx, t, newDialog("desk2000"), s.browser.aor("desk2000"), []byte(newCallingPeer(ctx, t).offer))
	if final := got[len(got)-1]; final.StatusCode != 503 || final.GetHeader("Retry-After") == nil {
		t.Errorf("INVITE while draining: %s, want 503 with Retry-After", statuses(got))
	}
	receive(ctx, t, s.phone.byes, "BYE at the phone at the drain deadline")
	if err := receive(ctx, t, drained, "Drain to return"); err != nil {
		t.Errorf("Drain: %v", err)
	}
}

// With keepalives on, a UDP binding that stops answering OPTIONS is
// dropped; one that answers stays.
func TestKeepaliveDropsDeadBindings(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	cfg := DefaultConfig()
	cfg.KeepaliveInterval = time.Second
	gw := startGateway(ctx, t, cfg)
	alive := startPhone(t, "desk2000")
	alive.password = gw.Password(KindSIP)
	dead := startPhone(t, "desk2001")
	dead.password = gw.Password(KindSIP)
	for _, p := range []*testPhone{alive, dead} {
		if res := p.register(ctx, gw.UDPAddr(), gw.Domain()); res.StatusCode != 200 {
			t.Fatalf("REGISTER %s: %d", p.user, res.StatusCode)
		}
	}
	dead.close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(gw.reg.bindings("desk2001")) != 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the dead binding was never dropped")
		case <-tick.C:
		}
	}
	if len(gw.reg.bindings("desk2000")) != 1 {
		t.Error("the live binding was dropped")
	}
}

// A phone registered over TCP gets its INVITE down the connection it
// registered on (RFC 5626 style connection reuse): here it answers 486,
// which reaches the browser.
func TestCallToTCPPhone(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	gw := startGateway(ctx, t, DefaultConfig())
	ua, err := sipgo.NewUA(sipgo.WithUserAgentDNSResolver(noDNS))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	invited := make(chan *sip.Request, 1)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invited <- req
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	})
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: gw.Domain()})
	req.SetDestination(gw.TCPAddr())
	req.SetTransport("TCP")
	aor := sip.Uri{Scheme: "sip", User: "desk2000", Host: gw.Domain()}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "desk2000", Host: "127.0.0.1", Port: 5999,
		UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}})
	res, err := client.Do(ctx, req)
	if err == nil && res.StatusCode == 401 {
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "desk2000", Password: gw.Password(KindSIP)})
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP: %v %v", res, err)
	}
	b := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
	b.password = gw.Password(KindWebRTC)
	got := b.invite(ctx, t, newDialog("desk2000"), b.aor("desk2000"), []byte(newCallingPeer(ctx, t).offer))
	if final := got[len(got)-1]; final.StatusCode != 486 {
		t.Errorf("INVITE to the TCP phone: %s, want its 486", statuses(got))
	}
	inv := receive(ctx, t, invited, "the INVITE at the TCP phone")
	if !strings.EqualFold(inv.Via().Transport, "TCP") {
		t.Errorf("INVITE came with Via %s", inv.Via().Transport)
	}
}

// metricValue reads one sample of the gateway's metrics (0 when absent).
func metricValue(t *testing.T, gw *Gateway, name string) float64 {
	t.Helper()
	families, err := gw.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	return 0
}

// A user at the call cap gets 503 with Retry-After for one more call.
func TestCallCapPerUser(t *testing.T) {
	ctx := deadline(t, 10*time.Second)
	cfg := DefaultConfig()
	cfg.RateLimit.MaxCallsPerUser = 1
	s := newBridgeSetup(ctx, t, cfg)
	placeCall(ctx, t, s.browser, newCallingPeer(ctx, t))
	got := s.browser.invite(ctx, t, newDialog("desk2000"), s.browser.aor("desk2000"), []byte(newCallingPeer(ctx, t).offer))
	if final := got[len(got)-1]; final.StatusCode != 503 || final.GetHeader("Retry-After") == nil {
		t.Errorf("a second call at the cap: %s, want 503 with Retry-After", statuses(got))
	}
	if got := metricValue(t, s.gw, "gauntlet_gateway_active_calls"); got != 1 {
		t.Errorf("active_calls %v, want 1", got)
	}
}
