package gateway_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// rtcpWait bounds the wait for the target's first RTCP report with a
// round trip in it: RFC 3550 6.2's recommended 5 s minimum interval,
// randomised up to 1.5 times, plus the phone's own report before it.
const rtcpWait = 10 * time.Second

// A target that terminates media toward phones is an RTP participant on
// that leg, and RFC 3550 6 wants participants to send RTCP (a SHOULD). One
// with RTCP turned off toward phones fails these specs; leave them out with
// --label-filter='!rfc3550' if that is intended.
var _ = Describe("RTCP toward the phone", Label("rfc3550", "s6.4"), func() {
	DescribeTable("reports on the phone's stream, echoing its sender reports",
		func(ctx SpecContext, from, to scenarios.Kind) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			k := connect(c, from, to)
			phone := k.calleeLeg
			if from == scenarios.KindSIP {
				phone = k.callerLeg
			}
			flowing(c, phone)
			rtcpOf := func() media.RTCPStats { return phone.Report().Media.RTCP }
			Eventually(rtcpOf).WithContext(c).WithTimeout(rtcpWait).WithPolling(50*time.Millisecond).Should(And(
				HaveField("RemoteSRs", BeNumerically(">", 0)),
				HaveField("Reports", BeNumerically(">", 0)),
				HaveField("RTTCount", BeNumerically(">", 0)),
			), "the target's sender report with a block on the phone's stream, echoing the phone's last SR")
			st := rtcpOf()
			GinkgoWriter.Printf("phone RTCP: %d compound packets read, %d unreadable; block: lost %d of %d, jitter %.2f ms; rtt %.3f ms; the target's SR counts %d packets\n",
				st.PacketsReceived, st.Unreadable, st.CumulativeLost, st.Expected, st.JitterMS, st.RTTLastMS, st.RemotePacketsSent)
			Expect(st.Unreadable).To(BeZero(), "RTCP from the target that the phone could not parse")
			Expect(st.Expected).To(BeNumerically(">", 0), "the block's extended highest sequence number covers what the phone sent")
			Expect(st.RemotePacketsSent).To(BeNumerically(">", 0), "the target's sender report counts the RTP it sent the phone")
			Expect(st.RTTLastMS).To(BeNumerically("<", 1000), "a round trip of a second or more on the target's own path")
		},
		Entry("a browser calls a phone", scenarios.KindWebRTC, scenarios.KindSIP),
		Entry("a phone calls a browser", scenarios.KindSIP, scenarios.KindWebRTC),
	)
})
