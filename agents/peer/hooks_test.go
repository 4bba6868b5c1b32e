package peer_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
)

// doubler sends every RTP packet twice and counts the DTLS datagrams that
// went through it.
type doubler struct {
	net.Conn
	dtls   atomic.Int32
	double atomic.Bool
}

func (d *doubler) Write(b []byte) (int, error) {
	switch {
	case len(b) > 0 && b[0] >= 20 && b[0] <= 63:
		d.dtls.Add(1)
	case len(b) > 1 && b[0] >= 128 && (b[1] < 192 || b[1] > 223) && d.double.Load():
		if _, err := d.Conn.Write(b); err != nil {
			return 0, err
		}
	}
	return d.Conn.Write(b)
}

func TestHooksRewriteSDPAndWrapTheConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := &doubler{}
	w.double.Store(true)
	var mu sync.Mutex
	var seen []byte
	a := newPeer(t, func(c *peer.Config) {
		c.LocalSDP = func(b []byte) []byte { return append(b, "a=x-gauntlet:rewritten\r\n"...) }
		c.WrapConn = func(conn net.Conn) net.Conn {
			w.Conn = conn
			return w
		}
	})
	b := newPeer(t, func(c *peer.Config) {
		c.RemoteSDP = func(sdp []byte) {
			mu.Lock()
			seen = bytes.Clone(sdp)
			mu.Unlock()
		}
	})
	codec := negotiate(t, ctx, a, b, []media.Codec{media.PCMU}, []media.Codec{media.PCMU})
	mu.Lock()
	rewritten := bytes.Contains(seen, []byte("a=x-gauntlet:rewritten"))
	mu.Unlock()
	if !rewritten {
		t.Fatalf("the answerer was not shown the rewritten offer:\n%s", seen)
	}

	const n = 10
	rb := newCollector(codec, n+1)
	b.OnRTP(rb.onRTP)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	if w.dtls.Load() == 0 {
		t.Fatal("no DTLS datagram went through the wrapper")
	}
	sa := media.NewSender(codec, a.WriteRTP)
	for range n {
		if err := sa.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// One last packet sent once: once it is in, every copy before it was read.
	w.double.Store(false)
	if err := sa.SendAt(time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rb.done:
	case <-ctx.Done():
		t.Fatal("RTP did not arrive")
	}
	if r := b.Report(); r.RTPReceived != n+1 || r.Rejected != n {
		t.Fatalf("received %d, rejected %d: want %d and the %d copies rejected as replays", r.RTPReceived, r.Rejected, n+1, n)
	}
}
