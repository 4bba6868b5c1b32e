package reference

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

// WeakenNames lists every defence any part can switch off, each once.
func WeakenNames() []string {
	var out []string
	for _, n := range slices.Concat(gateway.WeakenNames(), turn.WeakenNames, rooms.WeakenNames()) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Weaken switches the named defences off in every part that has them (a
// name such as rate-limit exists in the gateway and the rooms service
// both). A name no part knows is an error listing the known ones; a part
// the config does not start cannot take its switches.
func (c *Config) Weaken(names ...string) error {
	for _, raw := range names {
		n := strings.TrimSpace(raw)
		if n == "" {
			continue
		}
		found := false
		if slices.Contains(gateway.WeakenNames(), n) {
			c.Gateway.Weaken, found = append(c.Gateway.Weaken, n), true
		}
		if slices.Contains(turn.WeakenNames, n) {
			if c.TURN == nil {
				return fmt.Errorf("reference: weaken %q: the config starts no TURN relay", n)
			}
			c.TURN.Weaken, found = append(c.TURN.Weaken, n), true
		}
		if slices.Contains(rooms.WeakenNames(), n) {
			if c.Rooms == nil {
				return fmt.Errorf("reference: weaken %q: the config starts no rooms service", n)
			}
			c.Rooms.Weaken, found = append(c.Rooms.Weaken, n), true
		}
		if !found {
			return fmt.Errorf("reference: no defence named %q to weaken; known: %s", n, strings.Join(WeakenNames(), ", "))
		}
	}
	return nil
}
