package attack

// TURNEnv is the target's TURN relays and how to get credentials.
type TURNEnv struct {
	// URLs are TURN URIs (RFC 7065): turn:host:port?transport=udp|tcp,
	// turns:host:port.
	URLs []string
	// RESTSecret, when set, mints TURN REST credentials (HMAC-SHA1 of
	// "expiry:user"); else Username and Password are static.
	RESTSecret         string
	Username, Password string
	InsecureTLS        bool // accept a turns: certificate that does not verify
}

func (t TURNEnv) configured() bool { return len(t.URLs) > 0 }

// turnAttacks are the attacks on TURN relays.
func turnAttacks() []Attack { return nil }
