package scenarios

import (
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
)

// FlowAction is a mid-call action of a flow's calls, At after media is up
// on both legs: hold (and unhold For later), ice-restart, or dtmf.
type FlowAction struct {
	At     time.Duration
	Do     string
	For    time.Duration // hold: until unhold; 0 holds to the end
	Digits string        // dtmf
	By     Hangup        // the side that acts: caller (default) or callee
}

// ActionNames lists the known mid-call actions.
func ActionNames() []string {
	return []string{endpoint.ActionHold, endpoint.ActionICERestart, endpoint.ActionDTMF}
}

var dtmfDigits = regexp.MustCompile(`^[0-9*#A-D]{1,32}$`)

func (d *decoder) actions(n *yaml.Node, path string) []FlowAction {
	items, _ := d.seq(n, path)
	out := make([]FlowAction, 0, len(items))
	for i, item := range items {
		ap := indexPath(path, i)
		f := d.mapping(item, ap, fields["action"]...)
		if f == nil {
			continue
		}
		a := FlowAction{By: HangupCaller}
		if v, ok := f["at"]; ok {
			a.At, _ = d.duration(v.val, joinPath(ap, "at"))
		} else {
			d.errs.at(d.src.lookup(ap), joinPath(ap, "at"), ErrRequired, "required: when, after media is up (e.g. 5s)")
		}
		if v, ok := f["do"]; ok {
			a.Do, _ = d.str(v.val, joinPath(ap, "do"))
		}
		if v, ok := f["for"]; ok {
			a.For, _ = d.duration(v.val, joinPath(ap, "for"))
		}
		if v, ok := f["digits"]; ok {
			a.Digits, _ = d.str(v.val, joinPath(ap, "digits"))
		}
		if v, ok := f["by"]; ok {
			s, _ := d.str(v.val, joinPath(ap, "by"))
			a.By = Hangup(s)
		}
		out = append(out, a)
	}
	return out
}

// actions checks a flow's actions against its populations and hold time.
func (v validator) actions(path string, f Flow, from, to Population, known bool) {
	for i, a := range f.Actions {
		ap := indexPath(joinPath(path, "actions"), i)
		doPath := joinPath(ap, "do")
		if v.required(doPath, a.Do) && !slices.Contains(ActionNames(), a.Do) {
			v.l.add(doPath, ErrUnknownName, "unknown action %q%s; known: %s", a.Do, didYouMean(a.Do, ActionNames()), joinQuoted(ActionNames()))
		}
		if a.By != HangupCaller && a.By != HangupCallee {
			v.l.add(joinPath(ap, "by"), ErrUnknownName, "unknown side %q; known: %q, %q", a.By, HangupCaller, HangupCallee)
		}
		if a.At < 0 {
			v.l.add(joinPath(ap, "at"), ErrRange, "must be >= 0, got %s", a.At)
		}
		if end := a.At + a.For; f.Hold.Min > 0 && end >= f.Hold.Min {
			v.l.add(joinPath(ap, "at"), ErrRange, "ends at %s, not before the shortest hold (%s): the call may be gone", end, f.Hold.Min)
		}
		switch a.Do {
		case endpoint.ActionHold:
			if a.For < 0 {
				v.l.add(joinPath(ap, "for"), ErrRange, "must be >= 0 (0: held to the end), got %s", a.For)
			}
		case endpoint.ActionDTMF:
			if !dtmfDigits.MatchString(a.Digits) {
				v.l.add(joinPath(ap, "digits"), ErrSyntax, "want 1 to 32 of 0-9 * # A-D, got %q", a.Digits)
			}
		case endpoint.ActionICERestart:
			actor := from
			if a.By == HangupCallee {
				actor = to
			}
			if known && actor.Kind != KindWebRTC {
				v.l.add(doPath, ErrConflict, "ICE restart needs a webrtc side; the %s (%q) is %s", a.By, actor.Name, actor.Kind)
			}
		}
		if a.Do != endpoint.ActionHold && a.For != 0 {
			v.l.add(joinPath(ap, "for"), ErrConflict, "only hold takes for")
		}
		if a.Do != endpoint.ActionDTMF && a.Digits != "" {
			v.l.add(joinPath(ap, "digits"), ErrConflict, "only dtmf takes digits")
		}
		if known && from.Direct() {
			v.l.add(doPath, ErrUnsupported, "mid-call actions use SIP re-INVITEs; direct calls have no SIP")
		}
	}
}

// endpointActions converts a flow's actions for the call agents.
func endpointActions(as []FlowAction) []endpoint.Action {
	out := make([]endpoint.Action, len(as))
	for i, a := range as {
		out[i] = endpoint.Action{At: a.At, Do: a.Do, For: a.For, Digits: a.Digits, ByCallee: a.By == HangupCallee}
	}
	return out
}

// usesDTMF reports whether some flow sends DTMF: every agent then offers
// telephone-event.
func (s *Scenario) usesDTMF() bool {
	for _, f := range s.Flows {
		for _, a := range f.Actions {
			if a.Do == endpoint.ActionDTMF {
				return true
			}
		}
	}
	return false
}
