package attack

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

func TestJudgeFlood(t *testing.T) {
	counts := func(sent, answered, s503, ra, s429 int, other map[int]int) *floodCounts {
		c := &floodCounts{sent: sent, answered: answered, s503: s503, retryAfter: ra, s429: s429, statuses: map[int]int{}}
		if s503 > 0 {
			c.statuses[503] = s503
			c.firstThrottle = 10 * time.Millisecond
		}
		if s429 > 0 {
			c.statuses[429] = s429
		}
		for s, n := range other {
			c.statuses[s] = n
		}
		return c
	}
	calls := func(ok, failed int) []reports.Result {
		var out []reports.Result
		for range ok {
			out = append(out, reports.Result{Outcome: reports.OutcomeOK})
		}
		for range failed {
			out = append(out, reports.Result{Outcome: reports.OutcomeFailed, Cause: reports.CauseSignaling, SIPStatus: 503})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		reg, inv *floodCounts
		legit    []reports.Result
		verdict  string
		reason   string
		warning  string
	}{
		{"throttled", counts(1000, 1000, 980, 980, 0, map[int]int{401: 20}), counts(1000, 1000, 980, 980, 0, map[int]int{401: 20}), calls(6, 0),
			Resisted, "throttled", ""},
		{"never throttled", counts(1000, 1000, 0, 0, 0, map[int]int{401: 1000}), counts(1000, 1000, 0, 0, 0, map[int]int{401: 1000}), calls(6, 0),
			Vulnerable, "never throttled", ""},
		{"SIP 429", counts(1000, 1000, 0, 0, 980, map[int]int{401: 20}), counts(1000, 1000, 980, 980, 0, map[int]int{401: 20}), calls(6, 0),
			Vulnerable, "RFC 3892", ""},
		{"503 without Retry-After", counts(1000, 1000, 980, 0, 0, map[int]int{401: 20}), counts(1000, 1000, 980, 980, 0, map[int]int{401: 20}), calls(6, 0),
			Resisted, "throttled", "without Retry-After"},
		{"legitimate calls fail", counts(1000, 1000, 980, 980, 0, nil), counts(1000, 1000, 980, 980, 0, nil), calls(2, 4),
			Vulnerable, "legitimate calls", ""},
		{"one call in six fails", counts(1000, 1000, 980, 980, 0, nil), counts(1000, 1000, 980, 980, 0, nil), calls(5, 1),
			Resisted, "throttled", ""},
		{"dropped silently", counts(1000, 100, 0, 0, 0, map[int]int{401: 100}), counts(1000, 100, 0, 0, 0, map[int]int{401: 100}), calls(6, 0),
			Resisted, "shed", "unanswered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := judgeFlood(map[sip.RequestMethod]*floodCounts{sip.REGISTER: tc.reg, sip.INVITE: tc.inv}, tc.legit, "web1000", 4*time.Second)
			if out.Verdict != tc.verdict || !strings.Contains(out.Reason, tc.reason) {
				t.Errorf("%s: %q, want %s: ...%s...", out.Verdict, out.Reason, tc.verdict, tc.reason)
			}
			if out.Verdict == Vulnerable && (out.Severity == "" || out.Remediation == "") {
				t.Errorf("VULNERABLE without severity or remediation: %+v", out)
			}
			w := strings.Join(out.Warnings, "\n")
			if tc.warning == "" && w != "" || !strings.Contains(w, tc.warning) {
				t.Errorf("warnings %q, want %q", w, tc.warning)
			}
		})
	}
}

func TestStatusCounts(t *testing.T) {
	if got := statusCounts(map[int]int{401: 20, 503: 980}); got != "503 ×980, 401 ×20" {
		t.Errorf("statusCounts = %q", got)
	}
	if got := statusCounts(nil); got != "none" {
		t.Errorf("statusCounts(nil) = %q", got)
	}
}
