package attack

// RoomsEnv is the target's rooms service.
type RoomsEnv struct {
	URL string // the rooms service's base URL (http:// or https://)
}

func (r RoomsEnv) configured() bool { return r.URL != "" }

// roomAttacks are the attacks on rooms signaling.
func roomAttacks() []Attack { return nil }
