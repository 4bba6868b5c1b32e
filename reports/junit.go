package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes junit.xml for CI: a testsuite "thresholds" with one
// testcase per threshold (failed when it did not hold), "attacks" with one
// per attack (failed when VULNERABLE, skipped when inconclusive) and
// "calls" with the aggregated counts and one failed testcase per failure
// cause, and, when the run had room records, "rooms" likewise plus one
// failed testcase per kind of leaked address (or a passing "no address
// leaked"). Free text is redacted.
func WriteJUnit(w io.Writer, s *Summary) error {
	s = s.redacted()
	suites := []junitSuite{thresholdSuite(s), attackSuite(s), callSuite(s)}
	if s.Rooms != nil {
		suites = append(suites, roomSuite(s.Rooms))
	}
	root := junitSuites{Name: "gauntlet " + s.Run.Scenario, Time: seconds(s.Run.DurationMS), Suites: suites}
	for i := range root.Suites {
		st := &root.Suites[i]
		st.Tests = len(st.Cases)
		st.Time = "0"
		for _, c := range st.Cases {
			if c.Failure != nil {
				st.Failures++
			}
			if c.Skipped != nil {
				st.Skipped++
			}
		}
		root.Tests += st.Tests
		root.Failures += st.Failures
		root.Skipped += st.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

func thresholdSuite(s *Summary) junitSuite {
	st := junitSuite{Name: "thresholds"}
	for _, t := range s.Thresholds {
		c := junitCase{Name: t.Name, Classname: "thresholds", Time: "0"}
		kind := "threshold"
		if t.Default {
			kind = "default threshold"
		}
		actual := "no data"
		if !t.NoData {
			actual = formatFloat(t.Actual)
		}
		if t.OK {
			c.SystemOut = fmt.Sprintf("%s %s held: actual %s", kind, t.Name, actual)
		} else {
			c.Failure = &junitMessage{
				Message: fmt.Sprintf("%s %s failed: actual %s", kind, t.Name, actual),
				Type:    "threshold",
				Text:    t.Note,
			}
		}
		st.Cases = append(st.Cases, c)
	}
	return st
}

func attackSuite(s *Summary) junitSuite {
	st := junitSuite{Name: "attacks"}
	for _, a := range s.Attacks {
		c := junitCase{Name: a.Name, Classname: "attacks", Time: "0"}
		text := strings.Join(a.Evidence, "\n")
		if a.Remediation != "" {
			text += "\nremediation: " + a.Remediation
		}
		first := ""
		if len(a.Evidence) > 0 {
			first = ": " + a.Evidence[0]
		}
		switch a.Verdict {
		case VerdictVulnerable:
			c.Failure = &junitMessage{Message: VerdictVulnerable + first, Type: a.Severity, Text: text}
		case VerdictResisted:
			c.SystemOut = text
		default:
			c.Skipped = &junitMessage{Message: a.Verdict + first, Text: text}
		}
		st.Cases = append(st.Cases, c)
	}
	return st
}

func callSuite(s *Summary) junitSuite {
	st := junitSuite{Name: "calls"}
	if !s.Run.Start.IsZero() {
		st.Timestamp = s.Run.Start.UTC().Format("2006-01-02T15:04:05")
	}
	st.Properties = &junitProperties{Property: []junitProperty{
		{"scenario", s.Run.Scenario},
		{"seed", strconv.FormatInt(s.Run.Seed, 10)},
		{"target", s.Run.Target},
		{"status", string(s.Status)},
		{"interrupted", strconv.FormatBool(s.Run.Interrupted)},
		{"calls.attempted", strconv.Itoa(s.Calls.Attempted)},
		{"calls.connected", strconv.Itoa(s.Calls.Connected)},
		{"calls.failed", strconv.Itoa(s.Calls.Failed)},
		{"calls.canceled", strconv.Itoa(s.Calls.Canceled)},
		{"registrations.attempted", strconv.Itoa(s.Registrations.Attempted)},
		{"registrations.failed", strconv.Itoa(s.Registrations.Failed)},
	}}
	st.Cases = append(st.Cases, junitCase{
		Name: "calls", Classname: "calls", Time: "0",
		SystemOut: fmt.Sprintf("%d attempted, %d connected, %d failed, %d canceled; %d registrations, %d failed",
			s.Calls.Attempted, s.Calls.Connected, s.Calls.Failed, s.Calls.Canceled,
			s.Registrations.Attempted, s.Registrations.Failed),
	})
	if s.Run.Interrupted {
		st.Cases = append(st.Cases, junitCase{
			Name: "run complete", Classname: "calls", Time: "0",
			Skipped: &junitMessage{Message: "run interrupted: figures cover what was measured before it stopped"},
		})
	}
	st.Cases = append(st.Cases, failureCases("calls", s.Failures)...)
	return st
}

// failureCases is one failed testcase per failure cause.
func failureCases(class string, gs []FailureGroup) []junitCase {
	var cs []junitCase
	for _, g := range gs {
		cs = append(cs, junitCase{
			Name: "failed: " + g.Cause, Classname: class, Time: "0",
			Failure: &junitMessage{
				Message: fmt.Sprintf("%d failed with cause %s; examples: %s", g.Count, g.Cause, strings.Join(g.Examples, ", ")),
				Type:    g.Cause,
				Text:    g.Error,
			},
		})
	}
	return cs
}

// roomSuite is the room participants as calls are shown, and the leaks as
// attack findings are: a failed testcase per leak kind, its examples as
// evidence.
func roomSuite(r *RoomsSummary) junitSuite {
	st := junitSuite{Name: "rooms"}
	st.Properties = &junitProperties{Property: []junitProperty{
		{"rooms.count", strconv.Itoa(r.Count)},
		{"rooms.complete", strconv.Itoa(r.Complete)},
		{"rooms.participants", strconv.Itoa(r.Participants)},
		{"rooms.joined", strconv.Itoa(r.Joined)},
		{"rooms.ok", strconv.Itoa(r.OK)},
		{"rooms.failed", strconv.Itoa(r.Failed)},
		{"rooms.canceled", strconv.Itoa(r.Canceled)},
		{"rooms.leaks", strconv.Itoa(r.Leaks)},
		{"rooms.inspected", strconv.Itoa(r.Inspected)},
	}}
	st.Cases = append(st.Cases, junitCase{
		Name: "participants", Classname: "rooms", Time: "0",
		SystemOut: fmt.Sprintf("%d rooms (%d complete); %d participants, %d joined, %d ok, %d failed, %d canceled",
			r.Count, r.Complete, r.Participants, r.Joined, r.OK, r.Failed, r.Canceled),
	})
	st.Cases = append(st.Cases, failureCases("rooms", r.Failures)...)
	if r.Leaks == 0 {
		st.Cases = append(st.Cases, junitCase{
			Name: "no address leaked", Classname: "rooms", Time: "0",
			SystemOut: fmt.Sprintf("%d signaling messages inspected, none carried an address but a TURN relay's", r.Inspected),
		})
		return st
	}
	for _, kind := range slices.Sorted(maps.Keys(r.LeaksByKind)) {
		var lines []string
		for _, l := range r.LeakExamples {
			if l.Kind == kind {
				lines = append(lines, leakLine(l))
			}
		}
		msg := fmt.Sprintf("%d %s leaks", r.LeaksByKind[kind], kind)
		if len(lines) > 0 {
			msg += ": " + lines[0]
		}
		st.Cases = append(st.Cases, junitCase{
			Name: "leak: " + kind, Classname: "rooms", Time: "0",
			Failure: &junitMessage{Message: msg, Type: "leak", Text: strings.Join(lines, "\n")},
		})
	}
	return st
}

// leakLine describes one leak with where it was found.
func leakLine(l LeakExample) string {
	from := ""
	if l.From != "" {
		from = " from " + l.From
	}
	return fmt.Sprintf("room %s, participant %s: %s%s: %s", l.Room, l.Participant, l.Where, from, strings.TrimSpace(l.Text))
}

func seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
