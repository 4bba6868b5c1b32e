package attack

import "context"

// SIPEnv is the target's SIP side, from the target file.
type SIPEnv struct {
	Domain      string
	WS          string // ws:// or wss:// URL
	InsecureTLS bool   // accept a wss or SIP TLS certificate that does not verify
	UDP         string // host:port
	TCP, TLS    string // host:port of SIP over TCP and over TLS
	// Token, when the deployment wants a bearer token on its WebSocket
	// upgrade, gives one (the known account's); TokenInQuery sends it as
	// an access_token parameter instead of an Authorization header.
	Token        func(ctx context.Context) (string, error)
	TokenInQuery bool
	// Users are accounts that exist on the target, with their passwords.
	Users []Credential
}

// Credential is a user name and its password.
type Credential struct{ User, Password string }

func (s SIPEnv) configured() bool { return s.WS != "" || s.UDP != "" || s.TCP != "" || s.TLS != "" }

// sipAttacks are the attacks on SIP signaling.
func sipAttacks() []Attack {
	return []Attack{
		{
			Name:    "sip-flood",
			Summary: "REGISTER and INVITE floods from many sources: 503 with Retry-After expected (never SIP 429), legitimate calls measured meanwhile",
			Needs:   []string{"sip"},
			Run:     SIPFlood,
		},
		{
			Name:    "sip-enumeration",
			Summary: "answers for existing and missing users compared (status, headers, size, timing) on REGISTER, INVITE and OPTIONS; digest guessing lockout",
			Needs:   []string{"sip"},
			Run:     SIPEnumeration,
		},
	}
}
