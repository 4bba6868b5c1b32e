package attack

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// answer builds a response as a target would send it.
func answer(t *testing.T, text string) *sip.Response {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Response)
}

const challenged = `SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1
From: <sip:u@d>;tag=a
To: <sip:u@d>;tag=b
Call-ID: c
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="d", nonce="%s", algorithm=SHA-256, qop="auth"
Content-Length: 0

`

const notFound = `SIP/2.0 404 Not Found
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1
From: <sip:u@d>;tag=a
To: <sip:u@d>;tag=b
Call-ID: c
CSeq: 1 REGISTER
Content-Length: 0

`

// probes returns n probes answered with text (%s: a nonce drawn from
// nonces in turn), each taking rtt.
func probes(t *testing.T, n int, text string, nonces []string, rtt time.Duration) []probe {
	t.Helper()
	out := make([]probe, n)
	for i := range out {
		body := text
		if strings.Contains(text, "%s") {
			body = strings.Replace(text, "%s", nonces[i%len(nonces)], 1)
		}
		out[i] = probe{final: answer(t, body), size: len(body), rtt: rtt}
	}
	return out
}

func TestCompareProbes(t *testing.T) {
	b64url := []string{"aB3_x-Q9", "Zz09_-aa", "k-_LmN0p"} // one alphabet, drawn at random
	hex := []string{"a0f3a0f3", "99be99be", "c0dec0de"}
	ms := time.Millisecond
	for _, tc := range []struct {
		name              string
		existing, missing []probe
		want              []string // substrings, one per expected difference
	}{
		{"uniform", probes(t, 30, challenged, b64url, ms), probes(t, 30, challenged, b64url[1:], ms), nil},
		{"status", probes(t, 30, challenged, b64url, ms), probes(t, 30, notFound, nil, ms),
			[]string{"status", "header fields", "WWW-Authenticate #1", "nonce alphabet", "answer size"}},
		{"nonce alphabet", probes(t, 30, challenged, b64url, ms), probes(t, 30, challenged, hex, ms), []string{"nonce alphabet"}},
		{"slower for existing users", probes(t, 30, challenged, b64url, 5*ms), probes(t, 30, challenged, b64url, ms), []string{"answer time"}},
		{"timing within tolerance", probes(t, 30, challenged, b64url, 1200*time.Microsecond), probes(t, 30, challenged, b64url, 400*time.Microsecond), nil},
		{"missing users unanswered", probes(t, 30, challenged, b64url, ms), make([]probe, 30), []string{"answered: existing user 30 of 30 probes, missing user 0 of 30"}},
		{"a few lost either way", append(probes(t, 28, challenged, b64url, ms), probe{}, probe{}), probes(t, 30, challenged, b64url, ms), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := compareProbes("REGISTER", tc.existing, tc.missing)
			if len(got) != len(tc.want) {
				t.Fatalf("%d differences, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("difference %d = %q, want it about %q", i, got[i], w)
				}
			}
		})
	}
}

func TestNonceAlphabet(t *testing.T) {
	for _, tc := range []struct {
		nonces []string
		want   string
	}{
		{[]string{"0a1b", "ffee"}, "hex"},
		{[]string{"abcXYZ09"}, "alphanumeric"},
		{[]string{"ab_c", "x-y"}, "base64url"},
		{[]string{"ab+c", "x/y="}, "base64"},
		{[]string{"a:b"}, "other: :ab"},
	} {
		if got := nonceAlphabet(probes(t, len(tc.nonces), challenged, tc.nonces, 0)); got != tc.want {
			t.Errorf("nonceAlphabet(%v) = %q, want %q", tc.nonces, got, tc.want)
		}
	}
	if got := nonceAlphabet(probes(t, 2, notFound, nil, 0)); got != "" {
		t.Errorf("no challenge: %q, want empty", got)
	}
}

func TestMissingName(t *testing.T) {
	for _, known := range []string{"web1000", "a", "desk2000-with-a-long-suffix"} {
		m := missingName(known)
		if m == known || len(m) < 3 || len(known) >= 3 && len(m) != len(known) {
			t.Errorf("missingName(%q) = %q", known, m)
		}
	}
}

func TestJudgeEnumeration(t *testing.T) {
	ms := time.Millisecond
	nonces := []string{"aB3_x-Q9", "Zz09_-aa"}
	alike := []methodProbes{{method: sip.REGISTER, existing: probes(t, 30, challenged, nonces, ms), missing: probes(t, 30, challenged, nonces, ms)}}
	differ := []methodProbes{{method: sip.REGISTER, existing: probes(t, 30, challenged, nonces, ms), missing: probes(t, 30, notFound, nil, ms)}}
	silent := []methodProbes{{method: sip.REGISTER, existing: make([]probe, 30), missing: make([]probe, 30)}}
	locked := lockoutFindings{facts: []string{"locked out at guess 6"}}
	for _, tc := range []struct {
		name     string
		results  []methodProbes
		lock     lockoutFindings
		verdict  string
		severity string
	}{
		{"alike and locked", alike, locked, Resisted, ""},
		{"answers differ", differ, locked, Vulnerable, Medium},
		{"never locked out", alike, lockoutFindings{unlocked: "never locked out"}, Vulnerable, High},
		{"both", differ, lockoutFindings{unlocked: "never locked out"}, Vulnerable, High},
		{"no answers at all", silent, lockoutFindings{inconclusive: "no challenge"}, Inconclusive, ""},
		{"lockout not checkable", alike, lockoutFindings{inconclusive: "no challenge"}, Resisted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := judgeEnumeration("web1000", "zq12345", tc.results, tc.lock)
			if out.Verdict != tc.verdict || out.Severity != tc.severity {
				t.Errorf("%s (%s): %s, want %s (%s)", out.Verdict, out.Severity, out.Reason, tc.verdict, tc.severity)
			}
			if out.Verdict == Vulnerable && out.Remediation == "" {
				t.Error("VULNERABLE without a remediation")
			}
		})
	}
}
