package turn_test

import (
	"net/netip"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/pion/stun/v4"
)

var _ = Describe("Allocations", Label("rfc8656"), func() {
	forEachServer(func(current func() *server) {
		It("allocates a relayed address, with the client's source as XOR-MAPPED-ADDRESS and the default lifetime", Label("s7.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Relayed.IsValid()).To(BeTrue())
			Expect(a.Relayed.Addr().Is4()).To(BeTrue(), "relayed %v over IPv4", a.Relayed)
			Expect(a.Mapped.String()).To(Equal(c.LocalAddr().String()))
			Expect(a.Lifetime).To(Equal(600 * time.Second))
		})

		It("allocates IPv4 without REQUESTED-ADDRESS-FAMILY and IPv6 when asked, over an IPv6 listener", Label("s7.2"), func(ctx SpecContext) {
			s := current()
			u, p := s.user("v6")
			c := s.client(ctx, turnload.TransportUDP, s.udp6, u, p)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Relayed.Addr().Is4()).To(BeTrue(), "relayed %v", a.Relayed)
			d := s.client(ctx, turnload.TransportUDP, s.udp6, u, p)
			a, err = d.Allocate(within(ctx, 3*time.Second), 0, turnload.RequestedFamilyIPv6)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Relayed.Addr().Is6()).To(BeTrue(), "relayed %v", a.Relayed)
		})

		It("answers a second Allocate on the same 5-tuple with 437, and a retransmission with the original success", Label("s7.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			first, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			_, err = c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(turnload.Code(err)).To(Equal(437), "second Allocate: %v", err)

			d := current().udpClient(ctx)
			Expect(d.Learn(within(ctx, 3*time.Second))).To(Succeed())
			m, err := stun.Build(append([]stun.Setter{stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
				turnload.RequestedTransport(turnload.ProtoUDP)}, append(d.AuthSetters(), stun.Fingerprint)...)...)
			Expect(err).NotTo(HaveOccurred())
			var relayed []string
			for range 2 {
				r, err := d.Transact(within(ctx, 3*time.Second), m)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Type.Class).To(Equal(stun.ClassSuccessResponse), "retransmitted Allocate")
				var x stun.XORMappedAddress
				Expect(x.GetFromAs(r, stun.AttrXORRelayedAddress)).To(Succeed())
				relayed = append(relayed, x.String())
			}
			Expect(relayed[1]).To(Equal(relayed[0]))
			Expect(relayed[0]).NotTo(Equal(first.Relayed.String()))
		})

		It("answers an Allocate without REQUESTED-TRANSPORT with 400", Label("s7.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			_, err := c.Request(within(ctx, 3*time.Second), stun.MethodAllocate)
			Expect(turnload.Code(err)).To(Equal(400), "%v", err)
		})

		It("refuses a TCP relay over UDP: 442 without RFC 6062, 400 with it", Label("s7.2", "rfc6062"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			_, err := c.Request(within(ctx, 3*time.Second), stun.MethodAllocate, turnload.RequestedTransport(6))
			want := 442
			if current().rfc6062 {
				want = 400
			}
			Expect(turnload.Code(err)).To(Equal(want), "%v", err)
		})

		It("answers a transport it does not relay (SCTP) with 442", Label("s7.2"), func(ctx SpecContext) {
			current().deviation(devUnknownTransport442)
			c := current().udpClient(ctx)
			_, err := c.Request(within(ctx, 3*time.Second), stun.MethodAllocate, turnload.RequestedTransport(132))
			Expect(turnload.Code(err)).To(Equal(442), "%v", err)
		})

		It("answers 486 past the per-user allocation quota", Label("s7.2"), func(ctx SpecContext) {
			s := current()
			u, p := s.user("quota")
			for i := range quota {
				c := s.client(ctx, turnload.TransportUDP, s.udp, u, p)
				_, err := c.Allocate(within(ctx, 3*time.Second), 0)
				Expect(err).NotTo(HaveOccurred(), "allocation %d of %d", i+1, quota)
			}
			c := s.client(ctx, turnload.TransportUDP, s.udp, u, p)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(turnload.Code(err)).To(Equal(486), "%v", err)
		})

		DescribeTable("grants max(600 s, min(requested, 3600 s))", Label("s7.2", "s8.2"),
			func(ctx SpecContext, requested, granted time.Duration) {
				c := current().udpClient(ctx)
				a, err := c.Allocate(within(ctx, 3*time.Second), requested)
				Expect(err).NotTo(HaveOccurred())
				Expect(a.Lifetime).To(Equal(granted), "Allocate")
				d, err := c.Refresh(within(ctx, 3*time.Second), requested)
				Expect(err).NotTo(HaveOccurred())
				Expect(d).To(Equal(granted), "Refresh")
			},
			Entry("below the default", 100*time.Second, 600*time.Second),
			Entry("between default and maximum", 1200*time.Second, 1200*time.Second),
			Entry("above the maximum", 7200*time.Second, 3600*time.Second),
		)

		It("deletes an allocation on Refresh with LIFETIME 0; a later Refresh gets 437", Label("s8.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			d, err := c.Refresh(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(BeZero())
			// Some servers delete on their next timer tick; CreatePermission
			// probes without reviving the allocation, as a Refresh would.
			Expect(a.Relayed.IsValid()).To(BeTrue())
			peer := netip.MustParseAddrPort("127.0.2.9:9")
			Eventually(func() int { return turnload.Code(c.CreatePermission(within(ctx, 2*time.Second), peer)) }).
				WithTimeout(5*time.Second).WithPolling(200*time.Millisecond).Should(BeElementOf(437, 400),
				"the allocation is still there (437 per RFC 8656 5; 400 from coturn)")
			_, err = c.Refresh(within(ctx, 3*time.Second), 600*time.Second)
			Expect(turnload.Code(err)).To(Equal(437), "%v", err)
		})

		It("answers Refresh on a 5-tuple without an allocation with 437", Label("s5", "s8.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			_, err := c.Refresh(within(ctx, 3*time.Second), 600*time.Second)
			Expect(turnload.Code(err)).To(Equal(437), "%v", err)
		})

		It("answers CreatePermission and ChannelBind on a 5-tuple without an allocation with 437", Label("s5"), func(ctx SpecContext) {
			current().deviation(devNoAllocation437)
			c := current().udpClient(ctx)
			peer := netip.MustParseAddrPort("127.0.0.1:9")
			Expect(turnload.Code(c.CreatePermission(within(ctx, 3*time.Second), peer))).To(Equal(437))
			Expect(turnload.Code(c.ChannelBind(within(ctx, 3*time.Second), 0x4000, peer))).To(Equal(437))
		})
	})
})
