package turn_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/pion/stun/v4"
)

// loadVectors reads testdata/rfc5769.txt (see its header for the source).
func loadVectors() map[string][]byte {
	GinkgoHelper()
	f, err := os.Open("testdata/rfc5769.txt")
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	out := map[string][]byte{}
	var name string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "name: "):
			name = strings.TrimPrefix(line, "name: ")
		default:
			b, err := hex.DecodeString(strings.ReplaceAll(line, " ", ""))
			Expect(err).NotTo(HaveOccurred(), line)
			out[name] = append(out[name], b...)
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

func decode(b []byte) *stun.Message {
	GinkgoHelper()
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	Expect(m.Decode()).To(Succeed())
	return m
}

const rfc5769Password = "VOkJxbRl1RmTxUk/WvJxBt"

// The harness's own STUN codec must read RFC 5769's vectors, or nothing
// else here means much.
var _ = Describe("RFC 5769 test vectors", Label("rfc5769"), func() {
	var v map[string][]byte
	BeforeEach(func() { v = loadVectors() })

	It("verifies the sample request: integrity, fingerprint, username", Label("s2.1"), func() {
		m := decode(v["request-2.1"])
		Expect(stun.NewShortTermIntegrity(rfc5769Password).Check(m)).To(Succeed())
		Expect(stun.Fingerprint.Check(m)).To(Succeed())
		var u stun.Username
		Expect(u.GetFrom(m)).To(Succeed())
		Expect(u.String()).To(Equal("evtj:h6vY"))
		var sw stun.Software
		Expect(sw.GetFrom(m)).To(Succeed())
		Expect(sw.String()).To(Equal("STUN test client"))
	})

	It("decodes the IPv4 sample response", Label("s2.2"), func() {
		m := decode(v["response-ipv4-2.2"])
		Expect(stun.NewShortTermIntegrity(rfc5769Password).Check(m)).To(Succeed())
		Expect(stun.Fingerprint.Check(m)).To(Succeed())
		var x stun.XORMappedAddress
		Expect(x.GetFrom(m)).To(Succeed())
		Expect(x.IP.String()).To(Equal("192.0.2.1"))
		Expect(x.Port).To(Equal(32853))
	})

	It("decodes the IPv6 sample response", Label("s2.3"), func() {
		m := decode(v["response-ipv6-2.3"])
		Expect(stun.NewShortTermIntegrity(rfc5769Password).Check(m)).To(Succeed())
		Expect(stun.Fingerprint.Check(m)).To(Succeed())
		var x stun.XORMappedAddress
		Expect(x.GetFrom(m)).To(Succeed())
		Expect(x.IP.Equal(net.ParseIP("2001:db8:1234:5678:11:2233:4455:6677"))).To(BeTrue(), x.IP.String())
		Expect(x.Port).To(Equal(32853))
	})

	It("verifies the long-term credential sample request", Label("s2.4"), func() {
		m := decode(v["request-long-term-2.4"])
		user := "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9"
		Expect(stun.NewLongTermIntegrity(user, "example.org", "TheMatrIX").Check(m)).To(Succeed())
		Expect(stun.NewLongTermIntegrity(user, "example.org", "TheMatrix").Check(m)).NotTo(Succeed())
		var n stun.Nonce
		Expect(n.GetFrom(m)).To(Succeed())
		Expect(n.String()).To(Equal("f//499k954d6OL34oL9FSTvy64sA"))
	})
})

func bindingRequest(extra ...stun.Setter) *stun.Message {
	GinkgoHelper()
	m, err := stun.Build(append(append([]stun.Setter{stun.TransactionID, stun.BindingRequest}, extra...), stun.Fingerprint)...)
	Expect(err).NotTo(HaveOccurred())
	return m
}

func errorCode(m *stun.Message) int {
	GinkgoHelper()
	var ec stun.ErrorCodeAttribute
	Expect(ec.GetFrom(m)).To(Succeed(), "error response without ERROR-CODE: %s", m)
	return int(ec.Code)
}

var _ = Describe("STUN", Label("rfc8489"), func() {
	forEachServer(func(current func() *server) {
		It("answers Binding with the source address in XOR-MAPPED-ADDRESS", Label("s14.2"), func(ctx SpecContext) {
			s := current()
			for _, tr := range []string{turnload.TransportUDP, turnload.TransportTCP} {
				addr := s.udp
				if tr == turnload.TransportTCP {
					addr = s.tcp
				}
				c := s.client(ctx, tr, addr, "", "")
				mapped, err := c.Binding(within(ctx, 3*time.Second))
				Expect(err).NotTo(HaveOccurred(), tr)
				Expect(mapped.String()).To(Equal(c.LocalAddr().String()), tr)
			}
		})

		It("drops malformed messages silently: bad cookie, length not a multiple of 4, bad FINGERPRINT", Label("s6.3", "s14.7"), func(ctx SpecContext) {
			c := current().client(ctx, turnload.TransportUDP, current().udp, "", "")
			badCookie := bindingRequest()
			binary.BigEndian.PutUint32(badCookie.Raw[4:8], 0x2112A443)
			odd := bindingRequest()
			odd.Raw = append(odd.Raw[:len(odd.Raw):len(odd.Raw)], 0, 0)
			binary.BigEndian.PutUint16(odd.Raw[2:4], uint16(len(odd.Raw)-20))
			badFP := bindingRequest()
			badFP.Raw[len(badFP.Raw)-1] ^= 0xFF
			before := c.Stray()
			var watches []<-chan *stun.Message
			for _, m := range []*stun.Message{badCookie, odd, badFP} {
				ch, stop := c.Watch(m.TransactionID)
				DeferCleanup(stop)
				watches = append(watches, ch)
				Expect(c.SendRaw(m.Raw)).To(Succeed())
			}
			// The server answers in order: once a good request is answered,
			// an answer to the bad ones would have come first.
			_, err := c.Binding(within(ctx, 3*time.Second))
			Expect(err).NotTo(HaveOccurred())
			for i, ch := range watches {
				Expect(ch).NotTo(Receive(), "malformed message %d was answered", i)
			}
			Expect(c.Stray()).To(Equal(before), "something unmatched arrived")
		})

		It("answers an unknown comprehension-required attribute with 420 listing it, the same for a retransmission", Label("s6.3.1"), func(ctx SpecContext) {
			c := current().client(ctx, turnload.TransportUDP, current().udp, "", "")
			m := bindingRequest(stun.RawAttribute{Type: 0x7F01, Value: []byte{1, 2, 3, 4}})
			for range 2 {
				r, err := c.Transact(within(ctx, 3*time.Second), m)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Type).To(Equal(stun.NewType(stun.MethodBinding, stun.ClassErrorResponse)))
				Expect(errorCode(r)).To(Equal(420))
				var u stun.UnknownAttributes
				Expect(u.GetFrom(r)).To(Succeed())
				Expect(u).To(ContainElement(stun.AttrType(0x7F01)))
			}
		})

		It("ignores an unknown comprehension-optional attribute", Label("s6.3.1"), func(ctx SpecContext) {
			c := current().client(ctx, turnload.TransportUDP, current().udp, "", "")
			r, err := c.Transact(within(ctx, 3*time.Second), bindingRequest(stun.RawAttribute{Type: 0xC0FE, Value: []byte{1, 2, 3, 4}}))
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Type).To(Equal(stun.BindingSuccess))
		})
	})
})

var _ = Describe("Long-term credentials", Label("rfc8489", "s9.2.4"), func() {
	forEachServer(func(current func() *server) {
		learn := func(ctx SpecContext, c *turnload.Client) {
			GinkgoHelper()
			Expect(c.Learn(within(ctx, 3*time.Second))).To(Succeed())
		}
		signed := func(c *turnload.Client, drop stun.AttrType) *stun.Message {
			GinkgoHelper()
			realm, nonce := c.Learned()
			u, _ := current().user("x")
			setters := []stun.Setter{stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
				turnload.RequestedTransport(turnload.ProtoUDP)}
			for _, a := range []struct {
				t stun.AttrType
				s stun.Setter
			}{{stun.AttrUsername, stun.NewUsername(u)}, {stun.AttrRealm, stun.NewRealm(realm)}, {stun.AttrNonce, stun.NewNonce(nonce)}} {
				if a.t != drop {
					setters = append(setters, a.s)
				}
			}
			m, err := stun.Build(append(setters, stun.NewLongTermIntegrity(u, realm, "whatever"), stun.Fingerprint)...)
			Expect(err).NotTo(HaveOccurred())
			return m
		}

		It("answers a request without MESSAGE-INTEGRITY with 401, REALM and NONCE, and no relayed address", Label("rfc8656", "s7.2"), func(ctx SpecContext) {
			c := current().udpClient(ctx)
			m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
				turnload.RequestedTransport(turnload.ProtoUDP), stun.Fingerprint)
			Expect(err).NotTo(HaveOccurred())
			r, err := c.Transact(within(ctx, 3*time.Second), m)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Type.Class).To(Equal(stun.ClassErrorResponse))
			Expect(errorCode(r)).To(Equal(401))
			Expect(r.Contains(stun.AttrRealm)).To(BeTrue(), "REALM")
			Expect(r.Contains(stun.AttrNonce)).To(BeTrue(), "NONCE")
			Expect(r.Contains(stun.AttrXORRelayedAddress)).To(BeFalse())
		})

		for _, missing := range []stun.AttrType{stun.AttrUsername, stun.AttrRealm, stun.AttrNonce} {
			It("answers 400 when MESSAGE-INTEGRITY comes without "+missing.String(), func(ctx SpecContext) {
				c := current().udpClient(ctx)
				learn(ctx, c)
				r, err := c.Transact(within(ctx, 3*time.Second), signed(c, missing))
				Expect(err).NotTo(HaveOccurred())
				Expect(errorCode(r)).To(Equal(400))
			})
		}

		It("answers a wrong password with 401", func(ctx SpecContext) {
			c := current().udpClient(ctx)
			learn(ctx, c)
			r, err := c.Transact(within(ctx, 3*time.Second), signed(c, 0))
			Expect(err).NotTo(HaveOccurred())
			Expect(errorCode(r)).To(Equal(401))
			Expect(r.Contains(stun.AttrXORRelayedAddress)).To(BeFalse())
		})

		It("answers a nonce it never issued with 438 and a fresh NONCE", func(ctx SpecContext) {
			s := current()
			u, p := s.user("n")
			c := s.client(ctx, turnload.TransportUDP, s.udp, u, p)
			learn(ctx, c)
			realm, nonce := c.Learned()
			forged := strings.Repeat("0", len(nonce))
			m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
				turnload.RequestedTransport(turnload.ProtoUDP), stun.NewUsername(u), stun.NewRealm(realm),
				stun.NewNonce(forged), stun.NewLongTermIntegrity(u, realm, p), stun.Fingerprint)
			Expect(err).NotTo(HaveOccurred())
			r, err := c.Transact(within(ctx, 3*time.Second), m)
			Expect(err).NotTo(HaveOccurred())
			Expect(errorCode(r)).To(Equal(438))
			var fresh stun.Nonce
			Expect(fresh.GetFrom(r)).To(Succeed())
			Expect(bytes.Equal(fresh, []byte(forged))).To(BeFalse())
		})
	})
})

// peerSocket is a plain UDP peer on its own loopback address.
func peerSocket(ip string) net.PacketConn {
	GinkgoHelper()
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(pc.Close)
	return pc
}

func addrOf(pc net.PacketConn) netip.AddrPort {
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}
