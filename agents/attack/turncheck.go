package attack

import (
	"fmt"
	"strings"
)

// turnCheck is one sub-result of a TURN attack: one defence probed, what
// the target did, and the verdict for that defence alone.
type turnCheck struct {
	name        string
	verdict     string // "" until decided: counts as inconclusive
	severity    string
	summary     string
	facts       []string
	warnings    []string
	remediation string
}

func (c *turnCheck) fact(format string, args ...any) {
	c.facts = append(c.facts, fmt.Sprintf(format, args...))
}

func (c *turnCheck) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *turnCheck) resisted(format string, args ...any) {
	c.verdict, c.summary = Resisted, fmt.Sprintf(format, args...)
}

func (c *turnCheck) inconclusive(format string, args ...any) {
	c.verdict, c.summary = Inconclusive, fmt.Sprintf(format, args...)
}

func (c *turnCheck) vulnerable(severity, remediation, format string, args ...any) {
	c.verdict, c.severity, c.remediation, c.summary = Vulnerable, severity, remediation, fmt.Sprintf(format, args...)
}

// turnSeverityAbove reports whether severity a ranks above b.
func turnSeverityAbove(a, b string) bool {
	rank := map[string]int{Info: 1, Low: 2, Medium: 3, High: 4}
	return rank[a] > rank[b]
}

// combineTURNChecks turns sub-results into one outcome: VULNERABLE when any
// defence failed (at the worst severity found, with every failed
// defence's remediation); inconclusive when none could be verified;
// otherwise resisted, each check that could not be verified named in a
// warning. The evidence is one summary line per check, "[name] verdict:
// summary", each followed by its facts.
func combineTURNChecks(attack string, checks []turnCheck) Outcome {
	var out Outcome
	var failed, verified, unverified []string
	var fixes []string
	for _, c := range checks {
		v := c.verdict
		if v == "" {
			v = Inconclusive
		}
		out.Evidence = append(out.Evidence, fmt.Sprintf("[%s] %s: %s", c.name, v, c.summary))
		for _, f := range c.facts {
			out.Evidence = append(out.Evidence, fmt.Sprintf("[%s] %s", c.name, f))
		}
		for _, w := range c.warnings {
			out.Warnings = append(out.Warnings, fmt.Sprintf("[%s] %s", c.name, w))
		}
		switch v {
		case Vulnerable:
			failed = append(failed, c.name)
			if turnSeverityAbove(c.severity, out.Severity) {
				out.Severity = c.severity
			}
			if c.remediation != "" {
				fixes = append(fixes, c.remediation)
			}
		case Resisted:
			verified = append(verified, c.name)
		default:
			unverified = append(unverified, c.name)
			out.Warnings = append(out.Warnings, fmt.Sprintf("[%s] not verified: %s", c.name, c.summary))
		}
	}
	switch {
	case len(failed) > 0:
		out.Verdict = Vulnerable
		out.Reason = fmt.Sprintf("%s: defences that failed: %s", attack, strings.Join(failed, ", "))
		out.Remediation = strings.Join(fixes, " ")
	case len(verified) == 0:
		out.Verdict = Inconclusive
		out.Reason = fmt.Sprintf("%s: no defence could be verified (%s)", attack, strings.Join(unverified, ", "))
	default:
		out.Verdict = Resisted
		out.Reason = fmt.Sprintf("%s: defences that held: %s", attack, strings.Join(verified, ", "))
		if len(unverified) > 0 {
			out.Reason += "; not verified: " + strings.Join(unverified, ", ")
		}
	}
	return out
}
