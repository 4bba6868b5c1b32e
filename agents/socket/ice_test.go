package socket_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

func TestICEGathersOneHostCandidate(t *testing.T) {
	n := newNet(t, "127.0.5.9")
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	agent, err := ice.NewAgentWithOptions(
		ice.WithNet(n),
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithIncludeLoopback(),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithLoggerFactory(lf),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := agent.GracefulClose(); err != nil {
			t.Error(err)
		}
	}()
	done := make(chan struct{})
	var cands []ice.Candidate
	if err := agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(done)
			return
		}
		cands = append(cands, c)
	}); err != nil {
		t.Fatal(err)
	}
	if err := agent.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("gathering did not complete")
	}
	if len(cands) != 1 || cands[0].Address() != "127.0.5.9" || cands[0].Type() != ice.CandidateTypeHost {
		t.Fatalf("candidates %v, want one host candidate on 127.0.5.9", cands)
	}
}
