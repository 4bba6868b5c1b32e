package gateway

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestMalformedStreamFraming(t *testing.T) {
	opts := "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc"
	compact := "OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n"
	for _, tc := range []struct {
		name   string
		in     string
		kind   int
		n      int
		status int
	}{
		{"keepalive", "\r\n\r\nOPTIONS", frameKeepalive, 4, 0},
		{"keepalive in pieces", "\r\n\r\n\r\n", frameKeepalive, 4, 0},
		{"whole", opts + "NEXT", frameMessage, len(opts), 0},
		{"compact l", compact, frameMessage, len(compact), 0},
		{"head not ended", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n", frameMore, 0, 0},
		{"body not whole", opts[:len(opts)-1], frameMore, 0, 0},
		{"no Content-Length", "OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", frameLost, 0, 400},
		{"two Content-Length", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nl: 5\r\n\r\nabcde", frameLost, 0, 400},
		{"negative", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -9\r\n\r\n", frameLost, 0, 400},
		{"not a number", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1e3\r\n\r\n", frameLost, 0, 400},
		{"huge", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2147483647\r\n\r\n", frameLost, 0, 413},
		{"past int64", "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n", frameLost, 0, 413},
		{"endless line", "OPTIONS sip:a@b SIP/2.0\r\nX: " + strings.Repeat("a", maxStreamMessage), frameLost, 0, 513},
	} {
		got := frameStream([]byte(tc.in))
		if got.kind != tc.kind || got.n != tc.n || got.status != tc.status {
			t.Errorf("%s: %+v, want kind %d, n %d, status %d", tc.name, got, tc.kind, tc.n, tc.status)
		}
	}
}

// pipeListener hands out the server ends of net.Pipe connections, so the
// tests run in a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (p *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipeListener) Close() error   { close(p.done); return nil }
func (p *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }

// dial connects a client to the listener (an Accept must be waiting or
// come).
func (p *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	go func() { p.conns <- server }()
	return client
}

// sipgoReader stands in for sipgo's reader: it reads c until an error and
// sends every read on the channel, then the error.
func sipgoReader(c net.Conn) (<-chan string, <-chan error) {
	reads, end := make(chan string, 16), make(chan error, 1)
	go func() {
		buf := make([]byte, 32768)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				reads <- string(buf[:n])
			}
			if err != nil {
				_ = c.Close()
				end <- err
				return
			}
		}
	}()
	return reads, end
}

func readAnswer(t *testing.T, c net.Conn) string {
	t.Helper()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// Hardened: well-framed messages and keepalives reach sipgo as they are; a
// framed request sipgo cannot parse is answered 400 and the connection
// reads on; a lost framing is answered and ends the connection, and so
// does an incomplete message past its deadline, without holding up the
// listener meanwhile.
func TestMalformedStreamHardened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		l := newMalformedListener(pl, false, slog.New(slog.DiscardHandler))
		defer l.Close()
		client := pl.dial()
		server, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		reads, end := sipgoReader(server)

		ok := "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n" +
			"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		write(t, client, "\r\n\r\n"+ok)
		if got := <-reads; got != "\r\n\r\n" {
			t.Errorf("keepalive handed on as %q", got)
		}
		if got := <-reads; got != ok {
			t.Errorf("message handed on as %q", got)
		}

		bad := strings.Replace(ok, "To: <sip:a@b>", "To: <sip:a@b>;;,;,,", 1)
		bad = strings.Replace(bad, "From: <sip:a@b>;tag=1", "From: \"unterminated <sip:a@b>;tag=1", 1)
		go write(t, client, bad)
		if got := readAnswer(t, client); got != "SIP/2.0 400 Bad Request" {
			t.Errorf("a framed request that does not parse: %q", got)
		}

		// Incomplete on one connection: another is still accepted.
		other := pl.dial()
		began := time.Now()
		go write(t, other, "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc")
		second, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		_, secondEnd := sipgoReader(second)

		go write(t, client, strings.Replace(ok, "Content-Length: 0\r\n", "", 1))
		if got := readAnswer(t, client); got != "SIP/2.0 400 Content-Length Required On A Stream" {
			t.Errorf("no Content-Length: %q", got)
		}
		if err := <-end; !errors.Is(err, io.EOF) {
			t.Errorf("a lost framing ends the connection with EOF, got %v", err)
		}

		if err := <-secondEnd; !errors.Is(err, io.EOF) {
			t.Errorf("an incomplete message ends with EOF, got %v", err)
		}
		if waited := time.Since(began); waited < incompleteTimeout || waited > incompleteTimeout+time.Second {
			t.Errorf("an incomplete message was closed after %v, want %v", waited, incompleteTimeout)
		}
		_ = client.Close()
		_ = other.Close()
	})
}

// Weakened: a connection holding an incomplete message (a new one does
// until its first message is whole) keeps the listener from accepting
// any other, until the message is whole or the connection closes.
func TestMalformedStreamWeakened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		l := newMalformedListener(pl, true, slog.New(slog.DiscardHandler))
		defer l.Close()
		first := pl.dial()
		server, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		reads, _ := sipgoReader(server)

		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		second := pl.dial()
		synctest.Wait()
		if len(accepted) != 0 {
			t.Fatal("accepted while the first connection had sent nothing")
		}

		part := "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"
		write(t, first, part)
		if got := <-reads; got != part {
			t.Errorf("weakened, bytes go to sipgo as they come; got %q", got)
		}
		synctest.Wait()
		if len(accepted) != 0 {
			t.Fatal("accepted while the first connection held an incomplete message")
		}

		write(t, first, "defghij")
		<-reads
		c := <-accepted
		_ = c.Close()
		_ = first.Close()
		_ = second.Close()
	})
}

func write(t *testing.T, c net.Conn, s string) {
	if _, err := io.WriteString(c, s); err != nil {
		t.Errorf("write: %v", err)
	}
}
