package scenarios

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/reports/emodel"
)

// fakeMember stands in for a *room.Participant: a session and, per other
// participant, a real media receiver (the receive direction from that
// one), fed by the test instead of the network.
type fakeMember struct {
	session string
	recv    map[string]*media.Receiver
}

func (m *fakeMember) Session() string { return m.session }

func (m *fakeMember) Sample(now time.Time) []room.LegSample {
	pcmu, _ := emodel.Lookup(media.PCMU.RTPMap())
	var out []room.LegSample
	for peer, r := range m.recv {
		s := room.LegSample{Peer: peer, Interval: r.Interval(now)}
		if s.Received > 0 {
			s.MOS = pcmu.MOS(emodel.Input{LossPct: s.EffectiveLossPct})
		}
		out = append(out, s)
	}
	return out
}

// hear has m receive packet n (20 ms of PCMU) from peer at at.
func (m *fakeMember) hear(peer string, n int, at time.Time) {
	m.recv[peer].Observe(&rtp.Packet{
		Header:  rtp.Header{SSRC: 1, SequenceNumber: uint16(n), Timestamp: uint32(n) * 160},
		Payload: make([]byte, 160),
	}, at)
}

// mesh is a room of the named participants, every leg up (a receiver
// toward each participant from each other).
func mesh(names ...string) []*fakeMember {
	out := make([]*fakeMember, len(names))
	for i, me := range names {
		m := &fakeMember{session: me, recv: map[string]*media.Receiver{}}
		for _, peer := range names {
			if peer != me {
				m.recv[peer] = media.NewReceiver(media.PCMU)
			}
		}
		out[i] = m
	}
	return out
}

func members(ms []*fakeMember) []roomMember {
	out := make([]roomMember, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// second has every leg of ms hear 50 packets in the second from t0+k s,
// except those from the peers in mute.
func second(ms []*fakeMember, t0 time.Time, k int, mute ...string) {
	for _, m := range ms {
		for peer := range m.recv {
			if slices.Contains(mute, peer) {
				continue
			}
			for i := range 50 {
				n := 50*k + i
				m.hear(peer, n, t0.Add(time.Duration(k)*time.Second+time.Duration(i)*20*time.Millisecond+10*time.Millisecond))
			}
		}
	}
}

// Every direction of a room is read once, by its receiver, and a pair of
// participants counts once in Active, as a call does: a two-party room
// is one connection and two directions, a room of three three and six.
func TestSampleRooms(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name                       string
		rooms                      [][]string
		mute                       []string // participants nobody hears
		active, directions, silent int
		wantRecord                 bool
	}{
		{"two-party", [][]string{{"a", "b"}}, nil, 1, 2, 0, true},
		{"three-party", [][]string{{"a", "b", "c"}}, nil, 3, 6, 0, true},
		{"a two and a three", [][]string{{"a", "b"}, {"c", "d", "e"}}, nil, 4, 8, 0, true},
		{"one not heard", [][]string{{"a", "b", "c"}}, []string{"c"}, 3, 4, 2, true},
		{"nobody heard", [][]string{{"a", "b"}}, []string{"a", "b"}, 1, 0, 2, true},
		{"no leg up yet", [][]string{{"a"}}, nil, 0, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &runner{}
			for i, names := range c.rooms {
				ms := mesh(names...)
				second(ms, t0, 0, c.mute...)
				r.live.addRoom(string(rune('A'+i)), members(ms))
			}
			res, ok := r.sample(t0, t0.Add(time.Second))
			if ok != c.wantRecord {
				t.Fatalf("record %v, want %v", ok, c.wantRecord)
			}
			if !ok {
				return
			}
			iv := res.Interval
			if res.Kind != reports.KindInterval || iv.Active != c.active || iv.Directions != c.directions || iv.Silent != c.silent {
				t.Fatalf("%s: active %d directions %d silent %d, want %d %d %d", res.Kind, iv.Active, iv.Directions, iv.Silent, c.active, c.directions, c.silent)
			}
			if c.directions > 0 && (iv.LossPct != 0 || iv.MOS < 4.3 || iv.MOSMin < 4.3) {
				t.Errorf("clean media: loss %.2f%% MOS %.2f (min %.2f)", iv.LossPct, iv.MOS, iv.MOSMin)
			}
		})
	}
	r := &runner{}
	r.live.addRoom("gone", members(mesh("a", "b")))
	r.live.removeRoom("gone")
	if _, ok := r.sample(t0, t0.Add(time.Second)); ok {
		t.Error("a record for a room that left the series")
	}
}

type collect struct {
	mu   sync.Mutex
	recs []reports.Result
}

func (c *collect) Add(r reports.Result) { c.mu.Lock(); c.recs = append(c.recs, r); c.mu.Unlock() }
func (c *collect) Close() error         { return nil }

// The sampler's loop reads a room of three every second; 20% of the
// room's media is lost from 2 s to 4 s, and the interval records show
// that loss in those seconds and none in the others.
func TestSampleLoopRoomLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &collect{}
		r := &runner{cfg: RunConfig{Reporter: rec}}
		t0 := time.Now()
		ms := mesh("a", "b", "c")
		r.live.addRoom("room-000001", members(ms))
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { r.sampleLoop(ctx) })
		wg.Go(func() {
			for n := range 300 { // 6 s of 20 ms packets, 10 ms off the whole seconds
				time.Sleep(time.Until(t0.Add(time.Duration(n)*20*time.Millisecond + 10*time.Millisecond)))
				lossy := n >= 100 && n < 200 && n%5 == 0
				for _, m := range ms {
					for peer := range m.recv {
						if !lossy {
							m.hear(peer, n, time.Now())
						}
					}
				}
			}
		})
		time.Sleep(6*time.Second + 500*time.Millisecond)
		cancel()
		wg.Wait()

		if len(rec.recs) != 6 {
			t.Fatalf("%d interval records in 6.5 s, want 6", len(rec.recs))
		}
		for _, res := range rec.recs {
			iv := res.Interval
			from := res.Start.Sub(t0)
			if iv.Active != 3 || iv.Directions != 6 {
				t.Errorf("at %v: active %d directions %d, want 3 and 6", from, iv.Active, iv.Directions)
			}
			want := 0.0
			if from >= 2*time.Second && from < 4*time.Second {
				want = 20
			}
			if math.Abs(iv.LossPct-want) > 0.01 || iv.MOS <= 0 {
				t.Errorf("at %v: loss %.2f%% MOS %.2f, want %.0f%% and a MOS", from, iv.LossPct, iv.MOS, want)
			}
			if want > 0 && iv.MOS > 3.5 || want == 0 && iv.MOS < 4.3 {
				t.Errorf("at %v: MOS %.2f with %.0f%% loss", from, iv.MOS, want)
			}
		}
	})
}
