package gateway_test

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pion/sdp/v3"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// fakeWebRTCOffer is shaped like a browser's audio offer; its fingerprint
// and candidate lead nowhere (the specs here look at signaling only).
func fakeWebRTCOffer(codecs string) string {
	fp := make([]byte, 32)
	_, _ = rand.Read(fp)
	pairs := make([]string, len(fp))
	for i, b := range fp {
		pairs[i] = strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	lines := []string{
		"v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF " + codecs, "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
		"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
		"a=ice-ufrag:Ab+/", "a=ice-pwd:0123456789abcdefghijkl",
		"a=fingerprint:sha-256 " + strings.Join(pairs, ":"),
		"a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux",
		"a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:9 G722/8000", "a=rtpmap:101 telephone-event/8000", "",
	}
	return strings.Join(lines, "\r\n")
}

func replaceLine(s, prefix, with string) string {
	var out []string
	for _, l := range strings.Split(s, "\r\n") {
		if strings.HasPrefix(l, prefix) {
			if with != "" {
				out = append(out, with)
			}
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}

func parseSDP(body []byte) *sdp.SessionDescription {
	var sd sdp.SessionDescription
	Expect(sd.Unmarshal(body)).To(Succeed(), string(body))
	Expect(sd.MediaDescriptions).NotTo(BeEmpty())
	return &sd
}

func mediaAttr(sd *sdp.SessionDescription, key string) (string, bool) {
	if v, ok := sd.MediaDescriptions[0].Attribute(key); ok {
		return v, true
	}
	return sd.Attribute(key)
}

var _ = Describe("SDP toward browsers", Label("rfc8829", "rfc5763"), func() {
	var (
		raw    *rawClient
		callee *endpoint.Endpoint
	)

	BeforeEach(func(ctx SpecContext) {
		var err error
		raw, err = newRaw(ctx, scenarios.KindWebRTC)
		Expect(err).NotTo(HaveOccurred())
		callee = registeredPhone(ctx)
	})

	DescribeTable("refuses an unusable WebRTC offer with 488 and a Warning",
		func(ctx SpecContext, edit func(string) string) {
			c, cancel := within(ctx, 10*time.Second)
			defer cancel()
			d := newRawDialog(raw.aor(callee.User()))
			offer := edit(fakeWebRTCOffer("111 0 8 101"))
			res, _, err := raw.do(c, raw.request(sip.INVITE, d, raw.aor(callee.User()), []byte(offer), "application/sdp"), d)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.StatusCode).To(Equal(488))
			Expect(res.GetHeader("Warning")).NotTo(BeNil())
		},
		Entry("no fingerprint", Label("rfc8122", "s5"), func(s string) string { return replaceLine(s, "a=fingerprint:", "") }),
		Entry("an MD5 fingerprint", Label("rfc8122", "s5"), func(s string) string {
			return replaceLine(s, "a=fingerprint:", "a=fingerprint:md5 "+strings.Repeat("AB:", 15)+"AB")
		}),
		Entry("SDES a=crypto", Label("rfc8827", "s6.5"), func(s string) string {
			return strings.Replace(s, "a=setup:actpass", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VtY3RsKCkpIHsK\r\na=setup:actpass", 1)
		}),
		Entry("no ICE credentials", Label("rfc8839", "s5.4"), func(s string) string { return replaceLine(s, "a=ice-pwd:", "") }),
		Entry("too short an ice-pwd", Label("rfc8839", "s5.4"), func(s string) string {
			return replaceLine(s, "a=ice-pwd:", "a=ice-pwd:short")
		}),
		Entry("plain RTP over a WebSocket", Label("rfc8827"), func(s string) string {
			return strings.Replace(s, "UDP/TLS/RTP/SAVPF", "RTP/AVP", 1)
		}),
		Entry("no codec in common", Label("rfc3264", "s6"), func(s string) string {
			return strings.Replace(s, "SAVPF 111 0 8 101", "SAVPF 9", 1)
		}),
	)

	It("answers with DTLS-SRTP, a SHA-256 fingerprint, a definite setup role, rtcp-mux and the offered codec", Label("s5.3", "rfc8843", "rfc8122"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		go func() { _ = callee.Accept(c).Close() }()
		d := newRawDialog(raw.aor(callee.User()))
		res, inv, err := raw.do(c, raw.request(sip.INVITE, d, raw.aor(callee.User()), []byte(fakeWebRTCOffer("8 101")), "application/sdp"), d)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))
		d.toTag = mustTag(res)
		Expect(raw.send(raw.ackFor2xx(inv, res, d))).To(Succeed())
		defer func() { _, _ = raw.final(c, raw.request(sip.BYE, d, res.Contact().Address, nil, "")) }()

		sd := parseSDP(res.Body())
		m := sd.MediaDescriptions[0]
		Expect(strings.Join(m.MediaName.Protos, "/")).To(Equal("UDP/TLS/RTP/SAVPF"))
		Expect(m.MediaName.Formats[0]).To(Equal("8"), "PCMA, the only audio codec offered")
		setup, _ := mediaAttr(sd, "setup")
		Expect(setup).To(BeElementOf("active", "passive"))
		fp, _ := mediaAttr(sd, "fingerprint")
		Expect(fp).To(HavePrefix("sha-256 "))
		ufrag, _ := mediaAttr(sd, "ice-ufrag")
		pwd, _ := mediaAttr(sd, "ice-pwd")
		Expect(len(ufrag)).To(BeNumerically(">=", 4))
		Expect(len(pwd)).To(BeNumerically(">=", 22))
		_, mux := mediaAttr(sd, "rtcp-mux")
		Expect(mux).To(BeTrue())
		_, crypto := mediaAttr(sd, "crypto")
		Expect(crypto).To(BeFalse())
	})
})

var _ = Describe("SDP toward phones", Label("rfc3264", "rfc4566"), func() {
	It("offers plain RTP/AVP with no ICE, DTLS or rtcp-fb attributes", Label("s5"), func(ctx SpecContext) {
		c, cancel := within(ctx, 15*time.Second)
		defer cancel()
		phone, err := newRaw(c, scenarios.KindSIP)
		Expect(err).NotTo(HaveOccurred())
		res, err := phone.register(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(200))
		browser, err := fx.Endpoint(c, browserPopulation())
		Expect(err).NotTo(HaveOccurred())
		done := make(chan *endpoint.Leg, 1)
		go func() { done <- browser.Dial(c, phone.user) }()
		inv, err := phone.nextRequest(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(inv.Method).To(Equal(sip.INVITE))
		sd := parseSDP(inv.Body())
		Expect(strings.Join(sd.MediaDescriptions[0].MediaName.Protos, "/")).To(Equal("RTP/AVP"))
		for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup", "rtcp-fb", "candidate", "crypto", "rtcp-mux"} {
			_, has := mediaAttr(sd, key)
			Expect(has).To(BeFalse(), "a=%s in the offer to a phone", key)
		}
		Expect(phone.reply(inv, 486, "Busy Here", "busy", nil)).To(Succeed())
		Expect((<-done).Report().SIPStatus).To(Equal(486))
	})
})

// ackFor2xx is the ACK for a 2xx to inv (a new transaction).
func (r *rawClient) ackFor2xx(inv *sip.Request, res *sip.Response, d *rawDialog) *sip.Request {
	target := inv.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	ack := r.request(sip.ACK, d, target, nil, "")
	ack.CSeq().SeqNo = inv.CSeq().SeqNo
	for _, h := range inv.GetHeaders("Authorization") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	return ack
}

func mustTag(res *sip.Response) string {
	tag, ok := res.To().Params.Get("tag")
	Expect(ok).To(BeTrue(), "%d without a To tag", res.StatusCode)
	return tag
}

func browserPopulation() scenarios.Population {
	return scenarios.NewPopulation(string(scenarios.KindWebRTC), scenarios.KindWebRTC, 1)
}
