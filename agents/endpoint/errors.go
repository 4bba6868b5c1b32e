package endpoint

import (
	"errors"
	"fmt"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// ErrDirect is returned for SIP on a direct endpoint (Config.Direct).
var ErrDirect = errors.New("endpoint: a direct endpoint has no SIP: use PlaceDirectCall")

// ErrTURNServers wraps a failure of Config.TURNSource.
var ErrTURNServers = errors.New("endpoint: no TURN servers for the call")

// sessionCause is the cause of a call whose media session could not be
// made: ice when its TURN servers could not be had, else signaling.
func sessionCause(err error) string {
	if errors.Is(err, ErrTURNServers) {
		return reports.CauseICE
	}
	return reports.CauseSignaling
}

var (
	errNoCallee = errors.New("endpoint: the call never reached the callee")
	errNoAudio  = errors.New("endpoint: no audio in either direction")
)

func errOneWay(up, down reports.Direction) error {
	dead := up
	if up.Audio {
		dead = down
	}
	return fmt.Errorf("endpoint: one-way audio: %s received %d of %d packets, none matching what was sent", dead.Name, dead.Received, dead.Sent)
}

func errGap(d reports.Direction) error {
	return fmt.Errorf("endpoint: %s: audio stopped for %.0f ms (more than %s)", d.Name, d.LongestGapMS, MaxGap)
}
