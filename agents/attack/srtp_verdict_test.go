package attack

import (
	"slices"
	"strings"
	"testing"
)

// sideSpec describes what came out on one side of srtp-replay, by offset
// from the injector's base: every packet of the stream once, but missing
// (the flipped and cut ones are always withheld), and extra on top.
type sideSpec struct {
	name    string
	base    uint32
	missing []uint32
	extra   []uint32
	stalled bool // the stream's last packet never came out
}

func (s sideSpec) side(t *testing.T) *srtpSide {
	t.Helper()
	inj := newSRTPInjector(true)
	inj.based, inj.base = true, s.base
	close(inj.done)
	const tag = 42
	side := &srtpSide{name: s.name, to: "the far side", from: "the near side's", inj: inj, marks: newMarkTally(), tag: tag, flowed: !s.stalled}
	for c := s.base; c <= side.last(); c++ {
		off := c - s.base
		if off == srtpFlipAt || off == srtpCutAt || slices.Contains(s.missing, off) {
			continue
		}
		side.marks.observe(markedRTP(t, tag, c))
	}
	for _, e := range s.extra {
		side.marks.observe(markedRTP(t, tag, s.base+e))
	}
	return side
}

func TestSRTPVerdict(t *testing.T) {
	browser := sideSpec{name: srtpBrowserSide}
	phone := sideSpec{name: srtpPhoneSide, base: 37}
	with := func(s sideSpec, f func(*sideSpec)) sideSpec { f(&s); return s }
	many := func(from, n uint32) []uint32 {
		var out []uint32
		for i := range n {
			out = append(out, from+i)
		}
		return out
	}
	tests := []struct {
		name     string
		sides    []sideSpec
		verdict  string
		severity string
		reason   []string // each in the reason
		evidence []string // each joined by " & " must be in one evidence line
	}{
		{"browser side alone, clean", []sideSpec{browser}, Resisted, "",
			[]string{"reached the phone"}, []string{srtpBrowserSide + " & duplicate & dropped"}},
		{"both sides clean", []sideSpec{browser, phone}, Resisted, "",
			[]string{"either side"}, []string{srtpPhoneSide + " & tag cut & dropped", srtpPhoneSide + " & packets 37-202 sent normally"}},
		{"the phone side forwards the duplicate", []sideSpec{browser, with(phone, func(s *sideSpec) { s.extra = []uint32{srtpDupAt} })}, Vulnerable, Medium,
			[]string{srtpPhoneSide, "duplicate"}, []string{srtpPhoneSide + " & duplicate & FORWARDED & packet 47"}},
		{"the phone side forwards the old one", []sideSpec{browser, with(phone, func(s *sideSpec) { s.extra = []uint32{srtpOldOf} })}, Vulnerable, Medium,
			[]string{srtpPhoneSide, "100 indices later"}, []string{srtpPhoneSide + " & 100 indices later & FORWARDED"}},
		{"the phone side forwards a flipped tag", []sideSpec{browser, with(phone, func(s *sideSpec) { s.extra = []uint32{srtpFlipAt} })}, Vulnerable, High,
			[]string{srtpPhoneSide}, []string{srtpPhoneSide + " & flipped & FORWARDED"}},
		{"both sides forward", []sideSpec{with(browser, func(s *sideSpec) { s.extra = []uint32{srtpDupAt} }), with(phone, func(s *sideSpec) { s.extra = []uint32{srtpCutAt} })}, Vulnerable, High,
			[]string{srtpBrowserSide, srtpPhoneSide}, []string{srtpBrowserSide + " & FORWARDED", srtpPhoneSide + " & tag cut & FORWARDED"}},
		{"too little reaches the browser", []sideSpec{browser, with(phone, func(s *sideSpec) { s.missing = many(40, 60) })}, Inconclusive, "",
			[]string{srtpPhoneSide, "did not flow"}, []string{srtpPhoneSide + " & ordinary media"}},
		{"the phone's stream stalls", []sideSpec{browser, with(phone, func(s *sideSpec) { s.stalled = true })}, Inconclusive, "",
			[]string{srtpPhoneSide, "never reached"}, nil},
		{"a genuine copy never reached the browser", []sideSpec{browser, with(phone, func(s *sideSpec) { s.missing = []uint32{srtpOldOf} })}, Inconclusive, "",
			[]string{srtpPhoneSide, "genuine packets"}, []string{srtpPhoneSide + " & cannot be told apart"}},
		{"a forwarding side outweighs an undecided one", []sideSpec{with(browser, func(s *sideSpec) { s.extra = []uint32{srtpDupAt} }), with(phone, func(s *sideSpec) { s.stalled = true })}, Vulnerable, Medium,
			[]string{srtpBrowserSide}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sides []*srtpSide
			for _, s := range tc.sides {
				sides = append(sides, s.side(t))
			}
			o := srtpVerdict([]string{"call connected"}, sides)
			if o.Verdict != tc.verdict || o.Severity != tc.severity {
				t.Fatalf("verdict %s %q, want %s %q (reason %q)", o.Verdict, o.Severity, tc.verdict, tc.severity, o.Reason)
			}
			for _, r := range tc.reason {
				if !strings.Contains(o.Reason, r) {
					t.Errorf("reason %q lacks %q", o.Reason, r)
				}
			}
			for _, e := range tc.evidence {
				parts := strings.Split(e, " & ")
				if !slices.ContainsFunc(o.Evidence, func(line string) bool {
					return !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) })
				}) {
					t.Errorf("no evidence line with %q in:\n%s", parts, strings.Join(o.Evidence, "\n"))
				}
			}
			if tc.verdict == Vulnerable && o.Remediation == "" {
				t.Error("no remediation")
			}
		})
	}
}
