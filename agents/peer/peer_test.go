package peer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sources = socket.NewSources()

func newPeer(t *testing.T, mod func(*peer.Config)) *peer.Peer {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := peer.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := peer.Config{Net: n, Certificate: cert}
	if mod != nil {
		mod(&cfg)
	}
	p, err := peer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// collector counts RTP packets and signals when n have arrived.
type collector struct {
	mu   sync.Mutex
	rx   *media.Receiver
	want int
	ssrc uint32
	done chan struct{}
}

func newCollector(c media.Codec, want int) *collector {
	return &collector{rx: media.NewReceiver(c), want: want, done: make(chan struct{})}
}

func (c *collector) onRTP(pkt *rtp.Packet, at time.Time) {
	c.rx.Observe(pkt, at)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ssrc = pkt.SSRC
	c.want--
	if c.want == 0 {
		close(c.done)
	}
}

// negotiate runs offer/answer between a and b and returns the codec.
func negotiate(t *testing.T, ctx context.Context, a, b *peer.Peer, offer, answer []media.Codec) media.Codec {
	t.Helper()
	o, err := a.Offer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	ans, cb, err := b.Answer(ctx, o, answer)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := a.SetAnswer(ans)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Same(cb) || ca.PayloadType != cb.PayloadType {
		t.Fatalf("offerer negotiated %v/%d, answerer %v/%d", ca, ca.PayloadType, cb, cb.PayloadType)
	}
	return ca
}

func connectBoth(ctx context.Context, a, b *peer.Peer) (errA, errB error) {
	var wg sync.WaitGroup
	wg.Go(func() { errB = b.Connect(ctx) })
	errA = a.Connect(ctx)
	wg.Wait()
	return errA, errB
}

func TestTwoPeersExchangeSRTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The offerer (DTLS server once the answer says active) prefers GCM;
	// the answerer (DTLS client) offers CM first. The server's preference wins.
	a := newPeer(t, func(c *peer.Config) {
		c.SRTPProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80}
	})
	b := newPeer(t, func(c *peer.Config) {
		c.SRTPProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AEAD_AES_128_GCM}
	})
	codec := negotiate(t, ctx, a, b, []media.Codec{media.Opus, media.PCMU}, []media.Codec{media.PCMU, media.Opus})
	if !codec.Same(media.Opus) {
		t.Fatalf("negotiated %v, want opus (the offerer's preference)", codec)
	}
	const n = 20
	ra, rb := newCollector(codec, n), newCollector(codec, n)
	a.OnRTP(ra.onRTP)
	b.OnRTP(rb.onRTP)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	sa := media.NewSender(codec, a.WriteRTP)
	sb := media.NewSender(codec, b.WriteRTP)
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
			t.Fatal("RTP did not arrive")
		}
	}
	if ra.ssrc != b.SSRC() || rb.ssrc != a.SSRC() {
		t.Fatalf("SSRC on the wire %d/%d, want the declared %d/%d", rb.ssrc, ra.ssrc, a.SSRC(), b.SSRC())
	}
	if s := rb.rx.Stats(); s.Matched != n || s.Lost != 0 || s.Tags[0] != sa.Tag() {
		t.Fatalf("b received %+v", s)
	}
	if s := ra.rx.Stats(); s.Matched != n || s.Tags[0] != sb.Tag() {
		t.Fatalf("a received %+v", s)
	}

	for _, tc := range []struct {
		p    *peer.Peer
		role string
	}{{a, "server"}, {b, "client"}} {
		r := tc.p.Report()
		sec := r.Security
		if sec.DTLSVersion != "DTLS 1.2" || sec.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" ||
			sec.SRTPProfile != "SRTP_AEAD_AES_128_GCM" || !sec.ExtendedMasterSecret || sec.ObservedBy != "wire" ||
			sec.FingerprintHash != "sha-256" || sec.DTLSRole != tc.role {
			t.Errorf("%s security %+v", tc.role, sec)
		}
		if !r.ICE.Connected || !r.ICE.SDPExchanged || r.ICE.LocalCandidate != "host" || r.ICE.Relay || r.ICE.Policy != "all" {
			t.Errorf("%s ICE %+v", tc.role, r.ICE)
		}
		if r.Connected.IsZero() || r.ICEMS <= 0 || r.DTLSMS <= 0 || r.RTPReceived != n || r.AuthFailed != 0 {
			t.Errorf("%s report %+v", tc.role, r)
		}
	}
}

func TestWrongFingerprintFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newPeer(t, nil)
	b := newPeer(t, nil)
	o, err := a.Offer(ctx, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	// A man in the middle replaces the offer's fingerprint with its own.
	mitm, err := peer.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	o = replaceFingerprint(t, o, mitm)
	ans, _, err := b.Answer(ctx, o, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	errA, errB := connectBoth(ctx, a, b)
	if !errors.Is(errB, peer.ErrFingerprint) {
		t.Fatalf("answerer: got %v, want ErrFingerprint", errB)
	}
	if errA == nil {
		t.Fatal("offerer connected although the far end refused its certificate")
	}
	if err := b.WriteRTP(&rtp.Packet{}); !errors.Is(err, peer.ErrNotConnected) {
		t.Fatalf("WriteRTP after a failed handshake: %v", err)
	}
}

func TestSetupRoles(t *testing.T) {
	tests := []struct {
		offer, answer string // Config.Setup of each side
		offererRole   string
	}{
		{peer.SetupActpass, peer.SetupActpass, "server"}, // answer active
		{peer.SetupActpass, peer.SetupPassive, "client"}, // answer passive
		{peer.SetupActive, peer.SetupActpass, "client"},
		{peer.SetupPassive, peer.SetupActpass, "server"},
	}
	for _, tc := range tests {
		t.Run(tc.offer+"/"+tc.answer, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a := newPeer(t, func(c *peer.Config) { c.Setup = tc.offer })
			b := newPeer(t, func(c *peer.Config) { c.Setup = tc.answer })
			negotiate(t, ctx, a, b, []media.Codec{media.PCMU}, []media.Codec{media.PCMU})
			if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
				t.Fatalf("Connect: %v / %v", errA, errB)
			}
			ra, rb := a.Report().Security.DTLSRole, b.Report().Security.DTLSRole
			if ra != tc.offererRole || ra == rb {
				t.Fatalf("roles %s / %s, want offerer %s", ra, rb, tc.offererRole)
			}
		})
	}
}

func TestConfigRejected(t *testing.T) {
	n, err := socket.New()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := peer.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  peer.Config
	}{
		{"no net", peer.Config{Certificate: cert}},
		{"no certificate", peer.Config{Net: n}},
		{"relay without TURN", peer.Config{Net: n, Certificate: cert, Policy: peer.PolicyRelay}},
		{"bad policy", peer.Config{Net: n, Certificate: cert, Policy: "none"}},
		{"bad setup", peer.Config{Net: n, Certificate: cert, Setup: "holdconn"}},
		{"unknown profile", peer.Config{Net: n, Certificate: cert, SRTPProfiles: []dtls.SRTPProtectionProfile{0x00ff}}},
	}
	for _, tc := range tests {
		if _, err := peer.New(tc.cfg); !errors.Is(err, peer.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", tc.name, err)
		}
	}
}

func TestOutOfOrderCalls(t *testing.T) {
	ctx := context.Background()
	a := newPeer(t, nil)
	if err := a.Connect(ctx); !errors.Is(err, peer.ErrState) {
		t.Fatalf("Connect before negotiation: %v", err)
	}
	if _, err := a.SetAnswer([]byte("v=0")); err == nil {
		t.Fatal("SetAnswer without an offer accepted")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offer(ctx, []media.Codec{media.Opus}); !errors.Is(err, peer.ErrClosed) {
		t.Fatalf("Offer after Close: %v", err)
	}
}

func TestICETimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newPeer(t, nil)
	b := newPeer(t, nil)
	negotiate(t, ctx, a, b, []media.Codec{media.Opus}, []media.Codec{media.Opus})
	if err := b.Close(); err != nil { // the far end is gone before ICE
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	err := a.Connect(short)
	if !errors.Is(err, peer.ErrICE) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrICE and DeadlineExceeded", err)
	}
	if r := a.Report(); r.ICE.Connected || !r.ICE.SDPExchanged || !r.Connected.IsZero() {
		t.Fatalf("report %+v", r.ICE)
	}
}

func TestDTLSOptionsHookShowsOnTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cbc := func(c *peer.Config) {
		c.DTLSOptions = []dtls.Option{dtls.WithCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)}
		c.SRTPProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80}
	}
	a, b := newPeer(t, cbc), newPeer(t, cbc)
	negotiate(t, ctx, a, b, []media.Codec{media.PCMA}, []media.Codec{media.PCMA})
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	for _, p := range []*peer.Peer{a, b} {
		sec := p.Report().Security
		if sec.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" || sec.SRTPProfile != "SRTP_AES128_CM_HMAC_SHA1_80" {
			t.Fatalf("security %+v", sec)
		}
	}
}
