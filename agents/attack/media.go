package attack

// mediaAttacks are the attacks on the media plane: DTLS and SRTP.
func mediaAttacks() []Attack { return nil }
