package attack

import (
	"strings"
	"testing"
)

func TestMergePartsTakesTheWorstVerdict(t *testing.T) {
	res := Outcome{Verdict: Resisted, Reason: "all answered"}
	vul := Outcome{Verdict: Vulnerable, Severity: High, Reason: "died", Evidence: []string{"no answer"}, Remediation: "fix it"}
	inc := Inconclusivef("no server")
	for _, c := range []struct {
		name  string
		parts []part
		want  string
	}{
		{"one vulnerable part", []part{{"sip", res}, {"turn", vul}}, Vulnerable},
		{"resisted with an inconclusive part", []part{{"sip", res}, {"turn", inc}}, Resisted},
		{"nothing verified", []part{{"sip", inc}, {"turn", inc}}, Inconclusive},
	} {
		if got := mergeParts(c.parts); got.Verdict != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Verdict, c.want)
		}
	}
	got := mergeParts([]part{{"sip", res}, {"turn", vul}})
	if got.Severity != High || got.Remediation != "fix it" || !strings.Contains(got.Reason, "[turn] VULNERABLE: died") || got.Evidence[0] != "[turn] no answer" {
		t.Errorf("merged %+v", got)
	}
	if w := mergeParts([]part{{"sip", res}, {"turn", inc}}).Warnings; len(w) != 1 || !strings.Contains(w[0], "[turn] inconclusive") {
		t.Errorf("warnings %v", w)
	}
}
