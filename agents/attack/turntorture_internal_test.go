package attack

import (
	"testing"

	"github.com/pion/stun/v4"
)

func TestJudgeSTUNTorture(t *testing.T) {
	reply := func(setters ...stun.Setter) *stun.Message {
		return stun.MustBuild(append([]stun.Setter{stun.TransactionID}, setters...)...)
	}
	success := reply(stun.BindingSuccess)
	errorOf := func(code stun.ErrorCode, extra ...stun.Setter) *stun.Message {
		return reply(append([]stun.Setter{stun.NewType(stun.MethodBinding, stun.ClassErrorResponse), code}, extra...)...)
	}
	e420 := errorOf(stun.CodeUnknownAttribute, stun.UnknownAttributes{stun.AttrType(stunUnknownRequired)})
	e420bare := errorOf(stun.CodeUnknownAttribute)
	e400 := errorOf(stun.CodeBadRequest)
	e401 := errorOf(stun.CodeUnauthorized)
	silence := stunTortureCase{name: "s", rfc: "r", expect: stunExpectSilence, severity: Low}
	unknown := stunTortureCase{name: "u", rfc: "r", expect: stunExpectCode, code: 420, unknown: stunUnknownRequired, twice: true, severity: Medium}
	integrity := stunTortureCase{name: "i", rfc: "r", expect: stunExpectCode, code: 401, severity: High, refuseOnly: true}
	optional := stunTortureCase{name: "o", rfc: "r", expect: stunExpectSuccess, severity: Low}
	survive := stunTortureCase{name: "v", rfc: "r", expect: stunExpectSurvive, lenient: "lenient"}
	cookie := stunTortureCase{name: "bad-magic-cookie", rfc: "r", expect: stunExpectSilence, severity: Low}
	cases := []struct {
		name     string
		tc       stunTortureCase
		answers  []*stun.Message
		stray    int64
		verdict  string
		severity string
		warnings int
	}{
		{"silence kept", silence, []*stun.Message{nil}, 0, Resisted, "", 0},
		{"silence broken", silence, []*stun.Message{success}, 0, Vulnerable, Low, 0},
		{"silence broken by an error", silence, []*stun.Message{e400}, 0, Vulnerable, Low, 0},
		{"stray ignored outside the cookie case", silence, []*stun.Message{nil}, 1, Resisted, "", 0},
		{"non-STUN answer to a bad cookie", cookie, []*stun.Message{nil}, 1, Vulnerable, Low, 0},
		{"420 twice", unknown, []*stun.Message{e420, e420}, 0, Resisted, "", 0},
		{"420 without UNKNOWN-ATTRIBUTES", unknown, []*stun.Message{e420bare, e420bare}, 0, Vulnerable, Low, 0},
		{"retransmission unanswered", unknown, []*stun.Message{e420, nil}, 0, Vulnerable, Low, 0},
		{"unknown attribute accepted", unknown, []*stun.Message{success, success}, 0, Vulnerable, Medium, 0},
		{"bad integrity refused", integrity, []*stun.Message{e401}, 0, Resisted, "", 0},
		{"bad integrity refused otherwise", integrity, []*stun.Message{e400}, 0, Resisted, "", 1},
		{"bad integrity accepted", integrity, []*stun.Message{success}, 0, Vulnerable, High, 0},
		{"bad integrity unanswered", integrity, []*stun.Message{nil}, 0, Resisted, "", 1},
		{"optional ignored", optional, []*stun.Message{success}, 0, Resisted, "", 0},
		{"optional refused", optional, []*stun.Message{e420}, 0, Vulnerable, Low, 0},
		{"survived silently", survive, []*stun.Message{nil}, 0, Resisted, "", 0},
		{"survived, answered leniently", survive, []*stun.Message{success}, 0, Resisted, "", 1},
	}
	for _, tc := range cases {
		c := turnCheck{name: tc.tc.name}
		judgeSTUNTorture(&c, tc.tc, 28, tc.answers, tc.stray)
		if c.verdict != tc.verdict || c.severity != tc.severity || len(c.warnings) != tc.warnings {
			t.Errorf("%s: %s/%s (%q, warnings %q), want %s/%s with %d warnings",
				tc.name, c.verdict, c.severity, c.summary, c.warnings, tc.verdict, tc.severity, tc.warnings)
		}
		if len(c.facts) != len(tc.answers) {
			t.Errorf("%s: %d facts for %d answers", tc.name, len(c.facts), len(tc.answers))
		}
	}
}

func TestSTUNTortureCasesBuild(t *testing.T) {
	var id [stun.TransactionIDSize]byte
	copy(id[:], "gauntlet-tx2")
	auth := stunTortureAuth{username: "u", realm: "r", nonce: "n"}
	seen := map[string]bool{}
	for _, tc := range stunTortureCases {
		if seen[tc.name] {
			t.Errorf("case %s twice", tc.name)
		}
		seen[tc.name] = true
		b := tc.build(id, auth)
		if len(b) > 65507 {
			t.Errorf("%s: %d bytes do not fit a UDP datagram", tc.name, len(b))
		}
		if tc.expect == stunExpectCode || tc.expect == stunExpectSuccess {
			m := &stun.Message{Raw: b}
			if err := m.Decode(); err != nil || m.TransactionID != id || stun.Fingerprint.Check(m) != nil {
				t.Errorf("%s: a case that expects an answer must be well formed: %v", tc.name, err)
			}
		}
	}
}
