package turn_test

import (
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// TURN REST credentials (draft-uberti-behave-turn-rest-00, as coturn and
// pion implement it): username "<unix-expiry>:<user>", password
// base64(HMAC-SHA1(secret, username)).
var _ = Describe("TURN REST credentials", Label("turn-rest"), func() {
	It("computes the password of pion/turn's vector", func() {
		// lt_cred_test.go in pion/turn: secret foobar, username 1599491771.
		Expect(turnload.RESTPassword("foobar", "1599491771")).To(Equal("Tpz/nKkyvX/vMSLKvL4sbtBt8Vs="))
	})

	forEachServer(func(current func() *server) {
		allocate := func(ctx SpecContext, username, password string) error {
			s := current()
			c := s.client(ctx, turnload.TransportUDP, s.udp, username, password)
			_, err := c.Allocate(within(ctx, 3*time.Second), 0)
			return err
		}
		inAnHour := func() time.Time { return time.Now().Add(time.Hour) }

		It("accepts credentials from the current secret", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials(current().secrets[0], "rest-current", inAnHour())
			Expect(allocate(ctx, u, p)).To(Succeed())
		})

		It("accepts credentials from the previous secret during a rotation", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials(current().secrets[1], "rest-previous", inAnHour())
			Expect(allocate(ctx, u, p)).To(Succeed())
		})

		It("refuses expired credentials with 401", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials(current().secrets[0], "rest-expired", time.Now().Add(-time.Minute))
			Expect(turnload.Code(allocate(ctx, u, p))).To(Equal(401))
		})

		It("refuses a username whose user part was edited with 401", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials(current().secrets[0], "alice", inAnHour())
			edited := strings.Replace(u, ":alice", ":mallory", 1)
			Expect(turnload.Code(allocate(ctx, edited, p))).To(Equal(401))
		})

		It("refuses a username whose expiry was pushed back with 401", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials(current().secrets[0], "bob", inAnHour())
			expiry, user, _ := strings.Cut(u, ":")
			n, err := strconv.ParseInt(expiry, 10, 64)
			Expect(err).NotTo(HaveOccurred())
			Expect(turnload.Code(allocate(ctx, strconv.FormatInt(n+86400, 10)+":"+user, p))).To(Equal(401))
		})

		It("refuses credentials from a secret it does not hold with 401", func(ctx SpecContext) {
			u, p := turnload.RESTCredentials("not-the-secret-0123456789", "rest-wrong", inAnHour())
			Expect(turnload.Code(allocate(ctx, u, p))).To(Equal(401))
		})
	})
})
