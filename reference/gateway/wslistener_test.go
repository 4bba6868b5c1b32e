package gateway

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// A client that opens a connection and never completes the WebSocket
// handshake is cut off at the handshake deadline, and its end is reported;
// once the handshake response is written, the deadline is gone.
func TestWSListenerHandshakeDeadline(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan string, 2)
	l := newWSListener(tcp, 50*time.Millisecond, func(remote string) { ended <- remote })
	defer l.Close()

	silent, err := net.Dial("tcp4", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent client: %v, want the handshake deadline", err)
	}
	if got := <-ended; got != silent.LocalAddr().String() {
		t.Fatalf("ended %q, want %q", got, silent.LocalAddr().String())
	}
	if l.live(silent.LocalAddr().String()) {
		t.Fatal("a connection that ended is still live")
	}

	talker, err := net.Dial("tcp4", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	c2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// Write only after the handshake deadline would have passed: the read
	// must still succeed. (A timing check of the deadline, not a readiness wait.)
	time.AfterFunc(150*time.Millisecond, func() { _, _ = talker.Write([]byte("x")) })
	if _, err := c2.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read after the handshake: %v", err)
	}
	if !l.live(talker.LocalAddr().String()) {
		t.Fatal("an open connection is not live")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-ended; got != talker.LocalAddr().String() {
		t.Fatalf("ended %q at Close, want %q", got, talker.LocalAddr().String())
	}
}
