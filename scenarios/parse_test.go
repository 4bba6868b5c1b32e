package scenarios

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadExamples(t *testing.T) {
	smoke, err := Load("smoke.yaml")
	if err != nil {
		t.Fatalf("smoke.yaml: %v", err)
	}
	if smoke.Name != "smoke" || smoke.Load.Calls != 10 || smoke.Load.Concurrency != 5 || smoke.Load.Rate != PerSecond(5) {
		t.Errorf("smoke: got name %q calls %d concurrency %d rate %s", smoke.Name, smoke.Load.Calls, smoke.Load.Concurrency, smoke.Load.Rate)
	}
	if got := smoke.Flows[0].Hold; got != FixedHold(3*time.Second) {
		t.Errorf("smoke hold = %s, want 3s", got)
	}
	if limit, computed := smoke.RunLimit(); limit != 2*time.Minute || computed {
		t.Errorf("smoke RunLimit = %s, %v; want 2m0s from the file", limit, computed)
	}
	if smoke.Seed != nil {
		t.Errorf("smoke has no seed, got %d", *smoke.Seed)
	}

	big, err := Load("load-1000.yaml")
	if err != nil {
		t.Fatalf("load-1000.yaml: %v", err)
	}
	if big.Load.Calls != 1000 || big.Load.Concurrency != 100 || big.Load.Rate != PerSecond(20) {
		t.Errorf("load-1000: got calls %d concurrency %d rate %s", big.Load.Calls, big.Load.Concurrency, big.Load.Rate)
	}
	if want := (Hold{Min: 15 * time.Second, Max: 25 * time.Second}); big.Flows[0].Hold != want {
		t.Errorf("load-1000 hold = %s, want %s", big.Flows[0].Hold, want)
	}
	if big.Seed == nil || *big.Seed != 1000 {
		t.Errorf("load-1000 seed = %v, want 1000", big.Seed)
	}
	// register 5s + 999 arrivals at 20/s (49.95s) + 10 waves * (15s + 25s + 5s).
	if limit, computed := big.RunLimit(); limit != 505*time.Second || !computed {
		t.Errorf("load-1000 RunLimit = %s, %v; want 8m25s computed", limit, computed)
	}
	ts, err := big.ParseThresholds()
	if err != nil || len(ts) != 4 || ts[3].Metric != "mos.p5" || ts[0].Default {
		t.Errorf("load-1000 thresholds = %+v, %v", ts, err)
	}
}

func TestParseDefaults(t *testing.T) {
	s, err := Parse("min.yaml", []byte(`
name: min
populations:
  - {name: browsers, kind: webrtc, count: 2}
  - {name: phones, kind: sip, count: 2}
flows:
  - {name: f, from: browsers, to: phones, hold: 1s}
load: {calls: 1, concurrency: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, p := s.Populations[0], s.Populations[1]
	if !equal(b.Codecs, DefaultCodecs(KindWebRTC)) || !equal(b.SRTPProfiles, DefaultSRTPProfiles()) || b.DTLSSetup != DTLSSetupActpass {
		t.Errorf("webrtc defaults: %+v", b)
	}
	if !equal(p.Codecs, DefaultCodecs(KindSIP)) || p.SRTPProfiles != nil || p.DTLSSetup != "" {
		t.Errorf("sip defaults: %+v", p)
	}
	if f := s.Flows[0]; f.Weight != 1 || f.Hangup != HangupCaller {
		t.Errorf("flow defaults: %+v", f)
	}
	if s.Timeouts != DefaultTimeouts() || s.Thresholds != nil || !s.Load.Rate.IsZero() {
		t.Errorf("defaults: timeouts %+v thresholds %v rate %s", s.Timeouts, s.Thresholds, s.Load.Rate)
	}
	ts, err := s.ParseThresholds()
	if err != nil || len(ts) != 2 || !ts[0].Default || ts[0].Expr != "ice.success_rate >= 0.99" {
		t.Errorf("default thresholds = %+v, %v", ts, err)
	}
	if _, ok := s.Pacer().(limitPacer).p.(Unpaced); !ok {
		t.Errorf("no rate should pace as Unpaced, got %#v", s.Pacer())
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// badCase is one file of testdata/bad*: the exact errors it must give, each
// as "line:col: path: " followed by the start of the message, and the
// sentinel the first one wraps.
type badCase struct {
	file string
	want []string
	is   error
}

func TestBadScenarios(t *testing.T) {
	cases := []badCase{
		{"negative-count", []string{`9:5: populations[1].count: must be >= 1, got -3`}, ErrRange},
		{"zero-concurrency", []string{`17:3: load.concurrency: must be >= 1, got 0`}, ErrRange},
		{"stages-and-concurrency", []string{`17:3: load.stages: stages ramp the concurrency: give stages or concurrency, not both`}, ErrConflict},
		{"duration-without-rate", []string{`17:3: load.duration: a duration needs a rate`}, ErrConflict},
		{"stage-negative", []string{`18:8: load.stages[1].duration: must be > 0, got 0s`, `18:22: load.stages[1].concurrency: must be in 0..1000000, got -4`}, ErrRange},
		{"share-without-users", []string{`4:36: populations[0].share: a share needs the scenario's users`}, ErrRequired},
		{"shares-over-100", []string{`4:1: populations: population shares add up to 110%, more than 100%`}, ErrRange},
		{"stages-all-zero", []string{`17:3: load.stages: every stage ramps to 0 calls`}, ErrRange},
		{"unknown-field", []string{
			`15:1: load.concurrency: required`,
			`17:3: load.concurency: unknown field (did you mean "concurrency"?); known: calls, concurrency, rate, duration, stages, max_duration`,
		}, ErrRequired},
		{"unknown-population", []string{`13:5: flows[0].to: unknown population "handsets"; populations: "browsers", "phones"`}, ErrUnknownName},
		{"from-sip", []string{`12:5: flows[0].from: calls must start from a webrtc population for now`}, ErrUnsupported},
		{"bare-hold", []string{`14:5: flows[0].hold: want a duration with a unit (e.g. 3s), got the bare number 3`}, ErrType},
		{"bad-max-duration", []string{`18:3: load.max_duration: bad duration "2 minutes"`}, ErrSyntax},
		{"bad-rate", []string{`18:3: load.rate: bad rate "5/h": the unit after / must be s or m`}, ErrSyntax},
		{"bad-threshold", []string{`20:5: thresholds[1]: threshold "ice.success_rate => 0.99": no comparison`}, ErrSyntax},
		{"unknown-metric", []string{`19:5: thresholds[0]: threshold "ice.sucess_rate >= 0.99": unknown metric "ice.sucess_rate"`}, ErrUnknownName},
		{"unknown-codec", []string{`7:20: populations[0].codecs[1]: unknown codec "g729"; known: "opus", "pcmu", "pcma"`}, ErrUnknownName},
		{"unknown-srtp", []string{`9:9: populations[0].srtp_profiles[1]: unknown SRTP profile "SRTP_AES128_CM_SHA1_80" (did you mean "SRTP_AES128_CM_HMAC_SHA1_80"?)`}, ErrUnknownName},
		{"srtp-on-sip", []string{`10:5: populations[1].srtp_profiles: only webrtc populations use DTLS-SRTP; this one is sip`}, ErrConflict},
		{"duplicate-population", []string{`7:5: populations[1].name: duplicate population name "browsers" (first at populations[0], line 4)`}, ErrDuplicate},
		{"wrong-type", []string{`6:5: populations[0].count: want an integer, got the string "ten"`}, ErrType},
		{"hold-range", []string{`14:21: flows[0].hold.max: max 2s is below min 5s`}, ErrRange},
		{"missing-kind", []string{`4:5: populations[0].kind: required`}, ErrRequired},
		{"duplicate-key", []string{`10:5: populations[1].count: given twice (first at line 9)`}, ErrDuplicate},
		{"bad-dtls-setup", []string{`7:5: populations[0].dtls_setup: unknown DTLS setup "holdconn"; known: "actpass", "active", "passive"`}, ErrUnknownName},
		{"self-call", []string{`13:5: flows[0].to: a flow within one population needs count >= 2`}, ErrConflict},
		{"deadline-too-short", []string{`19:3: load.max_duration: 3s ends the run before the last of 4 calls is due at 1/s (at 3s)`}, ErrConflict},
		{"reserved-name", []string{`7:5: populations[1].name: "sip" is reserved`}, ErrConflict},
		{"bad-weight", []string{`14:5: flows[0].weight: must be >= 1, got 0`}, ErrRange},
		{"zero-timeout", []string{`19:3: timeouts.setup: must be > 0, got 0s`}, ErrRange},
		{"yaml-syntax", []string{`5: did not find expected '-' indicator`}, ErrSyntax},
		{"yaml-unclosed", []string{`6: did not find expected ',' or ']'`}, ErrSyntax},
		{"yaml-tab", []string{`5: found a tab character that violates indentation`}, ErrSyntax},
		{"empty", []string{`file is empty`}, ErrRequired},
		{"merge-key", []string{`5:5: populations[1]: YAML merge keys (<<) are not supported`}, ErrUnsupported},
		{"two-docs", []string{`2:1: more than one YAML document`}, ErrSyntax},
		{"not-a-mapping", []string{`1:1: want a mapping of fields at the top, got a list`}, ErrType},
		{"unknown-attack", []string{
			`9:11: attacks[0]: unknown attack "sip-floood" (did you mean "sip-flood"?)`,
			`9:32: attacks[2]: attack "torture" listed twice`,
		}, ErrUnknownName},
		{"bad-transport", []string{
			`4:46: populations[0].transport: webrtc populations speak SIP over the target's sip.ws`,
			`5:41: populations[1].transport: unknown transport "sctp"`,
		}, ErrConflict},
		{"unknown-nat", []string{`4:46: populations[0].nat: unknown NAT type "symetric" (did you mean "symmetric"?)`}, ErrUnknownName},
		{"bad-loss", []string{`8:7: populations[0].network.loss: must be 0% to 100%, got 120%`}, ErrRange},
		{"late-action", []string{
			`12:10: flows[0].actions[0].at: ends at 11s, not before the shortest hold (10s)`,
			`13:9: flows[0].actions[1].digits: want 1 to 32 of 0-9 * # A-D, got ""`,
		}, ErrRange},
		{"direct-to-sip", []string{`7:33: flows[0].to: a direct (signaling: direct) population calls only direct ones`}, ErrConflict},
		{"room-size-range", []string{`10:5: flows[0].room_size: must be 2..8 (every pair of participants has its own leg), got 12`}, ErrRange},
		{"room-size-zero", []string{`6:53: flows[0].room_size: must be 2..8 (every pair of participants has its own leg), got 0`}, ErrRange},
		{"room-size-on-sip", []string{`10:5: flows[0].room_size: rooms are joined by a rooms population (signaling: rooms); "browsers" has signaling sip`}, ErrConflict},
		{"rooms-in-call-flow", []string{
			`7:38: flows[0].to: population "peers" joins rooms (signaling: rooms): nobody calls it`,
			`8:24: flows[1].from: population "peers" joins rooms (signaling: rooms): its flows place rooms, so give room_size (2..8) and to: "peers"`,
		}, ErrConflict},
		{"room-two-populations", []string{`7:32: flows[0].to: a room's participants all come from one population: to must be "peers", as from`}, ErrConflict},
		{"room-too-few-users", []string{`6:53: flows[0].room_size: a room of 3 needs 3 users of its own (each on its own address); "peers" has 2`}, ErrConflict},
		{"rooms-on-sip-kind", []string{`4:41: populations[0].signaling: only webrtc populations use ICE; this one is sip (plain RTP)`}, ErrConflict},
		{"room-misfits", []string{
			`8:5: populations[0].turn: room participants get TURN credentials from the rooms service`,
			`9:5: populations[0].dtls_setup: room participants offer a=setup:actpass; leave dtls_setup out`,
			`16:5: flows[0].actions: mid-call actions use SIP re-INVITEs; room participants have no SIP`,
		}, ErrConflict},
		{"room-join-spread", []string{
			`8:67: flows[0].join_spread: must be >= 0 (0: each joins as soon as the one before is in), got -1s`,
			`9:82: flows[1].join_spread: 3s is longer than the shortest hold (2s): a room would take longer to fill than it is held`,
			`10:57: flows[2].join_spread: join_spread spreads the joins of a room's participants; this flow places calls`,
		}, ErrRange},
		{"unknown-signaling", []string{`4:43: populations[0].signaling: unknown signaling "room" (did you mean "rooms"?); known: "sip", "direct", "rooms"`}, ErrUnknownName},
		{"multiple", []string{
			`6:5: populations[0].count: must be >= 1, got 0`,
			`7:20: populations[0].codecs[1]: unknown codec "speex"`,
			`9:5: populations[1].kind: unknown kind "desk"; known: "webrtc", "sip"`,
			`15:5: flows[0].hold.max: required: a hold range needs both min and max`,
			`16:5: flows[0].hangup: unknown hangup "nobody"`,
			`18:3: load.calls: must be <= 1000000, got 2000000`,
			`19:3: load.concurrency: must be >= 1, got -1`,
			`20:1: extra: unknown field; known: name, description, seed`,
		}, ErrRange},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "bad", c.file+".yaml"))
			checkBad(t, filepath.Join("testdata", "bad", c.file+".yaml"), c, err)
		})
	}
}

// checkBad asserts that err is an *Errors holding exactly c.want, in order.
func checkBad(t *testing.T, path string, c badCase, err error) {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v (%T), want *Errors", err, err)
	}
	if len(errs.List) != len(c.want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs.List), len(c.want), err)
	}
	for i, w := range c.want {
		want := path + ":" + w
		if w == "file is empty" {
			want = path + ": " + w
		}
		if got := errs.List[i].Error(); !strings.HasPrefix(got, want) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got, want)
		}
	}
	if !errors.Is(err, c.is) {
		t.Errorf("errors.Is(err, %v) = false; err:\n%v", c.is, err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe != errs.List[0] {
		t.Errorf("errors.As(*FieldError) did not find the first error")
	}
}

func TestValidateCodeBuilt(t *testing.T) {
	s := &Scenario{
		Name:        "code",
		Populations: []Population{NewPopulation("b", KindWebRTC, 2), NewPopulation("p", KindSIP, 2)},
		Flows:       []Flow{{Name: "f", From: "b", To: "p", Weight: 1, Hold: FixedHold(time.Second), Hangup: HangupCallee}},
		Load:        LoadSpec{Calls: 3, Concurrency: 1, Rate: PerSecond(2)},
		Timeouts:    DefaultTimeouts(),
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid scenario: %v", err)
	}
	s.Load.Concurrency = 0
	s.Thresholds = []string{}
	s.Populations[1].DTLSSetup = DTLSSetupActive
	err := s.Validate()
	want := []string{
		`populations[1].dtls_setup: only webrtc populations use DTLS`,
		`load.concurrency: must be >= 1, got 0`,
		`thresholds: empty list`,
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != len(want) {
		t.Fatalf("got %v, want %d errors", err, len(want))
	}
	for i, w := range want {
		if got := errs.List[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("error %d = %q, want prefix %q (no file, no line)", i, got, w)
		}
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want Rate
		err  string
	}{
		{"5/s", Rate{5, time.Second}, ""},
		{"30/m", Rate{30, time.Minute}, ""},
		{" 20 / s ", Rate{20, time.Second}, ""},
		{"5", Rate{}, `bad rate "5": want N/s or N/m`},
		{"5/h", Rate{}, `the unit after / must be s or m`},
		{"0/s", Rate{}, `must be at least 1 call per s`},
		{"-2/s", Rate{}, `must be at least 1 call per s`},
		{"0.5/s", Rate{}, `want a whole number of calls; write 30/m`},
		{"1.5/m", Rate{}, `want a whole number of calls before the /`},
		{"x/s", Rate{}, `want a whole number of calls before the /`},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if c.err == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseRate(%q) error = %v, want it to contain %q", c.in, err, c.err)
		}
		if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrRange) {
			t.Errorf("ParseRate(%q) error %v wraps neither ErrSyntax nor ErrRange", c.in, err)
		}
	}
}

func TestSharesBecomeCounts(t *testing.T) {
	s, err := Parse("share.yaml", []byte(`name: ok
users: 20
populations:
  - {name: full-cone, kind: webrtc, share: 60%}
  - {name: symmetric, kind: webrtc, share: 0.15}
  - {name: phones, kind: sip, count: 5}
flows:
  - {name: a, from: full-cone, to: phones, hold: 1s}
  - {name: b, from: symmetric, to: phones, hold: 1s}
load: {calls: 4, concurrency: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"full-cone": 12, "symmetric": 3, "phones": 5} {
		if p, _ := s.Population(name); p.Count != want {
			t.Errorf("%s: count %d, want %d", name, p.Count, want)
		}
	}
}
