package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func frame(op ws.OpCode, fin bool, payload string, masked bool) []byte {
	f := ws.NewFrame(op, fin, []byte(payload))
	if masked {
		f = ws.MaskFrame(f)
	}
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReadMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   string
		err    error
	}{
		{"text", [][]byte{frame(ws.OpText, true, "OPTIONS", true)}, "OPTIONS", nil},
		{"binary", [][]byte{frame(ws.OpBinary, true, "OPTIONS", true)}, "OPTIONS", nil},
		{"fragmented with a ping between", [][]byte{
			frame(ws.OpText, false, "OPT", true), frame(ws.OpPing, true, "", true), frame(ws.OpContinuation, true, "IONS", true),
		}, "OPTIONS", nil},
		{"unmasked", [][]byte{frame(ws.OpText, true, "OPTIONS", false)}, "", errWSProtocol},
		{"continuation first", [][]byte{frame(ws.OpContinuation, true, "x", true)}, "", errWSProtocol},
		{"message inside a message", [][]byte{frame(ws.OpText, false, "a", true), frame(ws.OpText, true, "b", true)}, "", errWSProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := readMessage(bufio.NewReader(bytes.NewReader(bytes.Join(tc.frames, nil))))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h, err := ws.ReadHeader(bytes.NewReader(got))
			if err != nil || h.OpCode != ws.OpText || !h.Fin || !h.Masked {
				t.Fatalf("re-framed header %+v, %v: want one masked final text frame", h, err)
			}
			payload := got[len(got)-int(h.Length):]
			ws.Cipher(payload, h.Mask, 0)
			if string(payload) != tc.want {
				t.Fatalf("message %q, want %q", payload, tc.want)
			}
		})
	}
}

// A client that connects and stays silent is cut off at the handshake
// deadline; one that does not ask for the sip subprotocol gets 400.
func TestWSFrontHandshake(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admit := func(*http.Request, string) admission { return admission{} }
	f := newWSFront(ln, nil, 100*time.Millisecond, slog.New(slog.DiscardHandler), admit, nil, false)
	defer f.Close()

	silent, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent client read: %v, want EOF from the gateway closing it", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cut off after %v", d)
	}

	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 400 || !strings.Contains(res.Header.Get("X-Reason"), "sip") {
		t.Fatalf("upgrade without the sip subprotocol: %d %v, want 400", res.StatusCode, res.Header)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A message that does not parse (RFC 4475's badinv01) over a WebSocket:
// hardened, the front still takes new connections and a REGISTER on one is
// challenged; with malformed-input weakened the listener is closed, so a
// new WebSocket connection is refused.
func TestWeakenMalformedInputWebSocket(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 15*time.Second)
		gw := startGateway(ctx, t, weakenedOr(weak, WeakenMalformedInput))
		first := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
		if err := wsutil.WriteClientMessage(first.conn, ws.OpText, torture(t, "badinv01")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the front reads it before the next dial
		conn, _, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, gw.WSURL())
		if weak {
			if err == nil {
				_ = conn.Close()
				t.Fatal("a new WebSocket connection was taken after the malformed message, with malformed-input weakened")
			}
			return
		}
		if err != nil {
			t.Fatalf("a new WebSocket connection after the malformed message: %v", err)
		}
		_ = conn.Close()
		b := dialBrowser(ctx, t, gw.WSURL(), "web1001", gw.Domain())
		reg := b.request(sip.REGISTER, newDialog("web1001"), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil)
		if got := b.transactOnce(ctx, t, reg); got[len(got)-1].StatusCode != 401 {
			t.Fatalf("REGISTER after the malformed message: %s, want 401", statuses(got))
		}
	})
}
