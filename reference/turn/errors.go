package turn

import "errors"

// Errors callers can match with errors.Is.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("turn: invalid config")
	// ErrStarted is returned by Start when the relay was already started.
	ErrStarted = errors.New("turn: already started")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("turn: closed")
	// ErrNotStarted is returned by accessors that need listeners.
	ErrNotStarted = errors.New("turn: not started")
)
