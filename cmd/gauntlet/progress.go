package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// progressPrinter shows a run's live state: a status line rewritten in
// place on a terminal, plain periodic lines otherwise (CI logs).
type progressPrinter struct {
	w        io.Writer
	tty      bool
	every    time.Duration
	last     time.Time
	lineOpen bool
}

func newProgressPrinter(w io.Writer, every time.Duration) *progressPrinter {
	p := &progressPrinter{w: w, tty: isTerminal(w), every: every}
	if p.every == 0 {
		p.every = 10 * time.Second
		if p.tty {
			p.every = time.Second
		}
	}
	return p
}

func (p *progressPrinter) print(s scenarios.Progress) {
	now := time.Now()
	if !s.Final && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	line := formatProgress(s)
	switch {
	case p.tty && s.Final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
		p.lineOpen = false
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.lineOpen = true
	default:
		fmt.Fprintln(p.w, line)
	}
}

func formatProgress(s scenarios.Progress) string {
	ice, relay, mos := "-", "-", "-"
	if done := s.Completed; done > 0 {
		ice = strconv.FormatFloat(float64(s.Connected)/float64(done)*100, 'f', 1, 64) + "%"
	}
	if s.Connected > 0 {
		relay = strconv.FormatFloat(float64(s.Relayed)/float64(s.Connected), 'f', 2, 64)
	}
	if s.MOSCount > 0 {
		mos = strconv.FormatFloat(s.MOSSum/float64(s.MOSCount), 'f', 2, 64)
	}
	started := strconv.Itoa(s.Started)
	if s.Planned > 0 {
		started += "/" + strconv.Itoa(s.Planned)
	}
	unit := s.Unit
	if unit == "" {
		unit = "calls"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%6s] ", s.Elapsed.Round(time.Second))
	if s.Registered > 0 || unit != "rooms" {
		fmt.Fprintf(&b, "registered %d  ", s.Registered)
	}
	fmt.Fprintf(&b, "%s %s started, %d active, %d done, %d failed  ice %s  relay %s  mos %s",
		unit, started, s.Active, s.Completed, s.Failed, ice, relay, mos)
	if s.Participants > 0 {
		fmt.Fprintf(&b, "  participants %d (%d failed)  leaks %d", s.Participants, s.ParticipantsFailed, s.Leaks)
	}
	return b.String()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
