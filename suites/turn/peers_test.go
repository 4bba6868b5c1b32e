package turn_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// Peer addresses the relay must refuse (CONFORMANCE.md). Only requests
// naming them go to the server; nothing is ever sent to them.
var deniedIPv4 = []string{
	"0.1.2.3", "10.0.0.1", "100.64.0.1", "169.254.169.254", "172.16.0.1",
	"192.168.1.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
}

var deniedIPv6 = []string{
	"::", "::ffff:10.0.0.1", "64:ff9b::a00:1", "fc00::1", "fe80::1", "ff02::1",
}

// readFrom reads one datagram within d, or reports none.
func readFrom(pc net.PacketConn, d time.Duration) (string, netip.AddrPort, bool) {
	GinkgoHelper()
	Expect(pc.SetReadDeadline(time.Now().Add(d))).To(Succeed())
	buf := make([]byte, 2048)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		return "", netip.AddrPort{}, false
	}
	return string(buf[:n]), from.(*net.UDPAddr).AddrPort(), true
}

func recv(ctx context.Context, c *turnload.Client) turnload.Data {
	GinkgoHelper()
	d, err := c.Recv(within(ctx, 3*time.Second))
	Expect(err).NotTo(HaveOccurred(), "nothing relayed to the client")
	return d
}

var _ = Describe("Permissions and channels", Label("rfc8656"), func() {
	forEachServer(func(current func() *server) {
		It("drops peer data without a permission, and matches permissions on the IP address only", Label("s9"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			// Both peers send after the permission exists, the unpermitted one
			// first: the relay reads them in that order from one socket.
			permitted, stranger := peerSocket("127.0.2.1"), peerSocket("127.0.2.11")
			Expect(c.CreatePermission(within(ctx, 3*time.Second), netip.AddrPortFrom(addrOf(permitted).Addr(), 9))).To(Succeed())
			_, err = stranger.WriteTo([]byte("without a permission"), net.UDPAddrFromAddrPort(a.Relayed))
			Expect(err).NotTo(HaveOccurred())
			_, err = permitted.WriteTo([]byte("from the permitted IP"), net.UDPAddrFromAddrPort(a.Relayed))
			Expect(err).NotTo(HaveOccurred())
			d := recv(ctx, c)
			Expect(string(d.Payload)).To(Equal("from the permitted IP"), "data from a peer without a permission was relayed")
			Expect(d.From).To(Equal(addrOf(permitted)), "the permission was for port 9; any port of the IP must pass")
		})

		It("relays Send indications to the peer from the relayed address", Label("s11"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			peer := peerSocket("127.0.2.2")
			Expect(c.CreatePermission(within(ctx, 3*time.Second), addrOf(peer))).To(Succeed())
			Expect(c.Send(addrOf(peer), []byte("to the peer"))).To(Succeed())
			got, from, ok := readFrom(peer, 3*time.Second)
			Expect(ok).To(BeTrue(), "nothing reached the peer")
			Expect(got).To(Equal("to the peer"))
			Expect(from).To(Equal(a.Relayed))
		})

		It("relays ChannelData both ways on a bound channel, and drops it on an unbound one", Label("s12"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			a, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			peer := peerSocket("127.0.2.3")
			Expect(c.ChannelBind(within(ctx, 3*time.Second), 0x4000, addrOf(peer))).To(Succeed())
			Expect(c.SendChannel(0x4444, []byte("on an unbound channel"))).To(Succeed())
			Expect(c.SendChannel(0x4000, []byte("on the bound channel"))).To(Succeed())
			got, from, ok := readFrom(peer, 3*time.Second)
			Expect(ok).To(BeTrue(), "nothing reached the peer")
			Expect(got).To(Equal("on the bound channel"), "ChannelData on an unbound channel was relayed")
			Expect(from).To(Equal(a.Relayed))
			_, err = peer.WriteTo([]byte("back to the client"), net.UDPAddrFromAddrPort(a.Relayed))
			Expect(err).NotTo(HaveOccurred())
			d := recv(ctx, c)
			Expect(string(d.Payload)).To(Equal("back to the client"))
			Expect(d.From).To(Equal(addrOf(peer)))
		})

		DescribeTable("answers a channel number outside 0x4000-0x4FFF with 400", Label("s12"),
			func(ctx SpecContext, n int, rfc8656Only bool) {
				if rfc8656Only {
					current().deviation(devChannelRange8656)
				}
				c := current().udpClient(ctx)
				_, err := c.Allocate(within(ctx, 3*time.Second), 0)
				Expect(err).NotTo(HaveOccurred())
				err = c.ChannelBind(within(ctx, 3*time.Second), uint16(n), netip.MustParseAddrPort("127.0.2.4:9"))
				Expect(turnload.Code(err)).To(Equal(400), "%v", err)
			},
			Entry("0x3FFF", 0x3FFF, false),
			Entry("0x5000 (RFC 5766 allowed it)", 0x5000, true),
			Entry("0x8000", 0x8000, false),
		)

		It("refuses denied IPv4 peers with 403 to CreatePermission and ChannelBind", Label("s10", "s12"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			for _, ip := range deniedIPv4 {
				peer := netip.AddrPortFrom(netip.MustParseAddr(ip), 3478)
				Expect(turnload.Code(c.CreatePermission(within(ctx, 3*time.Second), peer))).To(Equal(403), "CreatePermission %v", peer)
			}
			err = c.ChannelBind(within(ctx, 3*time.Second), 0x4001, netip.MustParseAddrPort("10.0.0.1:3478"))
			Expect(turnload.Code(err)).To(Equal(403), "ChannelBind 10.0.0.1: %v", err)
			// One allowed peer among denied ones: the whole request is refused.
			err = c.CreatePermission(within(ctx, 3*time.Second), netip.MustParseAddrPort("127.0.2.5:9"), netip.MustParseAddrPort("192.168.1.1:9"))
			Expect(turnload.Code(err)).To(Equal(403), "%v", err)
		})

		It("refuses denied IPv6 peers with 403", Label("s10"), func(ctx SpecContext) {
			s := current()
			u, p := s.user("v6deny")
			c := s.client(ctx, turnload.TransportUDP, s.udp6, u, p)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0, turnload.RequestedFamilyIPv6)
			Expect(err).NotTo(HaveOccurred())
			for _, ip := range deniedIPv6 {
				peer := netip.AddrPortFrom(netip.MustParseAddr(ip), 3478)
				Expect(turnload.Code(c.CreatePermission(within(ctx, 3*time.Second), peer))).To(Equal(403), "CreatePermission %v", peer)
			}
		})

		It("refuses its own listen address as a peer", Label("s10"), func(ctx SpecContext) {
			s := current()
			if !s.self.IsValid() {
				Skip(s.name + ": the suite runs it with loopback peers allowed, and its peer filter works on IP addresses only, so its own listen address on loopback cannot be refused")
			}
			c := s.udpClient(ctx)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(turnload.Code(c.CreatePermission(within(ctx, 3*time.Second), s.self))).To(Equal(403))
		})

		It("discards relayed data over the bandwidth cap (sent at twice the cap)", Label("bandwidth-cap"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0)
			Expect(err).NotTo(HaveOccurred())
			peer := peerSocket("127.0.2.6")
			Expect(c.ChannelBind(within(ctx, 3*time.Second), 0x4002, addrOf(peer))).To(Succeed())
			const size, period = 500, 2 * time.Second
			received := make(chan int, 1)
			go func() {
				total := 0
				defer func() { received <- total }()
				for {
					_, _, ok := readFrom(peer, 500*time.Millisecond)
					if !ok {
						return
					}
					total += size
				}
			}()
			payload := []byte(strings.Repeat("x", size))
			interval := time.Second * size / (2 * capBytes)
			start := time.Now()
			sent := 0
			for next := start; time.Since(start) < period; next = next.Add(interval) {
				time.Sleep(time.Until(next))
				Expect(c.SendChannel(0x4002, payload)).To(Succeed())
				sent += size
			}
			got := <-received
			allowed := capBytes * period.Seconds()
			GinkgoWriter.Printf("%s: sent %d bytes in %v, peer got %d (cap %d B/s)\n", current().name, sent, period, got, capBytes)
			Expect(float64(sent)).To(BeNumerically(">", 1.8*allowed))
			Expect(float64(got)).To(BeNumerically("<", 1.35*allowed), "over the cap")
			Expect(float64(got)).To(BeNumerically(">", 0.5*allowed), "far under the cap")
		})

		DescribeTable("relays over every transport", Label("transports"),
			func(ctx SpecContext, transport string) {
				s := current()
				addr := map[string]netip.AddrPort{turnload.TransportTCP: s.tcp, turnload.TransportTLS: s.tls}[transport]
				u, p := s.user(transport)
				c := s.client(ctx, transport, addr, u, p)
				a, err := c.Allocate(within(ctx, 3*time.Second), 0)
				Expect(err).NotTo(HaveOccurred())
				peer := peerSocket("127.0.2.7")
				Expect(c.ChannelBind(within(ctx, 3*time.Second), 0x4003, addrOf(peer))).To(Succeed())
				Expect(c.SendChannel(0x4003, []byte("over "+transport))).To(Succeed())
				got, from, ok := readFrom(peer, 3*time.Second)
				Expect(ok).To(BeTrue())
				Expect(got).To(Equal("over " + transport))
				Expect(from).To(Equal(a.Relayed))
				_, err = peer.WriteTo([]byte("back over "+transport), net.UDPAddrFromAddrPort(a.Relayed))
				Expect(err).NotTo(HaveOccurred())
				Expect(string(recv(ctx, c).Payload)).To(Equal("back over " + transport))
				_, err = c.Refresh(within(ctx, 3*time.Second), 0)
				Expect(err).NotTo(HaveOccurred())
			},
			Entry("TCP", turnload.TransportTCP),
			Entry("TLS", turnload.TransportTLS),
		)
	})
})
