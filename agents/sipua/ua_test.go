package sipua_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	// The sipgo test server can open a udp socket for a message still being
	// handled while it shuts down (its pool is already cleared); that reader
	// belongs to the test double, not to sipua, whose goroutines are all checked.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}

var transports = []string{"ws", "udp", "tcp"}

func newUA(t *testing.T, cfg sipua.Config) *sipua.UA {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ua, err := sipua.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := ua.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ua
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRegister(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			if tp == "ws" && ua.Subprotocol() != "sip" {
				t.Errorf("Subprotocol = %q, want sip", ua.Subprotocol())
			}
			status, err := ua.Register(ctx5(t), time.Hour)
			if err != nil || status != 200 {
				t.Fatalf("Register = %d, %v; want 200", status, err)
			}
			if err := ua.Unregister(ctx5(t)); err != nil {
				t.Fatalf("Unregister: %v", err)
			}
			s.mu.Lock()
			regs := s.regs
			s.mu.Unlock()
			if len(regs) != 2 {
				t.Fatalf("registrar saw %d REGISTERs, want 2", len(regs))
			}
			first, second := regs[0], regs[1]
			if got := first.GetHeader("Expires").Value(); got != "3600" {
				t.Errorf("Expires = %q, want 3600", got)
			}
			if got := second.GetHeader("Expires").Value(); got != "0" {
				t.Errorf("un-REGISTER Expires = %q, want 0", got)
			}
			if first.CallID().Value() != second.CallID().Value() || second.CSeq().SeqNo <= first.CSeq().SeqNo {
				t.Errorf("REGISTERs must share Call-ID and increase CSeq: %v %v / %v %v",
					first.CallID(), first.CSeq(), second.CallID(), second.CSeq())
			}
			if got := first.Recipient.String(); got != "sip:"+testRealm {
				t.Errorf("Request-URI = %s", got)
			}
			via, contact := first.Via(), first.Contact()
			switch tp {
			case "ws": // RFC 7118 §5.2
				if via.Transport != "WS" || !strings.HasSuffix(via.Host, ".invalid") {
					t.Errorf("Via = %s, want SIP/2.0/WS <random>.invalid", via.Value())
				}
				if !strings.HasSuffix(contact.Address.Host, ".invalid") || contact.Address.UriParams.GetOr("transport", "") != "ws" {
					t.Errorf("Contact = %s, want <sip:alice@<random>.invalid;transport=ws>", contact.Value())
				}
			case "tcp":
				if via.Transport != "TCP" || contact.Address.UriParams.GetOr("transport", "") != "tcp" {
					t.Errorf("Via %s, Contact %s: want SIP/2.0/TCP and transport=tcp", via.Value(), contact.Value())
				}
			case "udp":
				if via.Transport != "UDP" || !via.Params.Has("rport") || via.Host != "127.0.0.1" {
					t.Errorf("Via = %s, want SIP/2.0/UDP 127.0.0.1:port;rport", via.Value())
				}
				if got, want := contact.Address.Port, ua.LocalAddr().(*net.UDPAddr).Port; got != want {
					t.Errorf("Contact port %d, bound %d", got, want)
				}
			}
			if b, _ := via.Params.Get("branch"); !strings.HasPrefix(b, "z9hG4bK") {
				t.Errorf("branch %q lacks the magic cookie", b)
			}
		})
	}
}

func TestRegisterDigest(t *testing.T) {
	tests := []struct {
		name      string
		algs      []string
		password  string
		wrongCode int
		wantAlg   string
		wantCode  int
	}{
		{name: "md5 only", algs: []string{"MD5"}, password: "secret", wantAlg: "MD5"},
		{name: "sha-256 preferred, offered second", algs: []string{"MD5", "SHA-256"}, password: "secret", wantAlg: "SHA-256"},
		{name: "sha-256 preferred, offered first", algs: []string{"SHA-256", "MD5"}, password: "secret", wantAlg: "SHA-256"},
		{name: "wrong password, new challenge", algs: []string{"SHA-256"}, password: "wrong", wantCode: 401},
		{name: "wrong password, 403", algs: []string{"MD5"}, password: "wrong", wrongCode: 403, wantCode: 403},
	}
	for _, tp := range transports {
		for _, tt := range tests {
			t.Run(tp+"/"+tt.name, func(t *testing.T) {
				s := newTestServer(t, srvOpts{transport: tp, password: "secret", algs: tt.algs, wrongCode: tt.wrongCode})
				cfg := s.config("alice")
				cfg.Password = tt.password
				ua := newUA(t, cfg)
				status, err := ua.Register(ctx5(t), time.Minute)
				if tt.wantCode != 0 {
					var se *sipua.StatusError
					if !errors.As(err, &se) || se.Code != tt.wantCode || status != tt.wantCode {
						t.Fatalf("Register = %d, %v; want StatusError %d", status, err, tt.wantCode)
					}
					return
				}
				if err != nil || status != 200 {
					t.Fatalf("Register = %d, %v; want 200", status, err)
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				if len(s.authAlgs) != 1 || !strings.EqualFold(s.authAlgs[0], tt.wantAlg) {
					t.Errorf("credentials used %q, want %s", s.authAlgs, tt.wantAlg)
				}
			})
		}
	}
}

func TestRegisterRefusesDowngrade(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "udp", password: "secret", algs: []string{"SHA-256"}})
	cfg := s.config("alice")
	cfg.Password = "secret"
	ua := newUA(t, cfg)
	if _, err := ua.Register(ctx5(t), time.Minute); err != nil {
		t.Fatalf("Register: %v", err)
	}
	s.mu.Lock()
	s.o.algs = []string{"MD5"}
	s.mu.Unlock()
	if _, err := ua.Register(ctx5(t), time.Minute); !errors.Is(err, sipua.ErrDowngrade) {
		t.Fatalf("Register after the realm dropped SHA-256: %v, want ErrDowngrade", err)
	}
}

func TestRegisterNoPassword(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "ws", password: "secret"})
	ua := newUA(t, s.config("alice"))
	var se *sipua.StatusError
	if status, err := ua.Register(ctx5(t), time.Minute); !errors.As(err, &se) || se.Code != 401 || status != 401 {
		t.Fatalf("Register = %d, %v; want StatusError 401", status, err)
	}
}

func TestRegisterRejectsFractionalExpires(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "udp"})
	ua := newUA(t, s.config("alice"))
	if _, err := ua.Register(ctx5(t), 1500*time.Millisecond); !errors.Is(err, sipua.ErrConfig) {
		t.Fatalf("Register(1.5s) = %v, want ErrConfig", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = sipua.New(ctx5(t), sipua.Config{Transport: "ws", Server: "ws://" + addr + "/sip", User: "alice"})
	if !errors.Is(err, sipua.ErrUnreachable) {
		t.Fatalf("New = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name %s", err, addr)
	}
}

func TestNewWithoutSubprotocol(t *testing.T) {
	addr := plainWebSocketServer(t)
	_, err := sipua.New(ctx5(t), sipua.Config{Transport: "ws", Server: "ws://" + addr + "/", User: "alice"})
	if !errors.Is(err, sipua.ErrSubprotocol) {
		t.Fatalf("New = %v, want ErrSubprotocol", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name %s", err, addr)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := sipua.Config{Transport: "udp", Server: "127.0.0.1:5060", User: "alice"}
	tests := []struct {
		name string
		edit func(*sipua.Config)
		want string // substring of the error; empty: valid
	}{
		{"valid udp", func(*sipua.Config) {}, ""},
		{"valid ws", func(c *sipua.Config) { c.Transport, c.Server = "ws", "ws://127.0.0.1:8080/sip" }, ""},
		{"no transport", func(c *sipua.Config) { c.Transport = "" }, "Transport"},
		{"sctp", func(c *sipua.Config) { c.Transport = "sctp" }, "Transport"},
		{"tcp without port", func(c *sipua.Config) { c.Transport, c.Server = "tcp", "127.0.0.1" }, "Server"},
		{"udp without port", func(c *sipua.Config) { c.Server = "127.0.0.1" }, "Server"},
		{"ws with udp address", func(c *sipua.Config) { c.Transport = "ws" }, "Server"},
		{"wss with ws url", func(c *sipua.Config) { c.Transport, c.Server = "wss", "ws://127.0.0.1/" }, "Server"},
		{"no user", func(c *sipua.Config) { c.User = "" }, "User"},
		{"user with @", func(c *sipua.Config) { c.User = "a@b" }, "User"},
		{"T2 below T1", func(c *sipua.Config) { c.Timers = sipua.Timers{T1: time.Second, T2: 10 * time.Millisecond} }, "T2"},
		{"negative T4", func(c *sipua.Config) { c.Timers.T4 = -1 }, "Timers"},
		{"negative queue", func(c *sipua.Config) { c.IncomingQueue = -1 }, "IncomingQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, sipua.ErrConfig) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want ErrConfig naming %s", err, tt.want)
			}
		})
	}
}

func TestRegisterWSS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	s := newTestServer(t, srvOpts{transport: "wss", tls: serverTLS})
	cfg := s.config("alice")
	cfg.TLSConfig = clientTLS
	ua := newUA(t, cfg)
	if status, err := ua.Register(ctx5(t), time.Hour); err != nil || status != 200 {
		t.Fatalf("Register = %d, %v; want 200", status, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if via := s.regs[0].Via(); via.Transport != "WSS" || !strings.HasSuffix(via.Host, ".invalid") {
		t.Errorf("Via = %s, want SIP/2.0/WSS <random>.invalid", via.Value())
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gauntlet test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// A REGISTER answered 503 with Retry-After is sent again once the wait is
// over, when the caller's deadline leaves room for it (RFC 3261 21.5.4);
// otherwise the 503 is the answer.
func TestRegisterWaitsOutOverload(t *testing.T) {
	tests := []struct {
		name     string
		budget   time.Duration
		wantCode int
		wantRegs int
	}{
		{"room to wait", 5 * time.Second, 200, 2},
		{"no room", 800 * time.Millisecond, 503, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: "udp", overloaded: 1})
			ua := newUA(t, s.config("alice"))
			ctx, cancel := context.WithTimeout(context.Background(), tt.budget)
			defer cancel()
			status, err := ua.Register(ctx, time.Minute)
			if status != tt.wantCode {
				t.Fatalf("Register = %d, %v; want %d", status, err, tt.wantCode)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.regs) != tt.wantRegs {
				t.Errorf("%d REGISTERs sent, want %d", len(s.regs), tt.wantRegs)
			}
		})
	}
}
