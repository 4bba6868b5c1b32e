package sipua

import (
	"errors"
	"fmt"
)

// Errors callers can match with errors.Is.
var (
	ErrConfig       = errors.New("sipua: invalid config")
	ErrUnreachable  = errors.New("sipua: server unreachable")                           // ws: nothing accepted the connect; udp: a timeout before any message ever arrived
	ErrHandshake    = errors.New("sipua: websocket upgrade failed")                     // connected, but no usable 101
	ErrSubprotocol  = errors.New("sipua: websocket 101 did not select subprotocol sip") // RFC 7118 §4
	ErrTimeout      = errors.New("sipua: transaction timed out")                        // Timer B or F fired
	ErrClosed       = errors.New("sipua: user agent closed")
	ErrTransport    = errors.New("sipua: transport failed")
	ErrAuth         = errors.New("sipua: cannot authenticate")                // challenged with no usable challenge or no password
	ErrDowngrade    = errors.New("sipua: digest algorithm downgrade refused") // a realm that used a stronger algorithm offered only a weaker one
	ErrCanceled     = errors.New("sipua: INVITE was canceled by the caller")
	ErrNoACK        = errors.New("sipua: no ACK for the 2xx (Timer H)")
	ErrRemoteHangup = errors.New("sipua: far end sent BYE")
	ErrLocalHangup  = errors.New("sipua: BYE sent")
	ErrDialogEnded  = errors.New("sipua: dialog already ended")
	ErrFinal        = errors.New("sipua: INVITE already has a final response")
)

// StatusError is a final non-2xx response to one of our requests.
type StatusError struct {
	Method string // the request's method, e.g. "INVITE"
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sipua: %s got %d %s", e.Method, e.Code, e.Reason)
}
