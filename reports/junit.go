package reports

import (
	"encoding/xml"
	"fmt"
	"io"
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
// cause. Free text is redacted.
func WriteJUnit(w io.Writer, s *Summary) error {
	s = s.redacted()
	suites := []junitSuite{thresholdSuite(s), attackSuite(s), callSuite(s)}
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
	for _, g := range s.Failures {
		st.Cases = append(st.Cases, junitCase{
			Name: "failed: " + g.Cause, Classname: "calls", Time: "0",
			Failure: &junitMessage{
				Message: fmt.Sprintf("%d failed with cause %s; examples: %s", g.Count, g.Cause, strings.Join(g.Examples, ", ")),
				Type:    g.Cause,
				Text:    g.Error,
			},
		})
	}
	return st
}

func seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
