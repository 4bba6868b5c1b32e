package room

import "errors"

// Errors of the room agent, wrapped with detail.
var (
	ErrConfig  = errors.New("room: bad config")
	ErrState   = errors.New("room: call made out of order")
	ErrNoPeer  = errors.New("room: a participant never arrived")
	ErrNoAudio = errors.New("room: no audio from a participant")
)
