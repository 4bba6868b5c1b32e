package rooms_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
)

func randomRoomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// probe is one answer to a request naming a room that cannot be used.
type probe struct {
	name   string
	status int
	body   string
}

// missingRoomProbes asks, in every way a prober can, about rooms that
// cannot be used: a missing room, a malformed ID, a bad token, another
// room's token, the WebSocket of a missing room.
func missingRoomProbes(ctx context.Context, d *deployment) (probes []probe, probed string) {
	c := d.client(ctx)
	existing, j := newRoom(ctx, d)
	probed = randomRoomID()
	do := func(name, method, path, token string) {
		r, err := c.Do(ctx, method, path, token)
		Expect(err).NotTo(HaveOccurred())
		probes = append(probes, probe{name, r.Status, string(r.Body)})
	}
	do("join of a missing room", http.MethodPost, "/v1/rooms/"+probed+"/join", "")
	do("join of a malformed room ID", http.MethodPost, "/v1/rooms/not-a-room/join", "")
	do("credentials with a bad token", http.MethodPost, "/v1/rooms/"+existing+"/turn", "e30.e30.AAAA")
	do("credentials for a missing room", http.MethodPost, "/v1/rooms/"+randomRoomID()+"/turn", j.Token)
	probes = append(probes, probe{"WebSocket of a missing room", wsStatus(ctx, d, randomRoomID(), j.Token), ""})
	return probes, probed
}

// uniform reports whether every probe got the same status and every HTTP
// probe the same body.
func uniform(ps []probe) bool {
	for _, p := range ps {
		if p.status != ps[0].status || (p.body != "" && p.body != ps[0].body) {
			return false
		}
	}
	return true
}

var _ = Describe("Missing rooms", Label("enumeration"), func() {
	DescribeTable("get one uniform answer, and are never created by a probe",
		func(ctx SpecContext, weaken string, defended bool) {
			ctx2 := within(ctx, 15*time.Second)
			d := weakened(ctx2, weaken)
			probes, probed := missingRoomProbes(ctx2, d)
			again, err := d.client(ctx2).Do(ctx2, http.MethodPost, "/v1/rooms/"+probed+"/join", "")
			Expect(err).NotTo(HaveOccurred())
			created := again.Status == http.StatusOK
			if defended {
				Expect(uniform(probes)).To(BeTrue(), "answers differ: %+v", probes)
				Expect(probes[0].status).To(Equal(http.StatusNotFound))
				Expect(created).To(BeFalse(), "the probed room exists afterwards")
				return
			}
			Expect(!uniform(probes) || created).To(BeTrue(), "the weakened service was not told apart: %+v", probes)
		},
		Entry("by the hardened service", "", true),
		Entry("detected with uniform-missing-room weakened", rooms.WeakenUniformMissingRoom, false),
	)

	It("take as long to refuse as a bad token for a live room", func(ctx SpecContext) {
		ctx2 := within(ctx, 15*time.Second)
		existing, _ := newRoom(ctx2, hardened)
		var missing, bad []float64
		for i := range 3 {
			c := hardened.client(ctx2)
			for range 6 {
				for _, target := range []string{randomRoomID(), existing} {
					r, err := c.Do(ctx2, http.MethodPost, "/v1/rooms/"+target+"/turn", "e30.e30.AAAA")
					Expect(err).NotTo(HaveOccurred())
					Expect(r.Status).To(Equal(http.StatusNotFound), "probe %d", i)
					ms := float64(r.Elapsed) / float64(time.Millisecond)
					if target == existing {
						bad = append(bad, ms)
					} else {
						missing = append(missing, ms)
					}
				}
			}
		}
		m, b := median(missing), median(bad)
		GinkgoWriter.Printf("median refusal: missing room %.3f ms, bad token %.3f ms\n", m, b)
		Expect(m-b).To(BeNumerically("~", 0, 5), "a missing room and a bad token differ by %.3f ms", m-b)
	})
})

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
