package gateway_test

import (
	"crypto/tls"
	"net/url"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

var _ = Describe("SIP over WebSocket framing", Label("rfc7118"), func() {
	var raw *rawClient

	BeforeEach(func(ctx SpecContext) {
		var err error
		raw, err = newRaw(ctx, scenarios.KindWebRTC)
		Expect(err).NotTo(HaveOccurred())
	})

	options := func(raw *rawClient) *sip.Request {
		return raw.request(sip.OPTIONS, newRawDialog(raw.aor(raw.user)), sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
	}

	It("takes a SIP message in a binary frame", Label("s5.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		req := options(raw)
		Expect(raw.sendBytes([]byte(req.String()), ws.OpBinary)).To(Succeed())
		got, err := raw.await(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(got[len(got)-1].StatusCode).To(Equal(200))
	})

	It("takes one SIP message fragmented over several frames", Label("s5.1"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		req := options(raw)
		text := []byte(req.String())
		half := len(text) / 2
		raw.wmu.Lock()
		for _, f := range []ws.Frame{ws.NewFrame(ws.OpText, false, text[:half]), ws.NewFrame(ws.OpContinuation, true, text[half:])} {
			Expect(ws.WriteFrame(raw.conn, ws.MaskFrame(f))).To(Succeed())
		}
		raw.wmu.Unlock()
		got, err := raw.await(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(got[len(got)-1].StatusCode).To(Equal(200))
	})

	It("refuses an upgrade that does not ask for the sip subprotocol", Label("s4"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		_, err := dialRawWS(c, fx.Target.SIP.WS, nil, "chat")
		Expect(err).To(HaveOccurred())
	})

	It("delivers an INVITE for a browser down the WebSocket it registered on, Via WS", Label("s5.2", "s6"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		res, err := raw.register(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))
		phone := registeredPhone(c)
		dialed := make(chan *endpoint.Leg, 1)
		go func() { dialed <- phone.Dial(c, raw.user) }()
		inv, err := raw.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(inv.Method).To(Equal(sip.INVITE))
		Expect(strings.ToUpper(inv.Via().Transport)).To(Equal(raw.transport))
		Expect(inv.Recipient.Host).To(Equal(raw.host), "the Request-URI is the contact it registered")
		Expect(string(inv.Body())).To(ContainSubstring("UDP/TLS/RTP/SAVPF"))
		Expect(raw.reply(inv, 486, "Busy Here", "busy", nil)).To(Succeed())
		leg := <-dialed
		Expect(leg.Err()).To(HaveOccurred())
		Expect(leg.Report().SIPStatus).To(Equal(486))
	})

	It("serves SIP over secure WebSocket", Label("s5", "rfc6455", "s11.1.2"), func(ctx SpecContext) {
		ref := fx.Reference()
		if ref == nil || ref.Gateway().WSSURL() == "" {
			Skip("needs the in-process reference's wss listener")
		}
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		u, err := url.Parse(ref.Gateway().WSSURL())
		Expect(err).NotTo(HaveOccurred())
		secure, err := dialRawWS(c, ref.Gateway().WSSURL(), &tls.Config{RootCAs: ref.Gateway().RootCAs(), ServerName: u.Hostname()})
		Expect(err).NotTo(HaveOccurred())
		defer secure.close()
		secure.user, secure.password = rawUser(scenarios.KindWebRTC)
		res, err := secure.register(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))
	})
})
