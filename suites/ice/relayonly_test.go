package ice_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var _ = Describe("Relay-only agents", Label("rfc8445", "rfc8829", "relay-only"), func() {
	It("send SDP with relay candidates only, raddr 0.0.0.0, and no address of their own, as read off the wire", func(ctx SpecContext) {
		if !strings.HasPrefix(fx.Target.SIP.WS, "ws://") {
			Skip("reads the SIP it sends off a plain ws:// connection; the target's is " + fx.Target.SIP.WS)
		}
		wire := &recorder{}
		browsers := scenarios.NewPopulation("webrtc", scenarios.KindWebRTC, 1)
		browsers.ICEPolicy = scenarios.ICEPolicyRelay
		caller, err := fx.Endpoint(ctx, browsers, func(cfg *endpoint.Config) {
			wire.local = cfg.Net.SourceIP().String()
			cfg.SIP.DialContext = wire.wrap(cfg.Net.DialContext)
		})
		Expect(err).NotTo(HaveOccurred())
		callee, err := fx.Endpoint(ctx, fixture.Population(scenarios.KindSIP))
		Expect(err).NotTo(HaveOccurred())
		for _, ep := range []*endpoint.Endpoint{caller, callee} {
			Expect(ep.Register(ctx).Outcome).To(Equal(reports.OutcomeOK))
		}
		res := endpoint.PlaceCall(ctx, caller, callee, endpoint.CallSpec{ID: "relay-only", Hold: time.Second})
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), "%s: %s", res.Cause, res.Error)
		Expect(res.ICE.Relay).To(BeTrue())
		Expect(res.ICE.LocalCandidate).To(Equal("relay"))

		sdps := wire.sdps()
		Expect(sdps).NotTo(BeEmpty(), "no SDP went over the wire")
		candidate := regexp.MustCompile(`(?m)^a=candidate:\S+ \d+ \S+ \d+ (\S+) (\d+) typ (\S+)(.*)$`)
		for _, sdp := range sdps {
			GinkgoWriter.Println(sdp)
			cands := candidate.FindAllStringSubmatch(sdp, -1)
			Expect(cands).NotTo(BeEmpty())
			relays := map[string]bool{}
			for _, c := range cands {
				Expect(c[3]).To(Equal("relay"), "a %s candidate left a relay-only agent: %s", c[3], c[0])
				if strings.Contains(c[4], "raddr") {
					Expect(c[4]).To(ContainSubstring("raddr 0.0.0.0 rport 0"), c[0])
				}
				relays[c[1]] = true
			}
			for _, m := range regexp.MustCompile(`(?m)^c=IN IP[46] (\S+)`).FindAllStringSubmatch(sdp, -1) {
				Expect(relays[m[1]] || m[1] == "0.0.0.0").To(BeTrue(), "c= line shows %s, not a relay address", m[1])
			}
			Expect(sdp).NotTo(MatchRegexp(`\b`+regexp.QuoteMeta(wire.local)+`\b`), "the agent's own address %s is in its SDP", wire.local)
		}
	}, NodeTimeout(time.Minute))
})

// recorder keeps the bytes a SIP-over-WebSocket client wrote.
type recorder struct {
	mu    sync.Mutex
	local string
	out   bytes.Buffer
}

func (r *recorder) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return recordingConn{Conn: c, r: r}, nil
	}
}

type recordingConn struct {
	net.Conn
	r *recorder
}

func (c recordingConn) Write(p []byte) (int, error) {
	c.r.mu.Lock()
	c.r.out.Write(p)
	c.r.mu.Unlock()
	return c.Conn.Write(p)
}

// sdps decodes the client's WebSocket frames (RFC 6455: masked, after the
// HTTP upgrade) and returns the bodies of the SIP messages that carry SDP.
func (r *recorder) sdps() []string {
	r.mu.Lock()
	b := bytes.Clone(r.out.Bytes())
	r.mu.Unlock()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	Expect(i).To(BeNumerically(">", 0), "no WebSocket upgrade request")
	b = b[i+4:]
	var out []string
	for len(b) >= 2 {
		n, hdr := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, hdr = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		masked := b[1]&0x80 != 0
		var key []byte
		if masked {
			key, hdr = b[hdr:hdr+4], hdr+4
		}
		Expect(len(b)).To(BeNumerically(">=", hdr+n), "truncated WebSocket frame")
		payload := bytes.Clone(b[hdr : hdr+n])
		for j := range payload {
			if masked {
				payload[j] ^= key[j%4]
			}
		}
		b = b[hdr+n:]
		msg := string(payload)
		if body := strings.SplitN(msg, "\r\n\r\n", 2); len(body) == 2 && strings.HasPrefix(body[1], "v=0") {
			out = append(out, body[1])
		}
	}
	return out
}
