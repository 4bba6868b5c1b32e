package peer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
)

// line returns the value of the first line of an SDP that starts with
// prefix.
func line(sdp []byte, prefix string) string {
	for _, l := range strings.Split(string(sdp), "\r\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

// reoffer is desc, a description the far end gave before, as its re-offer:
// a=setup:actpass (JSEP offers say so) and direction dir.
func reoffer(desc []byte, dir string) []byte {
	s := strings.Replace(string(desc), "a=setup:"+line(desc, "a=setup:"), "a=setup:actpass", 1)
	return []byte(strings.Replace(s, "a=sendrecv", "a="+dir, 1))
}

// TestReanswerKeepsTheAssociation: a hold offered either way is answered
// with the mirrored direction, the same ICE credentials and the DTLS role
// each side has, and media goes on over the same pair and association.
func TestReanswerKeepsTheAssociation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := newPeer(t, nil), newPeer(t, nil)
	offer, err := a.Offer(ctx, []media.Codec{media.Opus, media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	answer, codec, err := b.Answer(ctx, offer, []media.Codec{media.Opus})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	var toA, toB switcher
	a.OnRTP(toA.onRTP)
	b.OnRTP(toB.onRTP)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	sa, sb := media.NewSender(codec, a.WriteRTP), media.NewSender(codec, b.WriteRTP)
	phase := func() {
		ca, cb := newCollector(codec, 3), newCollector(codec, 3)
		toA.cur.Store(ca)
		toB.cur.Store(cb)
		sendBoth(t, ctx, sa, sb, ca, cb)
	}
	phase()
	before := a.Report().ICE

	for _, tc := range []struct {
		name             string
		from, to         *peer.Peer
		farDesc, ownDesc []byte
		offered, want    string
		setup            string
	}{
		{"the offerer holds", a, b, offer, answer, "sendonly", "recvonly", "active"},
		{"the answerer holds", b, a, answer, offer, "inactive", "inactive", "passive"},
		{"the answerer asks to receive only", b, a, answer, offer, "recvonly", "sendonly", "passive"},
		{"the offerer unholds", a, b, offer, answer, "sendrecv", "sendrecv", "active"},
	} {
		o := reoffer(tc.farDesc, tc.offered)
		if tc.to.IsRestart(o) {
			t.Errorf("%s: IsRestart true for a re-offer with the same ufrag", tc.name)
		}
		got, err := tc.to.Reanswer(o, tc.ownDesc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, want := range []struct{ prefix, value string }{
			{"a=ice-ufrag:", line(tc.ownDesc, "a=ice-ufrag:")},
			{"a=ice-pwd:", line(tc.ownDesc, "a=ice-pwd:")},
			{"a=fingerprint:", line(tc.ownDesc, "a=fingerprint:")},
			{"a=setup:", tc.setup},
			{"a=" + tc.want, ""},
		} {
			if v := line(got, want.prefix); v != want.value || !strings.Contains(string(got), "\r\n"+want.prefix) {
				t.Errorf("%s: answer has %s%q, want %q:\n%s", tc.name, want.prefix, v, want.value, got)
			}
		}
		if n := strings.Count(string(got), "a=sendrecv") + strings.Count(string(got), "a=sendonly") +
			strings.Count(string(got), "a=recvonly") + strings.Count(string(got), "a=inactive"); n != 1 {
			t.Errorf("%s: %d direction lines in the answer", tc.name, n)
		}
		if v, w := originVersion(t, got), originVersion(t, tc.ownDesc); v != w+1 {
			t.Errorf("%s: o= version %d, want %d", tc.name, v, w+1)
		}
		phase()
	}
	if after := a.Report().ICE; after.LocalCandidate != before.LocalCandidate || after.RemoteCandidate != before.RemoteCandidate {
		t.Errorf("pair changed: %+v -> %+v", before, after)
	}
}

func originVersion(t *testing.T, sdp []byte) int {
	t.Helper()
	f := strings.Fields(line(sdp, "o="))
	if len(f) < 3 {
		t.Fatalf("no o= line:\n%s", sdp)
	}
	var v int
	for _, c := range f[2] {
		v = v*10 + int(c-'0')
	}
	return v
}

// TestReanswerRefuses: what is no mere change of direction is refused,
// and a new ufrag is reported as a restart.
func TestReanswerRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := newPeer(t, nil), newPeer(t, nil)
	offer, err := a.Offer(ctx, []media.Codec{media.Opus, media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	answer, _, err := b.Answer(ctx, offer, []media.Codec{media.Opus})
	if err != nil {
		t.Fatal(err)
	}
	hold := reoffer(offer, "sendonly")
	swap := func(old, repl string) []byte { return []byte(strings.Replace(string(hold), old, repl, 1)) }
	ufrag, fp := line(offer, "a=ice-ufrag:"), line(offer, "a=fingerprint:")
	otherFP := fp[:len(fp)-2] + "00"
	if otherFP == fp {
		otherFP = fp[:len(fp)-2] + "FF"
	}
	for _, tc := range []struct {
		name    string
		offer   []byte
		want    error
		restart bool
	}{
		{"new ICE credentials", swap("a=ice-ufrag:"+ufrag, "a=ice-ufrag:zzzz"+ufrag), peer.ErrSDP, true},
		{"new fingerprint", swap(fp, otherFP), peer.ErrSDP, false},
		{"the answerer's own DTLS role", swap("a=setup:actpass", "a=setup:active"), peer.ErrSDP, false},
		{"the codec dropped", swap("opus/48000/2", "nopus/48000/2"), peer.ErrNoCodec, false},
	} {
		if got := b.IsRestart(tc.offer); got != tc.restart {
			t.Errorf("%s: IsRestart %v, want %v", tc.name, got, tc.restart)
		}
		if _, err := b.Reanswer(tc.offer, answer); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	fresh := newPeer(t, nil)
	if _, err := fresh.Reanswer(hold, answer); !errors.Is(err, peer.ErrState) {
		t.Errorf("a re-offer before any answer: %v, want ErrState", err)
	}
}
