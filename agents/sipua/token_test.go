package sipua_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

// upgrade is what a WebSocket server saw of one upgrade request.
type upgrade struct {
	uri, authorization string
}

// webSocketServer upgrades every connection, selecting the sip subprotocol
// when sip is set (a server that does not speak RFC 7118 selects none),
// and reports each upgrade's request URI and Authorization header.
func webSocketServer(t *testing.T, sip bool) (string, <-chan upgrade) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan upgrade, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			var u upgrade
			up := ws.Upgrader{
				Protocol: func(p []byte) bool { return sip && string(p) == "sip" },
				OnRequest: func(uri []byte) error {
					u.uri = string(uri)
					return nil
				},
				OnHeader: func(k, v []byte) error {
					if strings.EqualFold(string(k), "Authorization") {
						u.authorization = string(v)
					}
					return nil
				},
			}
			if _, err := up.Upgrade(c); err == nil {
				select {
				case seen <- u:
				default: // nobody reads them in this test
				}
			}
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), seen
}

func TestBearerTokenOnUpgrade(t *testing.T) {
	token := func(context.Context) (string, error) { return "eyJ.tok.sig", nil }
	tests := []struct {
		name     string
		inQuery  bool
		wantURI  string
		wantAuth string
	}{
		{"header", false, "/sip", "Bearer eyJ.tok.sig"},
		{"query", true, "/sip?access_token=eyJ.tok.sig", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, seen := webSocketServer(t, true)
			ua, err := sipua.New(ctx5(t), sipua.Config{Transport: "ws", Server: "ws://" + addr + "/sip", User: "alice",
				Token: token, TokenInQuery: tt.inQuery})
			if err != nil {
				t.Fatal(err)
			}
			defer ua.Close()
			got := <-seen
			if got.uri != tt.wantURI || got.authorization != tt.wantAuth {
				t.Errorf("upgrade %+v, want uri %q authorization %q", got, tt.wantURI, tt.wantAuth)
			}
		})
	}
}

func TestBearerTokenSourceFails(t *testing.T) {
	addr, _ := webSocketServer(t, true)
	boom := errors.New("no key")
	_, err := sipua.New(ctx5(t), sipua.Config{Transport: "ws", Server: "ws://" + addr + "/", User: "alice",
		Token: func(context.Context) (string, error) { return "", boom }})
	if !errors.Is(err, boom) || !errors.Is(err, sipua.ErrConfig) {
		t.Fatalf("New = %v, want the token source's error as ErrConfig", err)
	}
}
