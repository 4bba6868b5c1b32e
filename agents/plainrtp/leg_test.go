package plainrtp_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sources = socket.NewSources()

func newLeg(t *testing.T) *plainrtp.Leg {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := n.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := plainrtp.New(plainrtp.Config{Conn: conn, AllowRemote: n.Guard().Allow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

type collector struct {
	mu   sync.Mutex
	rx   *media.Receiver
	left int
	done chan struct{}
}

func (c *collector) onRTP(pkt *rtp.Packet, at time.Time) {
	c.rx.Observe(pkt, at)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left--; c.left == 0 {
		close(c.done)
	}
}

// exchangeMarked connects a and b (negotiated as ca and cb), sends n marked
// packets each way and checks each received all of the other's stream; it
// returns the two senders.
func exchangeMarked(ctx context.Context, t *testing.T, a, b *plainrtp.Leg, ca, cb media.Codec, n int) (sa, sb *media.Sender) {
	t.Helper()
	ra := &collector{rx: media.NewReceiver(ca), left: n, done: make(chan struct{})}
	rb := &collector{rx: media.NewReceiver(cb), left: n, done: make(chan struct{})}
	a.OnRTP(ra.onRTP)
	b.OnRTP(rb.onRTP)
	for _, l := range []*plainrtp.Leg{a, b} {
		if err := l.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sa, sb = media.NewSender(ca, a.WriteRTP), media.NewSender(cb, b.WriteRTP)
	for range n {
		if err := sa.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := sb.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*collector{ra, rb} {
		select {
		case <-c.done:
		case <-ctx.Done():
			t.Fatal("the media did not arrive")
		}
	}
	if s := rb.rx.Stats(); s.Matched != n || s.Tags[0] != sa.Tag() {
		t.Fatalf("b received %+v", s)
	}
	if s := ra.rx.Stats(); s.Matched != n || s.Tags[0] != sb.Tag() {
		t.Fatalf("a received %+v", s)
	}
	return sa, sb
}

func TestTwoLegsExchangeRTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, b := newLeg(t), newLeg(t)
	offer, err := a.Offer(ctx, []media.Codec{media.PCMA, media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m=audio ", " RTP/AVP 8 0", "c=IN IP4 127.", "a=rtpmap:8 PCMA/8000", "a=ptime:20"} {
		if !strings.Contains(string(offer), want) {
			t.Fatalf("offer lacks %q:\n%s", want, offer)
		}
	}
	answer, cb, err := b.Answer(ctx, offer, []media.Codec{media.PCMU, media.PCMA})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := a.SetAnswer(answer)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Same(media.PCMA) || !cb.Same(media.PCMA) {
		t.Fatalf("negotiated %v / %v, want PCMA (the offerer's preference)", ca, cb)
	}
	if err := a.WriteRTP(&rtp.Packet{}); !errors.Is(err, plainrtp.ErrNotConnected) {
		t.Fatalf("WriteRTP before Connect: %v", err)
	}
	const n = 20
	exchangeMarked(ctx, t, a, b, ca, cb, n)
	r := a.Report()
	if r.Connected.IsZero() || r.RTPReceived != n || !r.Codec.Same(media.PCMA) || r.ICE.Connected || r.Security.ObservedBy != "" {
		t.Fatalf("report %+v", r)
	}
}

func TestParseRemoteSDP(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\n"
	tests := []struct {
		name  string
		sdp   string
		err   error
		codec string
	}{
		{"session-level c=, static PT without rtpmap", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", nil, "PCMU/8000"},
		{"media-level c=", head + "t=0 0\r\nm=audio 4000 RTP/AVP 8 0\r\nc=IN IP4 127.0.0.9\r\na=rtpmap:8 PCMA/8000\r\n", nil, "PCMA/8000"},
		{"unknown codec skipped", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0\r\na=rtpmap:18 G729/8000\r\n", nil, "PCMU/8000"},
		{"SRTP refused", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n", plainrtp.ErrSDP, ""},
		{"DTLS refused", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 UDP/TLS/RTP/SAVPF 0\r\n", plainrtp.ErrSDP, ""},
		{"no c=", head + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", plainrtp.ErrSDP, ""},
		{"port 0", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", plainrtp.ErrSDP, ""},
		{"no audio", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n", plainrtp.ErrSDP, ""},
		{"unspecified c=", head + "c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", plainrtp.ErrSDP, ""},
		{"no common codec", head + "c=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n", plainrtp.ErrNoCodec, ""},
		{"garbage", "hello", plainrtp.ErrSDP, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLeg(t)
			_, c, err := l.Answer(context.Background(), []byte(tc.sdp), media.Codecs())
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || c.RTPMap() != tc.codec {
				t.Fatalf("got %v, %v; want %s", c, err, tc.codec)
			}
		})
	}
}

func TestAllowRemoteGetsMediaAddress(t *testing.T) {
	n, err := socket.New(socket.WithSourceIP(netip.MustParseAddr("127.0.9.1")))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := n.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	var allowed []netip.Addr
	l, err := plainrtp.New(plainrtp.Config{Conn: conn, AllowRemote: func(a netip.Addr) { allowed = append(allowed, a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	offer := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	if _, _, err := l.Answer(context.Background(), []byte(offer), media.Codecs()); err != nil {
		t.Fatal(err)
	}
	if len(allowed) != 1 || allowed[0] != netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("AllowRemote got %v", allowed)
	}
	if err := l.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The guard was not told: the send to a documentation address is refused.
	if err := l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2}}); !errors.Is(err, socket.ErrDenied) {
		t.Fatalf("WriteRTP to 192.0.2.10: %v, want ErrDenied", err)
	}
}
