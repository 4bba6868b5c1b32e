package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// calleeRequest builds a request of the dialog a received INVITE created,
// from the callee's side.
func (r *rawClient) calleeRequest(method sip.RequestMethod, inv *sip.Request, localTag string, cseq uint32, body []byte) *sip.Request {
	req := sip.NewRequest(method, inv.Contact().Address)
	req.AppendHeader(r.via())
	from := inv.To().AsFrom()
	from.Params.Add("tag", localTag)
	to := inv.From().AsTo()
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(r.contact())
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	return req
}

func withDirection(offer []byte, dir string) []byte {
	return []byte(strings.Replace(string(offer), "a=sendrecv", "a="+dir, 1))
}

var _ = Describe("A re-INVITE", Label("rfc3261", "s14"), func() {
	It("is answered 491 while the gateway's own re-INVITE on the dialog is pending (glare)", Label("s14.2"), func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		a, err := newRaw(c, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
		b, err := newRaw(c, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
		res, err := b.register(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))

		d := newRawDialog(a.aor(b.user))
		inv, err := a.inviteProceeding(c, d, a.aor(b.user), plainOffer(43000))
		Expect(err).NotTo(HaveOccurred())
		atB, err := b.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(b.reply(atB, 200, "OK", "btag", plainOffer(44000))).To(Succeed())
		got, err := a.await(c, inv)
		Expect(err).NotTo(HaveOccurred())
		ok := got[len(got)-1]
		Expect(ok.StatusCode).To(Equal(200))
		d.toTag = mustTag(ok)
		Expect(a.send(a.ackFor2xx(inv, ok, d))).To(Succeed())

		// A holds: the gateway answers it and passes the hold on to B.
		reinv := a.request(sip.INVITE, d, ok.Contact().Address, withDirection(plainOffer(43000), "sendonly"), "application/sdp")
		hold, err := a.final(c, reinv)
		Expect(err).NotTo(HaveOccurred())
		Expect(hold.StatusCode).To(Equal(200))
		Expect(string(hold.Body())).To(ContainSubstring("a=recvonly"))
		Expect(a.send(a.ackFor2xx(reinv, hold, d))).To(Succeed())
		var passed *sip.Request
		for passed == nil {
			req, err := b.nextRequest(c)
			Expect(err).NotTo(HaveOccurred())
			if req.Method == sip.INVITE {
				passed = req
			}
		}
		Expect(string(passed.Body())).To(ContainSubstring("a=sendonly"))

		// B's own re-INVITE crosses the gateway's.
		glare, err := b.final(c, b.calleeRequest(sip.INVITE, atB, "btag", 1, plainOffer(44000)))
		Expect(err).NotTo(HaveOccurred())
		Expect(glare.StatusCode).To(Equal(491))

		Expect(b.reply(passed, 200, "OK", "btag", withDirection(plainOffer(44000), "recvonly"))).To(Succeed())
		bye, err := a.final(c, a.request(sip.BYE, d, ok.Contact().Address, nil, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(bye.StatusCode).To(Equal(200))
		for {
			req, err := b.nextRequest(c)
			Expect(err).NotTo(HaveOccurred())
			if req.Method == sip.BYE {
				Expect(b.reply(req, 200, "OK", "", nil)).To(Succeed())
				break
			}
		}
	})
})

// answeredByPhone has raw phone a call raw phone b through the gateway,
// and b answer 200: the gateway's 2xx toward a is under way.
func answeredByPhone(c context.Context, aPort, bPort int) (a, b *rawClient, d *rawDialog, inv *sip.Request) {
	a, err := newRaw(c, scenarios.KindSIP)
	Expect(err).NotTo(HaveOccurred())
	b, err = newRaw(c, scenarios.KindSIP)
	Expect(err).NotTo(HaveOccurred())
	res, err := b.register(c)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.StatusCode).To(Equal(200))
	d = newRawDialog(a.aor(b.user))
	inv, err = a.inviteProceeding(c, d, a.aor(b.user), plainOffer(aPort))
	Expect(err).NotTo(HaveOccurred())
	atB, err := b.nextRequest(c)
	Expect(err).NotTo(HaveOccurred())
	Expect(b.reply(atB, 200, "OK", "btag", plainOffer(bPort))).To(Succeed())
	return a, b, d, inv
}

var _ = Describe("The gateway's 2xx to an INVITE over UDP", Label("rfc3261", "s13.3.1.4"), func() {
	It("is retransmitted, T1 doubling, until the ACK comes", func(ctx SpecContext) {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		a, _, d, inv := answeredByPhone(c, 45000, 46000)
		var oks []time.Time
		var ok *sip.Response
		for len(oks) < 3 {
			select {
			case m := <-a.in:
				if r, isRes := m.(*sip.Response); isRes && r.StatusCode == 200 && r.CSeq().SeqNo == inv.CSeq().SeqNo {
					oks, ok = append(oks, time.Now()), r
				}
			case <-c.Done():
				Fail(fmt.Sprintf("the 200 came %d times without an ACK, want 3", len(oks)))
			}
		}
		Expect(oks[2].Sub(oks[1])).To(BeNumerically(">", oks[1].Sub(oks[0])), "the interval doubles")
		d.toTag = mustTag(ok)
		Expect(a.send(a.ackFor2xx(inv, ok, d))).To(Succeed())
		bye, err := a.final(c, a.request(sip.BYE, d, ok.Contact().Address, nil, ""))
		Expect(err).NotTo(HaveOccurred())
		Expect(bye.StatusCode).To(Equal(200))
	})

	It("ends the call, BYE to both parties, when no ACK comes within 64*T1", Label("slow"), func(ctx SpecContext) {
		c, cancel := within(ctx, 50*time.Second)
		defer cancel()
		a, b, _, _ := answeredByPhone(c, 45002, 46002)
		ackAtB, err := b.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(ackAtB.Method).To(Equal(sip.ACK), "the gateway ACKs the callee's 200")

		// The caller never ACKs: the 200s keep coming, then a BYE.
		var first time.Time
		var byeAtA *sip.Request
		for byeAtA == nil {
			select {
			case m := <-a.in:
				switch m := m.(type) {
				case *sip.Response:
					if m.StatusCode == 200 && first.IsZero() {
						first = time.Now()
					}
				case *sip.Request:
					if m.Method == sip.BYE {
						byeAtA = m
					}
				}
			case <-c.Done():
				Fail("no BYE reached the caller that never ACKed")
			}
		}
		waited := time.Since(first)
		t1 := 500 * time.Millisecond
		Expect(waited).To(BeNumerically(">=", 64*t1-2*time.Second), "the BYE waits out 64*T1 (32 s) from the first 200")
		Expect(waited).To(BeNumerically("<", 64*t1+5*time.Second))
		Expect(a.reply(byeAtA, 200, "OK", "", nil)).To(Succeed())
		byeAtB, err := b.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(byeAtB.Method).To(Equal(sip.BYE), "the callee's leg ends too")
		Expect(b.reply(byeAtB, 200, "OK", "", nil)).To(Succeed())
	})
})
