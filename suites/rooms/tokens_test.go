package rooms_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/golang-jwt/jwt/v5"
)

// credentialsStatus asks for TURN credentials for roomID with token.
func credentialsStatus(ctx context.Context, c *room.Client, roomID, token string) room.Response {
	r, err := c.Do(ctx, http.MethodPost, "/v1/rooms/"+roomID+"/turn", token)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// wsStatus opens the signaling WebSocket of roomID with token: 101 when
// it opened (it is closed at once), else the refusal's status.
func wsStatus(ctx context.Context, d *deployment, roomID, token string) int {
	c := d.client(ctx)
	sig, err := room.DialSignal(ctx, d.net(ctx), c.WSURL(roomID, ""), token)
	if err == nil {
		Expect(sig.Close()).To(Succeed())
		return http.StatusSwitchingProtocols
	}
	var se *room.StatusError
	Expect(errors.As(err, &se)).To(BeTrue(), "not an HTTP refusal: %v", err)
	return se.Status
}

// newRoom creates a room and returns its ID and a token for it.
func newRoom(ctx context.Context, d *deployment) (string, room.Joined) {
	c := d.client(ctx)
	id, err := c.Create(ctx)
	Expect(err).NotTo(HaveOccurred())
	j, err := c.Join(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	return id, j
}

// forged re-signs the claims of a real token with method and key.
func forged(token string, method jwt.SigningMethod, key any) string {
	var c jwt.RegisteredClaims
	_, _, err := jwt.NewParser().ParseUnverified(token, &c)
	Expect(err).NotTo(HaveOccurred())
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	Expect(err).NotTo(HaveOccurred())
	return s
}

var _ = Describe("Room tokens", Label("tokens", "rfc7519", "rfc8725"), func() {
	// Every refusal is the uniform 404 (the same answer as a missing room),
	// on the credentials endpoint and on the signaling WebSocket alike.
	refused := func(ctx context.Context, d *deployment, roomID, token string) {
		r := credentialsStatus(ctx, d.client(ctx), roomID, token)
		Expect(r.Status).To(Equal(http.StatusNotFound), "credentials: %s", r.Body)
		Expect(wsStatus(ctx, d, roomID, token)).To(Equal(http.StatusNotFound), "signaling WebSocket")
	}

	It("are accepted for their own room", func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		Expect(credentialsStatus(ctx2, hardened.client(ctx2), id, j.Token).Status).To(Equal(http.StatusOK))
		Expect(wsStatus(ctx2, hardened, id, j.Token)).To(Equal(http.StatusSwitchingProtocols))
	})

	It("are refused once expired", Label("rfc7519-4.1.4"), func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		skew.Store(int64(2 * time.Minute))
		DeferCleanup(func() { skew.Store(0) })
		refused(ctx2, hardened, id, j.Token)
	})

	DescribeTable("for another room", Label("rfc7519-4.1.3"),
		func(ctx SpecContext, weaken string, want int) {
			ctx2 := within(ctx, 15*time.Second)
			d := weakened(ctx2, weaken)
			_, j := newRoom(ctx2, d)
			other, _ := newRoom(ctx2, d)
			r := credentialsStatus(ctx2, d.client(ctx2), other, j.Token)
			Expect(r.Status).To(Equal(want), "%s", r.Body)
		},
		Entry("are refused by the hardened service", "", http.StatusNotFound),
		Entry("are accepted with token-audience weakened (the check detects it)", rooms.WeakenTokenAudience, http.StatusOK),
	)

	It("are refused with alg none", Label("rfc8725-3.1"), func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		refused(ctx2, hardened, id, forged(j.Token, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType))
	})

	It("are refused when an RS256 public key is used as the HS256 secret, or RS256 is used at all", Label("rfc8725-3.1"), func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		Expect(err).NotTo(HaveOccurred())
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		Expect(err).NotTo(HaveOccurred())
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		refused(ctx2, hardened, id, forged(j.Token, jwt.SigningMethodHS256, pub))
		refused(ctx2, hardened, id, forged(j.Token, jwt.SigningMethodRS256, key))
	})

	It("are refused when reused after leave", func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		c := hardened.client(ctx2)
		sig, err := room.DialSignal(ctx2, hardened.net(ctx2), c.WSURL(id, j.WS), j.Token)
		Expect(err).NotTo(HaveOccurred())
		first, err := sig.Read()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(first)).To(ContainSubstring(`"type":"joined"`))
		Expect(sig.Send(room.Message{Type: room.TypeLeave})).To(Succeed())
		_, err = sig.Read()
		Expect(err).To(MatchError(room.ErrSignalClosed))
		Expect(sig.Close()).To(Succeed())
		refused(ctx2, hardened, id, j.Token)
	})

	It("open one signaling connection at a time", func(ctx SpecContext) {
		ctx2 := within(ctx, 10*time.Second)
		id, j := newRoom(ctx2, hardened)
		c := hardened.client(ctx2)
		sig, err := room.DialSignal(ctx2, hardened.net(ctx2), c.WSURL(id, j.WS), j.Token)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sig.Close)
		Expect(wsStatus(ctx2, hardened, id, j.Token)).To(Equal(http.StatusNotFound))
	})
})
