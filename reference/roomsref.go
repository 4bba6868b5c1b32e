package reference

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
)

// ErrRoomsNeedTURN is returned when rooms are configured without a TURN
// relay that has a REST secret: rooms relay every session through it.
var ErrRoomsNeedTURN = errors.New("reference: rooms need the TURN relay (turn, with secrets)")

// validateRooms checks the rooms part as far as it can before the relay
// runs (its URLs and secret are filled in at Start).
func (c Config) validateRooms() error {
	if c.Rooms == nil {
		return nil
	}
	if c.TURN == nil || len(c.TURN.Secrets) == 0 {
		return ErrRoomsNeedTURN
	}
	rc := *c.Rooms
	rc.TURNURLs, rc.TURNSecret = []string{"turn:127.0.0.1:3478"}, c.TURN.Secrets[0]
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("rooms: %w", err)
	}
	return nil
}

// startRooms starts the rooms service on the running TURN relay.
func (r *Reference) startRooms(ctx context.Context) error {
	cfg := *r.cfg.Rooms
	if cfg.Logger == nil {
		cfg.Logger = r.cfg.Logger
	}
	tc := r.turn.Config()
	if len(tc.Secrets) == 0 {
		return ErrRoomsNeedTURN
	}
	cfg.TURNURLs, cfg.TURNSecret = r.turn.URLs(), tc.Secrets[0]
	srv, err := rooms.New(cfg)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	r.rooms = srv
	return nil
}

// Rooms returns the running rooms service, nil when not configured.
func (r *Reference) Rooms() *rooms.Server { return r.rooms }

// writeRooms renders the target file's rooms section:
//
//	rooms: {url: http://127.0.0.1:PORT}
func (r *Reference) writeRooms(b *strings.Builder) {
	if r.rooms == nil {
		return
	}
	fmt.Fprintf(b, "rooms: {url: %s}\n", r.rooms.URL())
}
