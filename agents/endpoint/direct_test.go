package endpoint_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/stun/v4"
)

func directEndpoint(t *testing.T, ctx context.Context, src string, clock *media.Clock, policy string) *endpoint.Endpoint {
	t.Helper()
	n, err := socket.New(socket.WithSourceIP(netip.MustParseAddr(src)))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := endpoint.New(ctx, endpoint.Config{
		Kind: endpoint.KindWebRTC, Direct: true, Net: n, Clock: clock,
		Codecs: []media.Codec{media.PCMU}, ICEPolicy: policy,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

func runClock(t *testing.T) *media.Clock {
	t.Helper()
	clock, err := media.NewClock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- clock.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return clock
}

// Two direct endpoints on loopback connect on a host pair and carry audio
// both ways; a relay-only one without TURN servers fails at ICE, and the
// record says so.
func TestPlaceDirectCall(t *testing.T) {
	ctx := context.Background()
	clock := runClock(t)
	a := directEndpoint(t, ctx, "127.0.9.1", clock, "")
	b := directEndpoint(t, ctx, "127.0.9.2", clock, "")
	res := endpoint.PlaceDirectCall(ctx, a, b, endpoint.CallSpec{ID: "direct-1", Hold: 500 * time.Millisecond})
	if res.Outcome != reports.OutcomeOK {
		t.Fatalf("direct call: %s %s: %s", res.Outcome, res.Cause, res.Error)
	}
	if !res.ICE.Connected || res.ICE.Relay || res.ICE.Outcome() != reports.ICEDirect || res.ICE.LocalCandidate != "host" {
		t.Fatalf("ICE %+v, want a direct host pair", res.ICE)
	}
	if len(res.Media) != 2 || !res.Media[0].Audio || !res.Media[1].Audio {
		t.Fatalf("media %+v", res.Media)
	}
	if reg := a.Register(ctx); reg.Outcome == reports.OutcomeOK {
		t.Fatal("a direct endpoint registered")
	}

	c := directEndpoint(t, ctx, "127.0.9.3", clock, "relay")
	d := directEndpoint(t, ctx, "127.0.9.4", clock, "")
	res = endpoint.PlaceDirectCall(ctx, c, d, endpoint.CallSpec{ID: "direct-2", Hold: time.Second, Setup: 5 * time.Second})
	if res.Outcome == reports.OutcomeOK || res.ICE.Connected {
		t.Fatalf("relay-only without TURN: %s, ICE %+v", res.Outcome, res.ICE)
	}
}

// A failed mid-call action fails a call that was otherwise fine, naming
// the action; a call that failed already keeps its own cause.
func TestFailedActionFailsTheCall(t *testing.T) {
	ok := reports.Result{Outcome: reports.OutcomeOK}
	acts := []reports.Action{{Do: "dtmf", By: "caller", OK: true}, {Do: "ice-restart", By: "caller", AtMS: 9000, Error: "refused"}}
	got := endpoint.WithActions(ok, acts)
	if got.Outcome != reports.OutcomeFailed || got.Cause != reports.CauseAction || len(got.Actions) != 2 {
		t.Fatalf("%+v", got)
	}
	dropped := reports.Result{Outcome: reports.OutcomeFailed, Cause: reports.CauseDropped}
	if got := endpoint.WithActions(dropped, acts); got.Cause != reports.CauseDropped {
		t.Fatalf("cause %s, want dropped kept", got.Cause)
	}
	if got := endpoint.WithActions(ok, acts[:1]); got.Outcome != reports.OutcomeOK {
		t.Fatalf("all actions fine, yet %s", got.Outcome)
	}
}

// TURNSource is asked afresh for each call, and a call whose TURN servers
// cannot be had fails with cause ice, naming the source's error.
func TestTURNSourcePerCall(t *testing.T) {
	ctx := context.Background()
	clock := runClock(t)
	var asked int
	fail := errors.New("credential endpoint answered 503")
	source := func(context.Context) ([]*stun.URI, error) {
		asked++
		if asked > 2 {
			return nil, fail
		}
		return nil, nil
	}
	mk := func(src string) *endpoint.Endpoint {
		n, err := socket.New(socket.WithSourceIP(netip.MustParseAddr(src)))
		if err != nil {
			t.Fatal(err)
		}
		ep, err := endpoint.New(ctx, endpoint.Config{Kind: endpoint.KindWebRTC, Direct: true, Net: n, Clock: clock,
			Codecs: []media.Codec{media.PCMU}, TURNSource: source})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ep.Close() })
		return ep
	}
	a, b := mk("127.0.9.5"), mk("127.0.9.6")
	if res := endpoint.PlaceDirectCall(ctx, a, b, endpoint.CallSpec{ID: "src-1", Hold: 200 * time.Millisecond}); res.Outcome != reports.OutcomeOK {
		t.Fatalf("first call: %s %s: %s", res.Outcome, res.Cause, res.Error)
	}
	res := endpoint.PlaceDirectCall(ctx, a, b, endpoint.CallSpec{ID: "src-2", Hold: 200 * time.Millisecond})
	if res.Outcome == reports.OutcomeOK || res.Cause != reports.CauseICE || !strings.Contains(res.Error, fail.Error()) {
		t.Fatalf("second call: %s %s: %q, want failed, cause ice, naming the source's error", res.Outcome, res.Cause, res.Error)
	}
	if asked != 3 {
		t.Errorf("source asked %d times, want 3 (once per leg per call until it failed)", asked)
	}
}
