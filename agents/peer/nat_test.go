package peer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
)

// natPeer is a leg behind typ with the relay's ICE servers for mode. It
// runs on goroutines of its own: it reports errors rather than failing t.
func natPeer(t *testing.T, r *relay, typ nat.Type, mode nat.TURN, policy string) (*peer.Peer, error) {
	cert, err := peer.NewCertificate()
	if err != nil {
		return nil, err
	}
	n, err := behind(typ, r.tls.Port())
	if err != nil {
		return nil, err
	}
	urls, err := r.urls(mode)
	if err != nil {
		return nil, err
	}
	p, err := peer.New(peer.Config{Net: n, Certificate: cert, Policy: policy, TURN: urls, TURNTLS: r.tlsConfig()})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, nil
}

// callResult is how a call ended, with the relay protocol of each side.
type callResult struct {
	outcome nat.Outcome
	protos  [2]string
	err     error // the call could not be set up, or media did not flow
}

// placeCall calls from a peer behind ta to one behind tb and says how it
// ended; a connected call must carry media both ways on the pair ICE chose.
func placeCall(t *testing.T, r *relay, ta, tb nat.Type, mode nat.TURN, timeout time.Duration) callResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a, err := natPeer(t, r, ta, mode, peer.PolicyAll)
	if err != nil {
		return callResult{err: err}
	}
	b, err := natPeer(t, r, tb, mode, peer.PolicyAll)
	if err != nil {
		return callResult{err: err}
	}
	codecs := []media.Codec{media.PCMU}
	offer, err := a.Offer(ctx, codecs)
	if err != nil {
		return callResult{err: err}
	}
	answer, codec, err := b.Answer(ctx, offer, codecs)
	if err != nil {
		return callResult{err: err}
	}
	if _, err := a.SetAnswer(answer); err != nil {
		return callResult{err: err}
	}
	const n = 5
	ca, cb := newCollector(codec, n), newCollector(codec, n)
	a.OnRTP(ca.onRTP)
	b.OnRTP(cb.onRTP)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		return callResult{outcome: nat.OutcomeFail}
	}
	sa, sb := media.NewSender(codec, a.WriteRTP), media.NewSender(codec, b.WriteRTP)
	for range n {
		if err := errors.Join(sa.SendAt(time.Now()), sb.SendAt(time.Now())); err != nil {
			return callResult{err: err}
		}
	}
	for _, c := range []*collector{ca, cb} {
		select {
		case <-c.done:
		case <-ctx.Done():
			return callResult{err: errors.New("connected, but media did not arrive on the selected pair")}
		}
	}
	res := callResult{outcome: nat.OutcomeDirect, protos: [2]string{a.RelayProtocol(), b.RelayProtocol()}}
	if a.Report().ICE.Relay || b.Report().ICE.Relay {
		res.outcome = nat.OutcomeRelay
	}
	return res
}

// TestNATPairings places a call for every pair of NAT types, with STUN only
// and with TURN, and for the firewalls, and checks each against the
// independent pairing table: direct where a direct path exists (and then
// no relay), relay where it is needed, failure without TURN exactly there.
// The calls run several at a time (ICE takes wall time, little CPU), but
// not all at once: pion nominates a relay pair 2 s after checks start when
// nothing better is valid yet, so a starved CPU would turn direct pairs
// into relayed ones.
func TestNATPairings(t *testing.T) {
	exclusiveTiming(t)
	r := startRelay(t)
	nats := []nat.Type{nat.Open, nat.FullCone, nat.RestrictedCone, nat.PortRestricted, nat.Symmetric}
	type call struct {
		a, b  nat.Type
		mode  nat.TURN
		proto string // the relay protocol the first side must use, if any
		want  nat.Outcome
		got   callResult
	}
	var calls []*call
	for i, a := range nats {
		for _, b := range nats[i:] {
			calls = append(calls, &call{a: a, b: b, mode: nat.NoTURN}, &call{a: a, b: b, mode: nat.TURNAll})
		}
	}
	calls = append(calls,
		&call{a: nat.UDPBlocked, b: nat.Open, mode: nat.TURNUDP},
		&call{a: nat.UDPBlocked, b: nat.PortRestricted, mode: nat.TURNAll, proto: "tcp"},
		&call{a: nat.TCPOnePort, b: nat.Symmetric, mode: nat.TURNAll, proto: "tls"},
	)
	var wg sync.WaitGroup
	slots := make(chan struct{}, concurrentCalls)
	for _, c := range calls {
		want, err := nat.Expected(c.a, c.b, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		c.want = want
		timeout := 20 * time.Second
		if want == nat.OutcomeFail {
			timeout = 4 * time.Second // a direct pair connects within about a second
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			c.got = placeCall(t, r, c.a, c.b, c.mode, timeout)
		})
	}
	wg.Wait()
	modes := map[nat.TURN]string{nat.NoTURN: "stun-only", nat.TURNUDP: "turn-udp", nat.TURNAll: "turn-all"}
	for _, c := range calls {
		t.Run(fmt.Sprintf("%s/%s/%s", c.a, c.b, modes[c.mode]), func(t *testing.T) {
			switch {
			case c.got.err != nil:
				t.Fatal(c.got.err)
			case c.got.outcome != c.want:
				t.Fatalf("call %s -> %s with %s: %s, the pairing table says %s", c.a, c.b, modes[c.mode], c.got.outcome, c.want)
			case c.proto != "" && c.got.protos[0] != c.proto:
				t.Errorf("the firewalled side relays over %q, want %q", c.got.protos[0], c.proto)
			}
		})
	}
}

// exclusiveTiming holds the machine-wide lock that keeps this heavy test
// apart from the timing-sensitive ones in other packages (suites/fixture's
// TimingLockFile, which this package may not import).
func exclusiveTiming(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "gauntlet-timing.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("timing lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("timing lock: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}
