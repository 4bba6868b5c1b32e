package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pion/rtcp"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// These specs run against a reference of their own whose gateway requires
// SDES-SRTP toward phones (trunk_srtp: sdes, the default suites
// AES_CM_128_HMAC_SHA1_80 then AEAD_AES_128_GCM): its target file says
// srtp: sdes, so the phone agents speak it. Each phone's sockets sit on a
// phoneWire, which sees what really crosses the wire.
var _ = Describe("SDES-SRTP toward phones", Label("rfc4568", "rfc3711"), Ordered, func() {
	var own *fixture.Fixture

	BeforeAll(func(ctx SpecContext) {
		cfg := reference.DefaultConfig()
		cfg.TURN, cfg.Rooms = nil, nil
		cfg.Gateway.TrunkSRTP = gateway.TrunkSRTPSDES
		var err error
		own, err = fixture.StartReference(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(own.Close()).To(Succeed()) })
		Expect(own.Target.SIP.SRTP).To(Equal(scenarios.SRTPSDES))
	}, NodeTimeout(20*time.Second))

	Describe("a browser calling a phone", Ordered, func() {
		var (
			res  reports.Result
			wire *phoneWire
		)
		BeforeAll(func(ctx SpecContext) {
			c, cancel := within(ctx, 20*time.Second)
			defer cancel()
			wire = &phoneWire{}
			browser, phone := sdesPair(c, own, nil, wire.tweak)
			res = endpoint.PlaceCall(c, browser, phone, endpoint.CallSpec{ID: "sdes-to-phone", Hold: time.Second})
		})

		It("offers the phone RTP/SAVP with a fresh a=crypto for each configured suite, in order", func() {
			invites := wire.invites()
			Expect(invites).To(HaveLen(1))
			Expect(invites[0]).To(MatchRegexp(`(?m)^m=audio \d+ RTP/SAVP `))
			Expect(cryptoLines(invites[0])).To(HaveExactElements(
				MatchRegexp(`^1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}$`),
				MatchRegexp(`^2 AEAD_AES_128_GCM inline:[A-Za-z0-9+/]{38}==$`),
			))
		})

		It("connects, and the record says the SDES suite the phone leg negotiated", func() {
			Expect(res.Error).To(BeEmpty())
			Expect(res.Outcome).To(Equal(reports.OutcomeOK))
			Expect(res.Security.TrunkSRTP).To(Equal("SDES AES_CM_128_HMAC_SHA1_80"))
			Expect(res.Security.ObservedBy).To(Equal("wire"), "the browser leg's DTLS figures stay")
		})

		It("carries audio both ways, exactly as sent", func() {
			Expect(res.Media).To(HaveLen(2))
			for _, d := range res.Media {
				Expect(d.Audio).To(BeTrue(), "%s: received %d of %d sent", d.Name, d.Received, d.Sent)
				Expect(d.Received).To(BeNumerically(">", 25), d.Name) // 1 s at 50 packets/s, minus set-up
			}
		})

		It("sends and receives only SRTP on the phone's wire: no payload in the clear", func() {
			out, in, clear := wire.counts()
			Expect(out).To(BeNumerically(">", 25), "RTP datagrams the phone sent")
			Expect(in).To(BeNumerically(">", 25), "RTP datagrams the phone received")
			Expect(clear).To(BeZero(), "datagrams carrying a payload mark in the clear")
		})
	})

	It("exchanges RTCP with the phone as SRTCP (RFC 3711 3.4), with round trips", Label("rfc3550"), func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		wire := &phoneWire{}
		browser, phone := sdesPair(c, own, nil, wire.tweak)
		k := dial(c, browser, phone)
		rtcpOf := func() media.RTCPStats { return k.calleeLeg.Report().Media.RTCP }
		Eventually(rtcpOf).WithContext(c).WithTimeout(rtcpWait).WithPolling(50*time.Millisecond).Should(And(
			HaveField("RemoteSRs", BeNumerically(">", 0)),
			HaveField("RTTCount", BeNumerically(">", 0)),
		), "a sender report from the target, decrypted, with a block echoing the phone's SR")
		Expect(rtcpOf().Unreadable).To(BeZero(), "RTCP from the target the phone could not decrypt or parse")
		in, clear := wire.rtcpCounts()
		Expect(in).To(BeNumerically(">", 0), "RTCP datagrams on the phone's wire")
		Expect(clear).To(BeZero(), "RTCP datagrams readable in the clear")
	})

	It("connects a phone calling a browser with SDES, audio both ways", func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		browser, phone := sdesPair(c, own, nil, nil)
		res := endpoint.PlaceCall(c, phone, browser, endpoint.CallSpec{ID: "sdes-from-phone", Hold: time.Second})
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
		Expect(res.Security.TrunkSRTP).To(Equal("SDES AES_CM_128_HMAC_SHA1_80"), "the gateway takes the phone's first offered suite")
		for _, d := range res.Media {
			Expect(d.Audio).To(BeTrue(), "%s: received %d of %d sent", d.Name, d.Received, d.Sent)
		}
	})

	It("answers 488 to a phone offering plain RTP/AVP, and rings no browser", func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		browser, phone := sdesPair(c, own, nil, func(cfg *endpoint.Config) { cfg.SDES = nil })
		res := endpoint.PlaceCall(c, phone, browser, endpoint.CallSpec{ID: "plain-from-phone", Setup: 5 * time.Second})
		Expect(res.SIPStatus).To(Equal(488))
		Expect(res.Outcome).To(Equal(reports.OutcomeFailed))
		Expect(res.Cause).To(Equal(reports.CauseSignaling))
	})

	It("fails the call when the phone answers plain RTP/AVP: the browser gets 488 and the phone ACK and BYE", func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		wire := &phoneWire{plainAnswer: true}
		browser, phone := sdesPair(c, own, nil, wire.tweak)
		accepted := make(chan *endpoint.Leg, 1)
		go func() { accepted <- phone.Accept(c) }()
		out := browser.Dial(c, phone.User())
		in := <-accepted
		DeferCleanup(func() { _ = out.Close(); _ = in.Close() })
		var status *sipua.StatusError
		Expect(errors.As(out.Err(), &status)).To(BeTrue(), "the browser's INVITE: %v", out.Err())
		Expect(status.Code).To(Equal(488))
		Expect(out.Report().SIPStatus).To(Equal(488))
		Expect(wire.rewrote()).To(Equal(1), "200 OK answers made plain on the phone's wire")
		Eventually(in.Done()).WithContext(c).WithTimeout(5*time.Second).Should(BeClosed(), "the phone's leg ends by the gateway's BYE")
	})

	// The gateway's re-offers repeat its a=crypto and the agents' repeat
	// theirs: the keys, and the media, survive hold and unhold.
	DescribeTable("hold and unhold by re-INVITE keep SRTP flowing",
		func(ctx SpecContext, phoneHolds bool) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			browser, phone := sdesPair(c, own, nil, nil)
			caller, callee := browser, phone
			if phoneHolds {
				caller, callee = phone, browser
			}
			k := dial(c, caller, callee)
			flowing(c, k.callerLeg)
			flowing(c, k.calleeLeg)
			Expect(k.callerLeg.Hold(c)).To(Succeed())
			stopped(c, k.callerLeg)
			flowing(c, k.calleeLeg)
			Expect(k.callerLeg.Unhold(c)).To(Succeed())
			flowing(c, k.callerLeg)
			flowing(c, k.calleeLeg)
			for _, l := range []*endpoint.Leg{k.callerLeg, k.calleeLeg} {
				r := l.Report()
				Expect(r.Media.AuthFailed).To(BeZero(), "%s: SRTP that failed authentication", r.User)
				Expect(r.Recv.Matched).To(Equal(r.Recv.Packets), "%s: audio exactly as sent", r.User)
			}
		},
		Entry("a browser holds a phone", false),
		Entry("a phone holds a browser", true),
	)

	// A phone whose wire sends some of its SRTP packets twice, and a
	// browser with no replay protection of its own: only the gateway's
	// window can stop the copies. The browser's receiver counts packets as
	// RFC 3550 A.1 does, duplicates included, so Received beyond Expected
	// is copies that got through.
	DescribeTable("a replayed SRTP packet from the phone",
		func(ctx SpecContext, weakened bool) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			fx := own
			if weakened {
				cfg := reference.DefaultConfig()
				cfg.TURN, cfg.Rooms = nil, nil
				cfg.Gateway.TrunkSRTP = gateway.TrunkSRTPSDES
				cfg.Gateway.Weaken = []string{gateway.WeakenReplayProtection}
				var err error
				fx, err = fixture.StartReference(c, cfg)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
			}
			wire := &phoneWire{dupEvery: 3}
			noReplay := func(cfg *endpoint.Config) { cfg.PeerConfig = func(p *peer.Config) { p.ReplayWindow = -1 } }
			browser, phone := sdesPair(c, fx, noReplay, wire.tweak)
			var browserLeg *endpoint.Leg
			res := endpoint.PlaceCall(c, browser, phone, endpoint.CallSpec{ID: "sdes-replay", Hold: time.Second,
				OnMedia: func(caller, _ *endpoint.Leg) { browserLeg = caller }})
			Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
			dups := wire.duplicated()
			Expect(dups).To(BeNumerically(">=", 10), "copies the phone's wire sent")
			got := browserLeg.Report().Recv
			Expect(got.Matched).To(BeNumerically(">", 25))
			if weakened {
				Expect(got.Received-got.Expected).To(BeNumerically(">=", dups-3), "copies relayed to the browser (received %d, expected %d)", got.Received, got.Expected)
			} else {
				Expect(got.Received).To(BeNumerically("<=", got.Expected), "no copy relayed to the browser")
			}
		},
		Entry("is dropped by the gateway", false),
		Entry("is relayed with replay-protection weakened", true),
	)
})

// sdesPair brings up a browser and a phone on f, both registered.
func sdesPair(ctx context.Context, f *fixture.Fixture, browserTweak, phoneTweak func(*endpoint.Config)) (browser, phone *endpoint.Endpoint) {
	GinkgoHelper()
	var bt, pt []func(*endpoint.Config)
	if browserTweak != nil {
		bt = append(bt, browserTweak)
	}
	if phoneTweak != nil {
		pt = append(pt, phoneTweak)
	}
	browser, err := f.Endpoint(ctx, fixture.Population(scenarios.KindWebRTC), bt...)
	Expect(err).NotTo(HaveOccurred())
	phone, err = f.Endpoint(ctx, fixture.Population(scenarios.KindSIP), pt...)
	Expect(err).NotTo(HaveOccurred())
	for _, ep := range []*endpoint.Endpoint{browser, phone} {
		reg := ep.Register(ctx)
		Expect(reg.Outcome).To(Equal(reports.OutcomeOK), "REGISTER %s: %s", ep.User(), reg.Error)
	}
	return browser, phone
}

var cryptoLine = regexp.MustCompile(`(?m)^a=crypto:(.*?)\r?$`)

func cryptoLines(sdp string) []string {
	var out []string
	for _, m := range cryptoLine.FindAllStringSubmatch(sdp, -1) {
		out = append(out, m[1])
	}
	return out
}

// phoneWire sits under every socket of a phone agent (SIP and RTP alike):
// it counts the RTP datagrams each way and those that carry a Gauntlet
// payload mark ("GNTL") in the clear, keeps the SDP of each INVITE that
// arrives, and, when asked, sends every dupEvery-th RTP packet twice (after
// the first 10, at most 30 copies) or turns the phone's SDES answer into a
// plain RTP/AVP one, as a phone without SDES would send.
type phoneWire struct {
	dupEvery    int
	plainAnswer bool

	mu                   sync.Mutex
	rtpOut, rtpIn, clear int
	rtcpIn, clearRTCP    int // RTCP datagrams to the phone; those readable as plain RTCP with a CNAME
	dups, rewrites       int
	inviteBodies         []string
}

func (w *phoneWire) tweak(cfg *endpoint.Config) {
	n, err := socket.New(socket.WithSourceIP(cfg.Net.SourceIP()), socket.WithGuard(cfg.Net.Guard()),
		socket.WithPacketWrapper(func(c net.PacketConn) net.PacketConn { return &wiredConn{PacketConn: c, w: w} }))
	Expect(err).NotTo(HaveOccurred())
	cfg.Net = n
}

func (w *phoneWire) invites() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.inviteBodies...)
}

func (w *phoneWire) counts() (out, in, clear int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rtpOut, w.rtpIn, w.clear
}

func (w *phoneWire) rtcpCounts() (in, clear int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rtcpIn, w.clearRTCP
}

// plainRTCP says whether b reads as a plain compound RTCP packet carrying
// an SDES CNAME; SRTCP does not (its body is encrypted, and its trailer
// of index and tag is no RTCP packet).
func plainRTCP(b []byte) bool {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return false
	}
	for _, p := range pkts {
		if sd, ok := p.(*rtcp.SourceDescription); ok && len(sd.Chunks) > 0 {
			return true
		}
	}
	return false
}

func (w *phoneWire) duplicated() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dups
}

func (w *phoneWire) rewrote() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rewrites
}

var markMagic = []byte("GNTL")

func isRTP(b []byte) bool { return len(b) >= 12 && b[0]>>6 == 2 && (b[1] < 192 || b[1] > 223) }

// seen records a datagram; for one the phone sends it says whether to send
// it twice.
func (w *phoneWire) seen(out bool, b []byte) (again bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(b, markMagic) {
		w.clear++
	}
	switch {
	case !out && bytes.HasPrefix(b, []byte("INVITE ")):
		if _, body, ok := bytes.Cut(b, []byte("\r\n\r\n")); ok {
			w.inviteBodies = append(w.inviteBodies, string(body))
		}
	case !out && len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 200 && b[1] <= 204:
		w.rtcpIn++
		if plainRTCP(b) {
			w.clearRTCP++
		}
	case !isRTP(b):
	case !out:
		w.rtpIn++
	default:
		w.rtpOut++
		again = w.dupEvery > 0 && w.rtpOut > 10 && w.rtpOut%w.dupEvery == 0 && w.dups < 30
		if again {
			w.dups++
		}
	}
	return again
}

var contentLength = regexp.MustCompile(`(?im)^(content-length|l)[ \t]*:[ \t]*\d+`)

// plain returns a 200 OK whose SDP answer is RTP/SAVP as one without SDES
// would answer: RTP/AVP and no a=crypto, Content-Length set to match.
func (w *phoneWire) plain(b []byte) []byte {
	if !w.plainAnswer || !bytes.HasPrefix(b, []byte("SIP/2.0 200 ")) || !bytes.Contains(b, []byte(" RTP/SAVP ")) {
		return b
	}
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return b
	}
	var kept [][]byte
	for _, line := range bytes.SplitAfter(bytes.Replace(body, []byte(" RTP/SAVP "), []byte(" RTP/AVP "), 1), []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("a=crypto:")) {
			kept = append(kept, line)
		}
	}
	body = bytes.Join(kept, nil)
	head = contentLength.ReplaceAll(head, []byte("Content-Length: "+strconv.Itoa(len(body))))
	w.mu.Lock()
	w.rewrites++
	w.mu.Unlock()
	return append(append(head, "\r\n\r\n"...), body...)
}

type wiredConn struct {
	net.PacketConn
	w *phoneWire
}

func (c *wiredConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.w.seen(false, p[:n])
	}
	return n, addr, err
}

func (c *wiredConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	sent := c.w.plain(p)
	n, err := c.PacketConn.WriteTo(sent, addr)
	if err != nil {
		return n, err
	}
	if c.w.seen(true, sent) {
		_, _ = c.PacketConn.WriteTo(sent, addr)
	}
	return len(p), nil
}
