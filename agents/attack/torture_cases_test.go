package attack

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Every case has its message, and every message its case.
func TestTortureMessages(t *testing.T) {
	files, err := fs.Glob(tortureFiles, "testdata/rfc4475/*.dat")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range tortureCases {
		b, err := c.message()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\r\n") {
			t.Errorf("%s: no CRLF line ends", c.name)
		}
		if slices.Contains(names, c.name) {
			t.Errorf("%s listed twice", c.name)
		}
		names = append(names, c.name)
		if c.kind == tortureInvalid && len(c.want) == 0 {
			t.Errorf("%s: an invalid case without the answers it expects", c.name)
		}
	}
	if len(files) != len(tortureCases) {
		t.Errorf("%d messages in testdata, %d cases", len(files), len(tortureCases))
	}
}

func TestTortureJudge(t *testing.T) {
	valid := tortureCase{name: "v", kind: tortureValid}
	bad := tortureCase{name: "b", kind: tortureInvalid, want: []int{400}}
	ext := tortureCase{name: "e", kind: tortureInvalid, want: []int{420}}
	resp := tortureCase{name: "r", kind: tortureResponse}
	for _, tc := range []struct {
		c    tortureCase
		r    tortureResult
		ok   bool
		says string
	}{
		{valid, tortureResult{final: 200, reason: "OK"}, true, "accepted"},
		{valid, tortureResult{final: 404, reason: "Not Found"}, true, "accepted"},
		{valid, tortureResult{provisional: []int{100}}, true, "accepted"},
		{valid, tortureResult{final: 400, reason: "Bad Request"}, false, "refused"},
		{valid, tortureResult{}, false, "unanswered"},
		{bad, tortureResult{final: 400, reason: "Bad Request"}, true, "as expected"},
		{bad, tortureResult{final: 200, reason: "OK"}, false, "expected 400"},
		{bad, tortureResult{final: 401, reason: "Unauthorized"}, false, "expected 400"},
		{bad, tortureResult{}, false, "dropped silently"},
		{ext, tortureResult{final: 420, reason: "Bad Extension"}, true, "as expected"},
		{ext, tortureResult{final: 401, reason: "Unauthorized"}, true, "RFC 3261 8.2"},
		{ext, tortureResult{final: 403, reason: "Forbidden"}, true, "RFC 3261 8.2"},
		{resp, tortureResult{}, true, "dropped"},
		{resp, tortureResult{final: 400}, false, "was answered"},
	} {
		ok, line := tc.c.judge(tc.r)
		if ok != tc.ok || !strings.Contains(line, tc.says) {
			t.Errorf("%s %v: %v %q, want %v and %q", tc.c.kind, tc.r, ok, line, tc.ok, tc.says)
		}
	}
}

func TestViaPortOfMessage(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want int
	}{
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1\r\n\r\n", 5070},
		{"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\r\n", 5060},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2:5090;branch=390skdjuw\r\n\r\n", 5090},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8::1]:5080\r\n\r\n", 5080},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n\r\n", 5060},
		{"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\n", 5060},
	} {
		if got := viaPort([]byte(tc.msg)); got != tc.want {
			t.Errorf("viaPort(%q) = %d, want %d", tc.msg, got, tc.want)
		}
	}
}

func TestUniqueBranches(t *testing.T) {
	msg := func(method, via string) []byte {
		return []byte(method + " sip:a@b SIP/2.0\r\nVia: " + via + "\r\nCSeq: 1 " + method + "\r\n\r\n")
	}
	u := uniqueBranches{}
	first, note := u.apply("one", msg("REGISTER", "SIP/2.0/UDP h.example.com;branch=z9hG4bKkdjuw"))
	if note != "" || !strings.Contains(string(first), "branch=z9hG4bKkdjuw\r\n") {
		t.Errorf("the first message changed: %q %q", first, note)
	}
	again, note := u.apply("two", msg("REGISTER", "SIP/2.0/UDP h.example.com;branch=z9hG4bKkdjuw"))
	if !strings.Contains(string(again), "branch=z9hG4bKkdjuw.two\r\n") || !strings.Contains(note, "one") {
		t.Errorf("a repeated transaction kept its branch: %q %q", again, note)
	}
	for name, m := range map[string][]byte{
		"other method": msg("OPTIONS", "SIP/2.0/UDP h.example.com;branch=z9hG4bKkdjuw"),
		"other host":   msg("REGISTER", "SIP/2.0/UDP g.example.com;branch=z9hG4bKkdjuw"),
		"RFC 2543":     msg("REGISTER", "SIP/2.0/UDP h.example.com;branch=kdjuw"),
		"cookie only":  msg("REGISTER", "SIP/2.0/UDP h.example.com;branch=z9hG4bK"),
	} {
		if out, note := u.apply(name, m); note != "" || string(out) != string(m) {
			t.Errorf("%s: changed to %q (%s)", name, out, note)
		}
	}
}
