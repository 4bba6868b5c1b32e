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

// Reoffer is a re-offer (re-INVITE with SDP) that one leg of a call
// received and answered.
type Reoffer struct {
	To        string  `json:"to"`                // the leg that received it: caller or callee
	AtMS      float64 `json:"at_ms"`             // from that leg's media up
	Direction string  `json:"direction"`         // offered: sendonly or inactive hold the call, sendrecv takes the hold off
	Restart   bool    `json:"restart,omitempty"` // new ICE credentials: an ICE restart
}
