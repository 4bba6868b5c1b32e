package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

func TestFormatProgressNamesWhatItCounts(t *testing.T) {
	for _, c := range []struct {
		name      string
		p         scenarios.Progress
		want, not []string
	}{
		{"calls", scenarios.Progress{Elapsed: 3 * time.Second, Planned: 10, Started: 4, Completed: 2, Connected: 2, Registered: 20},
			[]string{"registered 20", "calls 4/10 started", "ice 100.0%"}, []string{"participants"}},
		{"rooms", scenarios.Progress{Unit: "rooms", Planned: 5, Started: 5, Completed: 5, Connected: 4, Relayed: 4, Participants: 10, ParticipantsFailed: 1, Leaks: 2},
			[]string{"rooms 5/5 started", "relay 1.00", "participants 10 (1 failed)  leaks 2"}, []string{"registered"}},
	} {
		got := formatProgress(c.p)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q has %q", c.name, got, n)
			}
		}
	}
}
