package attack

import (
	"fmt"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// RoomsEnv is the target's rooms service.
type RoomsEnv struct {
	URL string // the rooms service's base URL (http:// or https://)
}

func (r RoomsEnv) configured() bool { return r.URL != "" }

// roomAttacks are the attacks on rooms signaling.
func roomAttacks() []Attack {
	return []Attack{
		{
			Name:    "room-enumeration",
			Summary: "room ID entropy, probe rate until throttled, uniform answers for missing rooms, no creation on probe",
			Needs:   []string{"rooms"},
			Run:     RoomEnumeration,
		},
		{
			Name:    "ip-leak",
			Summary: "addresses and non-relay candidates that reach a peer of a relay-only room",
			Needs:   []string{"rooms"},
			Run:     IPLeak,
		},
	}
}

// roomsClient is a rooms API client on a fresh source address.
func roomsClient(env *Env) (*room.Client, *socket.Net, error) {
	if env.Net == nil {
		return nil, nil, fmt.Errorf("attack: the env has no socket layer factory")
	}
	n, err := env.Net()
	if err != nil {
		return nil, nil, err
	}
	c, err := room.NewClient(env.Rooms.URL, n)
	if err != nil {
		return nil, nil, err
	}
	return c, n, nil
}
