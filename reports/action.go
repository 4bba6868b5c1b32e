package reports

// Action is a mid-call action a call's flow asked for (hold, ICE restart,
// DTMF), as it went.
type Action struct {
	Do     string  `json:"do"`                // hold, ice-restart, dtmf
	By     string  `json:"by"`                // caller or callee
	AtMS   float64 `json:"at_ms"`             // from media up, when it was done
	TookMS float64 `json:"took_ms,omitempty"` // request to answer (re-INVITE to 200, digits to the last one heard)
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
}
