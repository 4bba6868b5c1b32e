package reference

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

func TestRoomsNeedTURN(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TURN = nil
	rc := rooms.DefaultConfig()
	cfg.Rooms = &rc
	if err := cfg.Validate(); !errors.Is(err, ErrRoomsNeedTURN) {
		t.Fatalf("rooms without turn: %v, want ErrRoomsNeedTURN", err)
	}
}

func TestRoomsInTargetFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := DefaultConfig()
	tc := turn.DefaultTestConfig()
	cfg.TURN = &tc
	rc := rooms.DefaultConfig()
	cfg.Rooms = &rc
	ref, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ref.Close(); err != nil {
			t.Error(err)
		}
	}()
	want := "rooms: {url: " + ref.Rooms().URL() + "}\n"
	if y := string(ref.TargetYAML()); !strings.Contains(y, want) {
		t.Fatalf("target file lacks %q:\n%s", want, y)
	}
	if got := ref.Rooms().Config().TURNURLs; len(got) == 0 || got[0] != ref.TURN().URLs()[0] {
		t.Errorf("rooms hand out TURN URLs %v, the relay has %v", got, ref.TURN().URLs())
	}
}

func TestRoomsConfigFromYAML(t *testing.T) {
	y := "turn:\n  secrets: [\"0123456789abcdef0123\"]\n  users: {}\nrooms:\n  token_ttl: 30s\n  weaken: [candidate-filter]\n"
	cfg, err := ParseConfig("r.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rooms.TokenTTL != 30*time.Second || cfg.Rooms.MaxParticipants != rooms.DefaultConfig().MaxParticipants ||
		len(cfg.Rooms.Weaken) != 1 {
		t.Errorf("rooms config %+v: want token_ttl 30s over the defaults", *cfg.Rooms)
	}
	if _, err := ParseConfig("r.yaml", []byte(y+"  nonsense: 1\n")); err == nil {
		t.Error("an unknown rooms field was accepted")
	}
}
