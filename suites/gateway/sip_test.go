package gateway_test

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// registeredPhone brings up a phone endpoint of the fixture, registered.
func registeredPhone(ctx context.Context) *endpoint.Endpoint {
	ep, err := fx.Endpoint(ctx, fixture.Population(scenarios.KindSIP))
	Expect(err).NotTo(HaveOccurred())
	reg := ep.Register(ctx)
	Expect(reg.Outcome).To(Equal(reports.OutcomeOK), reg.Error)
	return ep
}

// The error answers of RFC 3261 a conforming edge gives, each checked by
// its exact status code on the wire.
var _ = Describe("SIP error answers", Label("rfc3261"), func() {
	var raw *rawClient

	BeforeEach(func(ctx SpecContext) {
		var err error
		raw, err = newRaw(ctx, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
	})

	It("answers an unknown method 405 with Allow", Label("s8.2.1"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		res, err := raw.final(c, raw.request("FROBNICATE", d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(405))
		Expect(res.GetHeader("Allow")).NotTo(BeNil())
		Expect(res.GetHeader("Allow").Value()).To(ContainSubstring("INVITE"))
	})

	It("answers a Request-URI scheme it does not support 416", Label("s8.2.2.1"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		req := raw.request(sip.OPTIONS, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
		text := strings.Replace(req.String(), "OPTIONS sip:"+raw.domain+" SIP/2.0", "OPTIONS tel:+15551234567 SIP/2.0", 1)
		Expect(raw.sendBytes([]byte(text))).To(Succeed())
		res, err := raw.await(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res[len(res)-1].StatusCode).To(Equal(416))
	})

	It("answers an unsupported Require 420 listing it in Unsupported", Label("s8.2.2.3"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		req := raw.request(sip.OPTIONS, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
		req.AppendHeader(sip.NewHeader("Require", "x-frobnication"))
		res, err := raw.final(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(420))
		Expect(res.GetHeader("Unsupported")).NotTo(BeNil())
		Expect(res.GetHeader("Unsupported").Value()).To(ContainSubstring("x-frobnication"))
	})

	It("answers an INVITE body it does not take 415 with Accept", Label("s8.2.3"), func(ctx SpecContext) {
		c, cancel := within(ctx, 10*time.Second)
		defer cancel()
		callee := registeredPhone(c)
		d := newRawDialog(raw.aor(callee.User()))
		res, _, err := raw.do(c, raw.request(sip.INVITE, d, raw.aor(callee.User()), []byte("hello"), "text/plain"), d)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(415))
		Expect(res.GetHeader("Accept")).NotTo(BeNil())
		Expect(res.GetHeader("Accept").Value()).To(ContainSubstring("application/sdp"))
	})

	It("answers too brief a registration 423 with Min-Expires", Label("s10.3"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		req := raw.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
		req.AppendHeader(sip.NewHeader("Expires", "1"))
		res, _, err := raw.do(c, req, d)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(423))
		Expect(res.GetHeader("Min-Expires")).NotTo(BeNil())
	})

	It("answers a BYE for no dialog 481", Label("s12.2.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor("desk2000"))
		d.toTag = "nosuchtag"
		res, err := raw.final(c, raw.request(sip.BYE, d, raw.aor("desk2000"), nil, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(481))
	})

	It("answers a CANCEL for no transaction 481", Label("s9.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor("desk2000"))
		res, err := raw.final(c, raw.request(sip.CANCEL, d, raw.aor("desk2000"), nil, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(481))
	})

	It("answers a request that looped back through it 482", Label("s16.3"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		host, port, err := net.SplitHostPort(fx.Target.SIP.UDP)
		Expect(err).NotTo(HaveOccurred())
		d := newRawDialog(raw.aor("desk2000"))
		req := raw.request(sip.OPTIONS, d, raw.aor("desk2000"), nil, "")
		loop := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: host, Params: sip.NewParams()}
		loop.Port = atoi(port)
		loop.Params.Add("branch", sip.GenerateBranch())
		req.AppendHeader(loop) // a second Via: the gateway's own address
		res, err := raw.final(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(482))
	})

	It("answers a merged INVITE 482", Label("s8.2.2.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 10*time.Second)
		defer cancel()
		callee := registeredPhone(c) // never answers: the first INVITE rings on
		d := newRawDialog(raw.aor(callee.User()))
		inv, err := raw.inviteProceeding(c, d, raw.aor(callee.User()), plainOffer(40000))
		Expect(err).NotTo(HaveOccurred())
		merged := inv.Clone()
		merged.RemoveHeader("Via")
		merged.PrependHeader(raw.via())
		res, err := raw.final(c, merged)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(482))
		cancelReq := raw.request(sip.CANCEL, d, inv.Recipient, nil, "")
		cancelReq.CSeq().SeqNo = inv.CSeq().SeqNo
		cancelReq.RemoveHeader("Via")
		cancelReq.PrependHeader(sip.HeaderClone(inv.Via()))
		Expect(raw.send(cancelReq)).To(Succeed())
	})

	It("answers an INVITE whose Max-Forwards is spent 483", Label("s16.3"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor("desk2000"))
		req := raw.request(sip.INVITE, d, raw.aor("desk2000"), plainOffer(40000), "application/sdp")
		req.RemoveHeader("Max-Forwards")
		mf := sip.MaxForwardsHeader(0)
		req.AppendHeader(&mf)
		res, err := raw.final(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(483))
	})

	It("sends 100 Trying to an INVITE within 200 ms", Label("s17.2.1"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor("desk2000"))
		req := raw.request(sip.INVITE, d, raw.aor("desk2000"), plainOffer(40000), "application/sdp")
		start := time.Now()
		got, err := raw.responses(c, req) // 100, then the 401 challenge
		Expect(err).NotTo(HaveOccurred())
		Expect(got[0].StatusCode).To(Equal(100))
		Expect(time.Since(start)).To(BeNumerically("<", 200*time.Millisecond))
	})

	It("throttles a REGISTER flood from one source with 503 and Retry-After, never 429", Label("rfc3261", "s21.5.4", "rfc3892"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		codes := map[int]int{}
		for range 60 {
			d := newRawDialog(raw.aor(raw.user))
			res, err := raw.final(c, raw.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, ""))
			Expect(err).NotTo(HaveOccurred())
			codes[res.StatusCode]++
			if res.StatusCode == 503 {
				Expect(res.GetHeader("Retry-After")).NotTo(BeNil(), "503 without Retry-After")
			}
		}
		Expect(codes).NotTo(HaveKey(429))
		Expect(codes[503]).To(BeNumerically(">", 0), "answers %v", codes)
	})
})

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}
