package reports

// Room is what one participant of a browser-to-browser room saw (records
// of kind KindRoom). The room's media directions, ICE, DTLS and phases are
// in the Result as for a call: Media holds the directions toward this
// participant, one per other participant ("<peer>-><me>"), so that every
// direction of a room is in exactly one record.
type Room struct {
	ID          string `json:"id"`                    // the room
	Participant string `json:"participant,omitempty"` // this participant's session, as the others see it
	Size        int    `json:"size"`                  // participants the room was to have
	Peers       int    `json:"peers"`                 // others this participant exchanged audio with
	// JoinMS is the join request to the service's "joined" message (token,
	// TURN credentials and the signaling connection included).
	JoinMS float64 `json:"join_ms,omitempty"`
	// FirstAudioMS is the join request to the first audio from every
	// other participant (the slowest of them).
	FirstAudioMS float64 `json:"first_audio_ms,omitempty"`
	// Inspected is how many signaling messages reached the participant and
	// were checked for leaks.
	Inspected int    `json:"inspected"`
	Leaks     []Leak `json:"leaks,omitempty"`
}

// Leak is an address, or a candidate that carries one, that reached a
// participant of a relay-only room: anything but a TURN relay's address.
type Leak struct {
	Kind  string `json:"kind"`           // e.g. "host-candidate", "raddr", "connection-address" (see agents/room)
	From  string `json:"from,omitempty"` // the participant whose message carried it
	Where string `json:"where"`          // e.g. "offer sdp", "candidate message", "field ip"
	Text  string `json:"text"`           // the offending text, as received
}
