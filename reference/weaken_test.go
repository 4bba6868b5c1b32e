package reference

import (
	"slices"
	"strings"
	"testing"
)

func TestWeakenRoutesNamesToTheirParts(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Weaken("digest", " peer-deny", "candidate-filter", "rate-limit"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Gateway.Weaken, []string{"digest", "rate-limit"}) {
		t.Errorf("gateway weaken %v", cfg.Gateway.Weaken)
	}
	if !slices.Equal(cfg.TURN.Weaken, []string{"peer-deny"}) {
		t.Errorf("turn weaken %v", cfg.TURN.Weaken)
	}
	if !slices.Equal(cfg.Rooms.Weaken, []string{"candidate-filter", "rate-limit"}) {
		t.Errorf("rooms weaken %v", cfg.Rooms.Weaken)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("weakened config invalid: %v", err)
	}
	err := cfg.Weaken("everything")
	if err == nil || !strings.Contains(err.Error(), "peer-deny") || !strings.Contains(err.Error(), "strong-dtls") {
		t.Errorf("unknown name: %v, want an error listing the known ones", err)
	}
	bare := DefaultConfig()
	bare.TURN, bare.Rooms = nil, nil
	if err := bare.Weaken("quota"); err == nil {
		t.Error("a TURN switch without a TURN relay was accepted")
	}
}
