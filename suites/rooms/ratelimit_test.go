package rooms_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
)

// attempts bounds each flood; the hardened limits trip well before.
const attempts = 60

// firstLimited sends up to attempts requests from one source and returns
// the index and Retry-After of the first 429 (-1 when none came).
func firstLimited(ctx context.Context, d *deployment, endpoint string) (int, string) {
	c := d.client(ctx)
	existing, j := newRoom(ctx, d)
	n := d.net(ctx)
	for i := range attempts {
		var status int
		var retry string
		switch endpoint {
		case "create":
			r, err := c.Do(ctx, http.MethodPost, "/v1/rooms", "")
			Expect(err).NotTo(HaveOccurred())
			status, retry = r.Status, r.RetryAfter
		case "join":
			r, err := c.Do(ctx, http.MethodPost, "/v1/rooms/"+randomRoomID()+"/join", "")
			Expect(err).NotTo(HaveOccurred())
			status, retry = r.Status, r.RetryAfter
		case "credentials":
			r, err := c.Do(ctx, http.MethodPost, "/v1/rooms/"+existing+"/turn", j.Token)
			Expect(err).NotTo(HaveOccurred())
			status, retry = r.Status, r.RetryAfter
		case "ws":
			sig, err := room.DialSignal(ctx, n, c.WSURL(randomRoomID(), ""), j.Token)
			if err == nil {
				Expect(sig.Close()).To(Succeed())
				continue
			}
			var se *room.StatusError
			Expect(errors.As(err, &se)).To(BeTrue(), "%v", err)
			status, retry = se.Status, se.RetryAfter
		}
		if status == http.StatusTooManyRequests {
			return i, retry
		}
	}
	return -1, ""
}

var _ = Describe("Rate limits", Label("rate-limit", "rfc6585-4"), func() {
	DescribeTable("answer a flood from one source with 429 and Retry-After",
		func(ctx SpecContext, endpoint, weaken string, defended bool) {
			ctx2 := within(ctx, 20*time.Second)
			at, retry := firstLimited(ctx2, weakened(ctx2, weaken), endpoint)
			if !defended {
				Expect(at).To(Equal(-1), "the weakened service limited request %d", at)
				return
			}
			Expect(at).To(BeNumerically(">=", 0), "no 429 in %d requests", attempts)
			secs, err := strconv.Atoi(retry)
			Expect(err).NotTo(HaveOccurred(), "Retry-After %q", retry)
			Expect(secs).To(BeNumerically(">=", 1))
		},
		Entry("on create", "create", "", true),
		Entry("on join (probes of missing rooms included)", "join", "", true),
		Entry("on TURN credentials", "credentials", "", true),
		Entry("on the WebSocket upgrade", "ws", "", true),
		Entry("not on create with rate-limit weakened (detected)", "create", rooms.WeakenRateLimit, false),
		Entry("not on join with rate-limit weakened (detected)", "join", rooms.WeakenRateLimit, false),
	)

	DescribeTable("answer a flood of signaling messages with 429 errors, then close",
		func(ctx SpecContext, weaken string, defended bool) {
			ctx2 := within(ctx, 20*time.Second)
			d := weakened(ctx2, weaken)
			id, j := newRoom(ctx2, d)
			sig, err := room.DialSignal(ctx2, d.net(ctx2), d.client(ctx2).WSURL(id, j.WS), j.Token)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(sig.Close)
			const flood = 300
			go func() {
				defer GinkgoRecover()
				for range flood {
					if sig.Send(room.Message{Type: room.TypeCandidate, To: "nobody", Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ relay"}) != nil {
						return
					}
				}
			}()
			limited, retry, answers := 0, 0, 0
			var readErr error
			for answers < flood+1 {
				b, err := sig.Read()
				if err != nil {
					readErr = err
					break
				}
				answers++
				var m room.Message
				Expect(json.Unmarshal(b, &m)).To(Succeed())
				if m.Type == room.TypeError && m.Code == http.StatusTooManyRequests {
					limited++
					retry = max(retry, m.RetryAfter)
				}
			}
			if !defended {
				Expect(limited).To(BeZero())
				return
			}
			Expect(limited).To(BeNumerically(">", 0), "no 429 among %d answers (then %v)", answers, readErr)
			Expect(retry).To(BeNumerically(">=", 1))
		},
		Entry("by the hardened service", "", true),
		Entry("not with rate-limit weakened (detected)", rooms.WeakenRateLimit, false),
	)
})
