package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// participant returns an ok room record: joined, relayed, hearing each
// other participant with the given MOS.
func participant(room, id string, size int, mos ...float64) Result {
	r := Result{
		Kind: KindRoom, ID: room + "/" + id, From: id, Outcome: OutcomeOK,
		Phases: Phases{SignalingMS: 80, ICEMS: 100, DTLSMS: 30, FirstMediaMS: 40, TotalMS: 400},
		ICE: ICE{SDPExchanged: true, Connected: true, Relay: true, Policy: "relay",
			LocalCandidate: "relay", RemoteCandidate: "relay", RelayProtocol: "udp"},
		Security: Security{DTLSVersion: "DTLS 1.2"},
		Codec:    "opus/48000/2",
		Room:     &Room{ID: room, Participant: id, Size: size, Peers: len(mos), JoinMS: 80, FirstAudioMS: 400, Inspected: 10},
	}
	for i, m := range mos {
		r.Media = append(r.Media, Direction{Name: fmt.Sprintf("p%d->%s", i, id), Sent: 100, Received: 99, Lost: 1,
			LossPct: 1, JitterMS: 3, DelayMS: 25, MOS: m, Audio: true})
	}
	return r
}

// failedParticipant returns a failed room record that joined and whose
// ICE did not connect.
func failedParticipant(room, id, cause string) Result {
	return Result{
		Kind: KindRoom, ID: room + "/" + id, From: id, Outcome: OutcomeFailed, Cause: cause, Error: "leg failed",
		ICE:  ICE{SDPExchanged: true},
		Room: &Room{ID: room, Participant: id, Size: 2, JoinMS: 90, Inspected: 4},
	}
}

func leaks(kind string, n int) []Leak {
	out := make([]Leak, n)
	for i := range out {
		out[i] = Leak{Kind: kind, From: "x", Where: "candidate message", Text: fmt.Sprintf("leak %d token=eyJhbGciOiJIUzI1NiJ9.e30.sig", i)}
	}
	return out
}

func TestRoomsSummary(t *testing.T) {
	tests := []struct {
		name  string
		recs  []Result
		check func(t *testing.T, s *Summary)
	}{
		{"no room records, no section", []Result{call("a")}, func(t *testing.T, s *Summary) {
			if s.Rooms != nil {
				t.Fatalf("rooms = %+v", s.Rooms)
			}
			if _, ok := s.Metric("rooms.leaks"); ok {
				t.Error("rooms.leaks has data without room records")
			}
		}},
		{"participants by outcome, rooms counted once", []Result{
			participant("r1", "a", 2, 4.4), participant("r1", "b", 2, 4.3),
			participant("r2", "c", 3, 4.4), failedParticipant("r2", "d", CauseICE),
			with(failedParticipant("r2", "e", CauseCanceled), func(r *Result) { r.Room.JoinMS = 0 }),
		}, func(t *testing.T, s *Summary) {
			r := s.Rooms
			got := [7]int{r.Count, r.Complete, r.Participants, r.Joined, r.OK, r.Failed, r.Canceled}
			if want := [7]int{2, 1, 5, 4, 3, 1, 1}; got != want {
				t.Fatalf("count, complete, participants, joined, ok, failed, canceled = %v, want %v", got, want)
			}
			if len(r.Failures) != 1 || r.Failures[0].Cause != CauseICE || r.Failures[0].Examples[0] != "r2/d" {
				t.Errorf("failures = %+v", r.Failures)
			}
		}},
		{"a room short of its size is not complete", []Result{
			participant("r1", "a", 3, 4.4), participant("r1", "b", 3, 4.4),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "rooms.complete", s.Rooms.Complete, 0)
		}},
		{"ice over participants", []Result{
			participant("r", "a", 2, 4.4), participant("r", "b", 2, 4.4),
			with(participant("r", "c", 2, 4.4), func(r *Result) { r.ICE.Relay = false; r.ICE.RelayProtocol = "" }),
			with(participant("r", "d", 2, 4.4), func(r *Result) { r.ICE.RelayProtocol = "tls" }),
			failedParticipant("r", "e", CauseICE),
			with(failedParticipant("r", "f", CauseSignaling), func(r *Result) { r.ICE.SDPExchanged = false }),
		}, func(t *testing.T, s *Summary) {
			i := s.Rooms.ICE
			wantF(t, "rooms.ice.success_rate", i.SuccessRate, 4.0/5)
			wantF(t, "rooms.ice.relay_ratio", i.RelayRatio, 3.0/4)
			if want := map[string]int{"udp": 2, "tls": 1}; !reflect.DeepEqual(i.RelayProtocol, want) {
				t.Errorf("relay protocols = %v, want %v", i.RelayProtocol, want)
			}
		}},
		{"expected outcomes over participants", []Result{
			with(participant("r", "a", 2, 4.4), func(r *Result) { r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected = "symmetric", "symmetric", "relay" }),
			with(participant("r", "b", 2, 4.4), func(r *Result) {
				r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected, r.ICE.Relay = "symmetric", "symmetric", "relay", false
			}),
			with(failedParticipant("r", "c", CauseCanceled), func(r *Result) { r.ICE.Expected = "relay" }),
			participant("r", "d", 2, 4.4),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "rooms.ice.expected", s.Rooms.ICE.Expected, 2)
			wantI(t, "rooms.ice.unexpected", s.Rooms.ICE.Unexpected, 1)
			if got, ok := s.Metric("rooms.ice.unexpected"); !ok || got != 1 {
				t.Errorf("metric rooms.ice.unexpected = %v, want 1", got)
			}
		}},
		{"mos is the lowest direction toward each ok participant", []Result{
			participant("r", "a", 3, 4.4, 3.9), participant("r", "b", 3, 0, 4.2), participant("r", "c", 3, 4.1, 4.3),
			with(participant("r", "d", 3, 1.0), func(r *Result) { r.Outcome, r.Cause = OutcomeFailed, CauseMedia }),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "rooms.mos.n", s.Rooms.MOS.N, 3)
			wantF(t, "rooms.mos.p50", s.Rooms.MOS.P50, 4.1)
			wantF(t, "rooms.mos.p5", s.Rooms.MOS.P5, 3.9)
		}},
		{"join and first audio where reached", []Result{
			with(participant("r", "a", 2, 4.4), func(r *Result) { r.Room.JoinMS, r.Room.FirstAudioMS = 50, 300 }),
			with(participant("r", "b", 2, 4.4), func(r *Result) { r.Room.JoinMS, r.Room.FirstAudioMS = 70, 500 }),
			failedParticipant("r", "c", CauseICE),
			with(failedParticipant("r", "d", CauseUnreachable), func(r *Result) { r.Room.JoinMS = 0 }),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "rooms.join_ms.n", s.Rooms.JoinMS.N, 3)
			wantF(t, "rooms.join_ms.p95", s.Rooms.JoinMS.P95, 90)
			wantI(t, "rooms.first_audio_ms.n", s.Rooms.FirstAudioMS.N, 2)
			wantF(t, "rooms.first_audio_ms.p95", s.Rooms.FirstAudioMS.P95, 500)
		}},
		{"media and audio over the directions toward participants", []Result{
			participant("r", "a", 2, 4.4),
			with(participant("r", "b", 2, 4.4), func(r *Result) { r.OneWayAudio = true }),
			with(participant("r", "c", 2), func(r *Result) { r.NoAudio = true }),
		}, func(t *testing.T, s *Summary) {
			m := s.Rooms.Media
			wantI(t, "loss n", m.LossPct.N, 2)
			wantI(t, "one-way audio", m.OneWayAudio, 1)
			wantI(t, "no audio", m.NoAudio, 1)
			wantF(t, "jitter p95", m.JitterMS.P95, 3)
		}},
		{"leaks counted, examples capped per kind and redacted", []Result{
			with(participant("r", "a", 2, 4.4), func(r *Result) { r.Room.Leaks = leaks("host-candidate", MaxLeakExamples+2) }),
			with(participant("r", "b", 2, 4.4), func(r *Result) { r.Room.Leaks = append(leaks("raddr", 1), leaks("host-candidate", 1)...) }),
			participant("r", "c", 2, 4.4),
		}, func(t *testing.T, s *Summary) {
			r := s.Rooms
			wantI(t, "rooms.leaks", r.Leaks, MaxLeakExamples+4)
			wantI(t, "leaky participants", r.LeakyParticipants, 2)
			wantI(t, "inspected", r.Inspected, 30)
			if want := map[string]int{"host-candidate": MaxLeakExamples + 3, "raddr": 1}; !reflect.DeepEqual(r.LeaksByKind, want) {
				t.Errorf("by kind = %v, want %v", r.LeaksByKind, want)
			}
			var kinds []string
			for _, l := range r.LeakExamples {
				kinds = append(kinds, l.Room+"/"+l.Participant+" "+l.Kind)
				if strings.Contains(l.Text, "eyJ") {
					t.Errorf("leak text not redacted: %q", l.Text)
				}
			}
			want := []string{"r/a host-candidate", "r/a host-candidate", "r/a host-candidate", "r/b raddr"}
			if !reflect.DeepEqual(kinds, want) {
				t.Errorf("examples = %q, want %q", kinds, want)
			}
		}},
		{"rooms stay out of the call figures", []Result{
			call("c1", 4.4), participant("r", "a", 2, 3.0), failedParticipant("r", "b", CauseICE),
		}, func(t *testing.T, s *Summary) {
			wantI(t, "calls.attempted", s.Calls.Attempted, 1)
			wantI(t, "ice.sdp_exchanged", s.ICE.SDPExchanged, 1)
			wantI(t, "mos.n", s.MOS.N, 1)
			wantI(t, "failures", len(s.Failures), 0)
			wantI(t, "loss n", s.Media.LossPct.N, 1)
			wantI(t, "host/host pairs", s.Negotiated.CandidatePair["host/host"], 1)
			wantI(t, "relay/relay pairs", s.Negotiated.CandidatePair["relay/relay"], 0)
			wantI(t, "dtls versions (calls and rooms)", s.Negotiated.DTLSVersion["DTLS 1.2"], 1)
			wantI(t, "codecs (calls and rooms)", s.Negotiated.Codec["opus/48000/2"], 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, summarize(tt.recs)) })
	}
}

func TestRoomsNegotiatedAndRelayProtocol(t *testing.T) {
	c := with(call("c", 4.4), func(r *Result) {
		r.ICE.Relay, r.ICE.LocalCandidate, r.ICE.RelayProtocol = true, "relay", "tcp"
		r.Codec, r.Security.DTLSVersion = "PCMU/8000", "DTLS 1.2"
	})
	s := summarize([]Result{c, participant("r", "a", 2, 4.4)})
	n := s.Negotiated
	if !reflect.DeepEqual(n.RelayProtocol, map[string]int{"tcp": 1}) {
		t.Errorf("relay protocols = %v, want the call's only", n.RelayProtocol)
	}
	if !reflect.DeepEqual(n.Codec, map[string]int{"PCMU/8000": 1, "opus/48000/2": 1}) || n.DTLSVersion["DTLS 1.2"] != 2 {
		t.Errorf("codecs %v, DTLS %v: want the call's and the room's", n.Codec, n.DTLSVersion)
	}
}

func TestRoomsSummaryIsACopy(t *testing.T) {
	z := NewSummarizer(RunMeta{})
	z.Add(with(participant("r", "a", 2, 4.4), func(r *Result) { r.Room.Leaks = leaks("raddr", 1) }))
	z.Add(failedParticipant("r", "b", CauseICE))
	z.Add(with(call("c"), func(r *Result) { r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected = "a", "b", ICEDirect }))
	s := z.Summary()
	s.Rooms.LeaksByKind["raddr"] = 9
	s.Rooms.LeakExamples[0].Text = "mutated"
	s.Rooms.Failures[0].Examples[0] = "mutated"
	s.Rooms.ICE.RelayProtocol["udp"] = 9
	s.ICE.ByPairing["a/b"].Outcomes[ICEDirect] = 9
	again := z.Summary()
	if again.Rooms.LeaksByKind["raddr"] != 1 || again.Rooms.LeakExamples[0].Text == "mutated" ||
		again.Rooms.Failures[0].Examples[0] != "r/b" || again.Rooms.ICE.RelayProtocol["udp"] != 1 ||
		again.ICE.ByPairing["a/b"].Outcomes[ICEDirect] != 1 {
		t.Fatalf("a Summary shares state with the Summarizer: rooms %+v, pairings %+v", again.Rooms, again.ICE.ByPairing["a/b"])
	}
}

func TestFitDefaults(t *testing.T) {
	custom, _ := ParseThreshold("rooms.mos.p50 >= 4.3")
	rooms := &RoomsSummary{}
	tests := []struct {
		name string
		s    *Summary
		ts   []Threshold
		want string
	}{
		{"no rooms: the call defaults", &Summary{Calls: Calls{Attempted: 1}}, nil,
			"ice.success_rate >= 0.99|media.one_way_audio == 0"},
		{"no records at all: the call defaults", &Summary{}, nil,
			"ice.success_rate >= 0.99|media.one_way_audio == 0"},
		{"rooms alone: the room defaults", &Summary{Rooms: rooms}, nil,
			"rooms.ice.success_rate >= 0.99|rooms.media.one_way_audio == 0|rooms.leaks == 0"},
		{"the defaults as a scenario passes them", &Summary{Rooms: rooms}, DefaultThresholds(),
			"rooms.ice.success_rate >= 0.99|rooms.media.one_way_audio == 0|rooms.leaks == 0"},
		{"calls and rooms: both", &Summary{Calls: Calls{Attempted: 2}, Rooms: rooms}, nil,
			"ice.success_rate >= 0.99|media.one_way_audio == 0|rooms.ice.success_rate >= 0.99|rooms.media.one_way_audio == 0|rooms.leaks == 0"},
		{"a scenario's own thresholds are kept", &Summary{Rooms: rooms}, []Threshold{custom}, "rooms.mos.p50 >= 4.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, th := range FitDefaults(tt.s, tt.ts) {
				got = append(got, th.Expr)
				if th.Default != (th.Expr != custom.Expr) {
					t.Errorf("%s: Default = %v", th.Expr, th.Default)
				}
			}
			if strings.Join(got, "|") != tt.want {
				t.Fatalf("thresholds = %q, want %s", got, tt.want)
			}
		})
	}
	// A healthy rooms-only run passes its defaults, a leak fails them.
	ok := summarize([]Result{participant("r", "a", 2, 4.4), participant("r", "b", 2, 4.4)})
	if ok.Status != StatusPass || len(ok.Thresholds) != 3 {
		t.Errorf("healthy rooms run: %s, thresholds %+v", ok.Status, ok.Thresholds)
	}
	leaky := summarize([]Result{with(participant("r", "a", 2, 4.4), func(r *Result) { r.Room.Leaks = leaks("raddr", 1) })})
	if leaky.Status != StatusFail || leaky.Thresholds[2].OK {
		t.Errorf("leaky rooms run: %s, thresholds %+v", leaky.Status, leaky.Thresholds)
	}
}

func TestHTMLPairings(t *testing.T) {
	got := newHTMLPairings(map[string]*PairingStat{
		"symmetric/symmetric": {Expected: ICERelay, Outcomes: map[string]int{ICERelay: 3, ICEFail: 1}},
		"none/none":           {Expected: ICEDirect, Outcomes: map[string]int{ICEDirect: 2}},
		"odd/odd":             {Expected: ICEFail, Outcomes: map[string]int{"weird": 1}},
	})
	var rows []string
	for _, p := range got {
		row := fmt.Sprintf("%s %s %v", p.Key, p.Class, p.Mismatch)
		for _, o := range p.Outcomes {
			row += fmt.Sprintf(" %d%s", o.N, map[bool]string{true: "!", false: ""}[o.Miss])
		}
		rows = append(rows, row)
	}
	want := []string{
		"none/none ok false 2 0 0",
		"odd/odd bad true 0 0 0",
		"symmetric/symmetric bad true 0 3 1!",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %q, want %q", rows, want)
	}
}

func TestCompareRooms(t *testing.T) {
	rooms := func(ok, failed, leaked int) *Summary {
		var rs []Result
		for i := range ok {
			rs = append(rs, participant("r", fmt.Sprint("ok", i), 2, 4.4))
		}
		for i := range failed {
			rs = append(rs, failedParticipant("r", fmt.Sprint("f", i), CauseICE))
		}
		if leaked > 0 {
			rs = append(rs, with(participant("r", "leaky", 2, 4.4), func(r *Result) { r.Room.Leaks = leaks("raddr", leaked) }))
		}
		return summarize(rs)
	}
	row := func(c Comparison, name string) CompareRow {
		for _, r := range c.Rows {
			if r.Name == name {
				return r
			}
		}
		t.Fatalf("no row %s in %+v", name, c.Rows)
		return CompareRow{}
	}
	c := Compare(rooms(100, 0, 0), rooms(60, 40, 1), CompareOptions{})
	for name, want := range map[string]Change{
		"rooms.failed": ChangeRegression, "rooms.ice.success_rate": ChangeRegression, "rooms.leaks": ChangeRegression,
		"rooms.participants": ChangeInfo, "rooms.mos.p50": ChangeSame,
	} {
		if got := row(c, name); got.Change != want {
			t.Errorf("%s: %s (%s), want %s", name, got.Change, got.Why, want)
		}
	}
	if r := row(Compare(rooms(10, 0, 2), rooms(10, 0, 1), CompareOptions{}), "rooms.leaks"); r.Change != ChangeImproved {
		t.Errorf("fewer leaks: %s", r.Change)
	}
	for _, r := range Compare(summarize([]Result{call("a")}), summarize([]Result{call("a")}), CompareOptions{}).Rows {
		if strings.HasPrefix(r.Name, "rooms.") {
			t.Errorf("row %s compared between runs without rooms", r.Name)
		}
	}
}

func TestJUnitRooms(t *testing.T) {
	suites := func(s *Summary) map[string]junitSuite {
		var buf bytes.Buffer
		if err := WriteJUnit(&buf, s); err != nil {
			t.Fatal(err)
		}
		var doc junitSuites
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		m := map[string]junitSuite{}
		for _, st := range doc.Suites {
			m[st.Name] = st
		}
		return m
	}
	if _, ok := suites(summarize([]Result{call("a")}))["rooms"]; ok {
		t.Error("a rooms suite without room records")
	}
	clean := suites(summarize([]Result{participant("r", "a", 2, 4.4), participant("r", "b", 2, 4.4)}))["rooms"]
	if clean.Failures != 0 || len(clean.Cases) != 2 || clean.Cases[1].Name != "no address leaked" {
		t.Errorf("clean rooms suite: %+v", clean)
	}
	leaky := suites(summarize([]Result{with(participant("r", "a", 2, 4.4), func(r *Result) {
		r.Room.Leaks = append(leaks("raddr", 2), leaks("host-candidate", 1)...)
	})}))["rooms"]
	var names []string
	for _, c := range leaky.Cases {
		if c.Failure != nil {
			names = append(names, c.Name+": "+c.Failure.Message[:strings.Index(c.Failure.Message, ":")])
		}
	}
	if want := []string{"leak: host-candidate: 1 host-candidate leaks", "leak: raddr: 2 raddr leaks"}; !reflect.DeepEqual(names, want) {
		t.Errorf("failed cases = %q, want %q", names, want)
	}
}

func TestConsoleLines(t *testing.T) {
	plain := strings.Join(ConsoleLines(summarize([]Result{call("a")})), "\n")
	for _, absent := range []string{"rooms", "nat pairing"} {
		if strings.Contains(plain, absent) {
			t.Errorf("console shows %q for a run of one plain call:\n%s", absent, plain)
		}
	}
	s := summarize([]Result{
		with(call("a"), func(r *Result) { r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected = "none", "none", ICEDirect }),
		with(failed("b", CauseICE), func(r *Result) { r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected = "full-cone", "none", ICEDirect }),
		participant("r", "p", 2, 4.4),
	})
	out := strings.Join(ConsoleLines(s), "\n")
	for _, want := range []string{
		"  nat pairings 1 of 2 calls ended otherwise than the pairing table expects",
		"  nat pairing  MISMATCH full-cone/none  expected direct  seen fail 1",
		"  rooms        1 rooms (0 complete)  participants 1  joined 1  ok 1  failed 0  canceled 0",
		"  rooms ice    success 100.0%  relay ratio 1.000",
		"  rooms leaks  0 in 10 messages inspected",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "none/none") {
		t.Errorf("console lists a pairing that ended as expected:\n%s", out)
	}
}

func TestHTMLRooms(t *testing.T) {
	page := func(rs ...Result) string {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, summarize(rs)); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if p := page(call("a")); strings.Contains(p, `id="rooms"`) || strings.Contains(p, `id="nat-pairings"`) {
		t.Error("a run of calls without NAT pairings shows a rooms section or a pairing table")
	}
	clean := page(participant("r", "a", 2, 4.4), participant("r", "b", 2, 4.4))
	for _, want := range []string{`id="rooms"`, "No address leaked in 20 signaling messages inspected.", "No participant failed.",
		`<div class="tile-label">Room relay ratio</div>`, "2 of 2 ICE-connected · udp 2"} {
		if !strings.Contains(clean, want) {
			t.Errorf("clean rooms page lacks %q", want)
		}
	}
	leaky := page(with(participant("r", "a", 2, 4.4), func(r *Result) { r.Room.Leaks = leaks("raddr", MaxLeakExamples+1) }))
	for _, want := range []string{"4 addresses reached 1 participants in 10 signaling messages inspected: raddr 4.",
		"Up to 3 shown", `<div class="tile bad">` + "\n      <div class=\"tile-label\">Leaks</div>"} {
		if !strings.Contains(leaky, want) {
			t.Errorf("leaky rooms page lacks %q", want)
		}
	}
	pairing := page(with(failed("b", CauseICE), func(r *Result) { r.ICE.NAT, r.ICE.PeerNAT, r.ICE.Expected = "full-cone", "none", ICEDirect }))
	if !strings.Contains(pairing, `<tr class="bad"><td><code>full-cone/none</code></td><td>direct</td>`) || !strings.Contains(pairing, "MISMATCH") {
		t.Error("a mismatched NAT pairing is not highlighted")
	}
}
