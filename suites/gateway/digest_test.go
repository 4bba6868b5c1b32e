package gateway_test

import (
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

func challenges(res *sip.Response) []*digest.Challenge {
	var out []*digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		Expect(err).NotTo(HaveOccurred(), h.Value())
		out = append(out, c)
	}
	return out
}

var _ = Describe("Digest authentication", Label("rfc3261", "s22", "rfc8760", "rfc7616"), func() {
	var raw *rawClient

	BeforeEach(func(ctx SpecContext) {
		var err error
		raw, err = newRaw(ctx, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
	})

	register := func(d *rawDialog) *sip.Request {
		return raw.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
	}

	It("offers SHA-256 before MD5, with qop=auth", Label("s2.4"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		res, err := raw.final(c, register(newRawDialog(raw.aor(raw.user))))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(401))
		var algs []string
		for _, ch := range challenges(res) {
			algs = append(algs, strings.ToUpper(ch.Algorithm))
			Expect(ch.QOP).To(ContainElement("auth"))
		}
		Expect(algs).NotTo(BeEmpty())
		Expect(algs[0]).To(Equal("SHA-256"), "the preferred algorithm comes first")
	})

	It("refuses a wrong password", Label("s3.4"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		raw.password += "-wrong"
		res, _, err := raw.do(c, register(d), d)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(401))
	})

	It("refuses a replayed nonce count", Label("s3.4.5"), func(ctx SpecContext) {
		c, cancel := within(ctx, 5*time.Second)
		defer cancel()
		d := newRawDialog(raw.aor(raw.user))
		res, used, err := raw.do(c, register(d), d)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))
		replay := used.Clone() // the same credentials, nc and all, in a new transaction
		d.cseq++
		replay.CSeq().SeqNo = d.cseq
		replay.RemoveHeader("Via")
		replay.PrependHeader(raw.via())
		res, err = raw.final(c, replay)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(401))
	})

	It("answers an expired nonce 401 with stale=true", Label("s3.3", "harness"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		cfg := reference.DefaultConfig()
		cfg.Gateway.Auth.NonceTTL = time.Second
		own, err := fixture.StartReference(c, cfg)
		Expect(err).NotTo(HaveOccurred())
		defer func() { Expect(own.Close()).To(Succeed()) }()
		r, err := newRawOn(c, own.Target, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
		d := newRawDialog(r.aor(r.user))
		req := r.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: r.domain}, nil, "")
		chal, err := r.final(c, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(chal.StatusCode).To(Equal(401))
		time.Sleep(1500 * time.Millisecond) // let the nonce expire: the behaviour under test is time itself
		late, err := r.authorized(req, chal, d)
		Expect(err).NotTo(HaveOccurred())
		res, err := r.final(c, late)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(401))
		cs := challenges(res)
		Expect(cs).NotTo(BeEmpty())
		Expect(cs[0].Stale).To(BeTrue())
	})
})
