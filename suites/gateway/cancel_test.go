package gateway_test

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// cancelFor is the CANCEL of a pending INVITE (same Via branch).
func (r *rawClient) cancelFor(inv *sip.Request, d *rawDialog) *sip.Request {
	c := r.request(sip.CANCEL, d, inv.Recipient, nil, "")
	c.CSeq().SeqNo = inv.CSeq().SeqNo
	c.RemoveHeader("Via")
	c.PrependHeader(sip.HeaderClone(inv.Via()))
	c.RemoveHeader("To")
	c.AppendHeader(sip.HeaderClone(inv.To()))
	return c
}

// finals collects the final responses to the INVITE and to the CANCEL.
func (r *rawClient) finals(ctx context.Context, inv *sip.Request) (invite, cancel *sip.Response) {
	for invite == nil || cancel == nil {
		select {
		case m := <-r.in:
			res, ok := m.(*sip.Response)
			if !ok || res.CallID().Value() != inv.CallID().Value() || res.StatusCode < 200 {
				continue
			}
			if res.CSeq().MethodName == sip.CANCEL {
				cancel = res
			} else if res.CSeq().MethodName == sip.INVITE {
				invite = res
			}
		case <-ctx.Done():
			Fail("no final responses to INVITE and CANCEL")
		}
	}
	return invite, cancel
}

var _ = Describe("CANCEL", Label("rfc3261", "s9"), func() {
	It("gets 200, and the INVITE 487, while the callee rings", Label("s9.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		raw, err := newRaw(c, scenarios.KindWebRTC)
		Expect(err).NotTo(HaveOccurred())
		callee := registeredPhone(c)
		d := newRawDialog(raw.aor(callee.User()))
		inv, err := raw.inviteProceeding(c, d, raw.aor(callee.User()), []byte(fakeWebRTCOffer("0 101")))
		Expect(err).NotTo(HaveOccurred())
		Expect(raw.send(raw.cancelFor(inv, d))).To(Succeed())
		invRes, cancelRes := raw.finals(c, inv)
		Expect(cancelRes.StatusCode).To(Equal(200))
		Expect(invRes.StatusCode).To(Equal(487))
		Expect(raw.ackFor(inv, invRes, d)).To(Succeed())
		// The INVITE it was ringing with is CANCELed too: answering it
		// fails, or if the answer crosses the CANCEL the gateway BYEs it.
		leg := callee.Accept(c)
		defer leg.Close()
		Eventually(leg.Done()).WithContext(c).Should(BeClosed())
	})

	// The race: the callee's 200 crosses the caller's CANCEL. Whichever the
	// gateway sees first, no call may be left up: a 200 that loses is ACKed
	// and BYEd toward the callee, one that wins reaches the caller.
	Describe("racing the callee's 200", Label("s9.1", "s15"), func() {
		var caller, phone *rawClient
		var d *rawDialog

		BeforeEach(func(ctx SpecContext) {
			var err error
			caller, err = newRaw(ctx, scenarios.KindSIP)
			Expect(err).NotTo(HaveOccurred())
			phone, err = newRaw(ctx, scenarios.KindSIP)
			Expect(err).NotTo(HaveOccurred())
			res, err := phone.register(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.StatusCode).To(Equal(200))
			d = newRawDialog(caller.aor(phone.user))
		})

		It("ACKs and BYEs the callee's 200 that comes after the CANCEL", func(ctx SpecContext) {
			c, cancel := within(ctx, 15*time.Second)
			defer cancel()
			inv, err := caller.inviteProceeding(c, d, caller.aor(phone.user), plainOffer(41000))
			Expect(err).NotTo(HaveOccurred())
			toPhone, err := phone.nextRequest(c)
			Expect(err).NotTo(HaveOccurred())
			Expect(caller.send(caller.cancelFor(inv, d))).To(Succeed())
			invRes, cancelRes := caller.finals(c, inv)
			Expect(cancelRes.StatusCode).To(Equal(200))
			Expect(invRes.StatusCode).To(Equal(487))
			// Only now does the phone answer, as if its 200 crossed the
			// gateway's CANCEL on the wire (it ignores that CANCEL).
			Expect(phone.reply(toPhone, 200, "OK", "late", plainOffer(42000))).To(Succeed())
			var methods []sip.RequestMethod
			for len(methods) < 2 || methods[len(methods)-1] != sip.BYE {
				req, err := phone.nextRequest(c)
				Expect(err).NotTo(HaveOccurred(), "requests at the phone: %v", methods)
				methods = append(methods, req.Method)
				switch req.Method {
				case sip.CANCEL:
					Expect(phone.reply(req, 200, "OK", "", nil)).To(Succeed())
				case sip.BYE:
					Expect(phone.reply(req, 200, "OK", "", nil)).To(Succeed())
				}
			}
			Expect(methods).To(ContainElements(sip.ACK, sip.BYE))
		})

		It("connects the caller when the 200 comes before the CANCEL, and the CANCEL changes nothing", func(ctx SpecContext) {
			c, cancel := within(ctx, 15*time.Second)
			defer cancel()
			inv, err := caller.inviteProceeding(c, d, caller.aor(phone.user), plainOffer(41000))
			Expect(err).NotTo(HaveOccurred())
			toPhone, err := phone.nextRequest(c)
			Expect(err).NotTo(HaveOccurred())
			Expect(phone.reply(toPhone, 200, "OK", "early", plainOffer(42000))).To(Succeed())
			got, err := caller.await(c, inv)
			Expect(err).NotTo(HaveOccurred())
			ok := got[len(got)-1]
			Expect(ok.StatusCode).To(Equal(200))
			cancelRes, err := caller.final(c, caller.cancelFor(inv, d))
			Expect(err).NotTo(HaveOccurred())
			Expect(cancelRes.StatusCode).To(BeElementOf(200, 481)) // the INVITE transaction may be over already
			d.toTag = mustTag(ok)
			Expect(caller.send(caller.ackFor2xx(inv, ok, d))).To(Succeed())
			bye, err := caller.final(c, caller.request(sip.BYE, d, ok.Contact().Address, nil, ""))
			Expect(err).NotTo(HaveOccurred())
			Expect(bye.StatusCode).To(Equal(200))
			for {
				req, err := phone.nextRequest(c)
				Expect(err).NotTo(HaveOccurred())
				if req.Method == sip.BYE {
					Expect(phone.reply(req, 200, "OK", "", nil)).To(Succeed())
					break
				}
			}
		})
	})
})

var _ = Describe("Forking to every registered browser of a user", Label("rfc3261", "s16.7", "rfc7118"), func() {
	It("connects the first to answer and CANCELs the others", func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		first, err := newRaw(c, scenarios.KindWebRTC)
		Expect(err).NotTo(HaveOccurred())
		second, err := newRaw(c, scenarios.KindWebRTC)
		Expect(err).NotTo(HaveOccurred())
		second.user, second.password = first.user, first.password // one user, two WebSockets
		for _, b := range []*rawClient{first, second} {
			res, err := b.register(c)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.StatusCode).To(Equal(200))
		}
		phone := registeredPhone(c)
		dialed := make(chan *endpoint.Leg, 1)
		go func() { dialed <- phone.Dial(c, first.user) }()
		invFirst, err := first.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		invSecond, err := second.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(invFirst.Method).To(Equal(sip.INVITE))
		Expect(invSecond.Method).To(Equal(sip.INVITE))
		Expect(second.reply(invSecond, 180, "Ringing", "second", nil)).To(Succeed())
		answer := replaceLine(fakeWebRTCOffer("0 101"), "a=setup:", "a=setup:active")
		Expect(first.reply(invFirst, 200, "OK", "first", []byte(answer))).To(Succeed())
		canceled, err := second.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(canceled.Method).To(Equal(sip.CANCEL))
		Expect(second.reply(canceled, 200, "OK", "", nil)).To(Succeed())
		Expect(second.reply(invSecond, 487, "Request Terminated", "second", nil)).To(Succeed())
		ack, err := first.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Method).To(Equal(sip.ACK))
		leg := <-dialed
		DeferCleanup(func() {
			_ = leg.Hangup(context.WithoutCancel(ctx))
			_ = leg.Close()
		})
		Expect(leg.Report().SIPStatus).To(Equal(200))
	})
})
