package endpoint

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

const plainSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"

func TestSetDirection(t *testing.T) {
	for _, dir := range []string{"sendonly", "recvonly", "inactive", "sendrecv"} {
		out, err := setDirection([]byte(plainSDP), dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := sdpDirection(out); got != dir {
			t.Errorf("set %s: reads back %s:\n%s", dir, got, out)
		}
		if n := strings.Count(string(out), "a=send") + strings.Count(string(out), "a=recv") + strings.Count(string(out), "a=inactive"); n != 1 {
			t.Errorf("set %s: %d direction attributes", dir, n)
		}
	}
	if got := sdpDirection([]byte(strings.Replace(plainSDP, "a=sendrecv\r\n", "", 1))); got != "sendrecv" {
		t.Errorf("no attribute reads as %s, want sendrecv", got)
	}
	for in, want := range map[string]string{"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive", "sendrecv": "sendrecv"} {
		if got := mirror(in); got != want {
			t.Errorf("mirror(%s) = %s", in, got)
		}
	}
}

func TestTelephoneEvent(t *testing.T) {
	if got := tePT([]byte(plainSDP), 8000); got != 101 {
		t.Errorf("tePT 8000 = %d, want 101", got)
	}
	if got := tePT([]byte(plainSDP), 48000); got != -1 {
		t.Errorf("tePT 48000 = %d, want -1", got)
	}
	e := &Endpoint{cfg: Config{DTMF: true, Codecs: []media.Codec{media.Opus, media.PCMU}}}
	var names []string
	for _, c := range e.offerCodecs() {
		names = append(names, c.String())
	}
	if got := strings.Join(names, " "); got != "opus/48000/2 PCMU/8000 telephone-event/48000 telephone-event/8000" {
		t.Errorf("offer codecs %s", got)
	}
	answer := strings.Replace(strings.Replace(plainSDP, " 0 101", " 0", 1), "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n", "", 1)
	got := e.answerDTMF([]byte(answer), []byte(plainSDP), media.PCMU)
	if tePT(got, 8000) != 101 {
		t.Errorf("answer without the offer's telephone-event:\n%s", got)
	}
	e.cfg.DTMF = false
	if got := e.answerDTMF([]byte(answer), []byte(plainSDP), media.PCMU); string(got) != answer {
		t.Error("answer changed with DTMF off")
	}
}

// Audio and events share one sequence space once renumbered.
func TestRTPOutRenumbers(t *testing.T) {
	var seqs []uint16
	o := &rtpOut{send: func(p *rtp.Packet) error { seqs = append(seqs, p.SequenceNumber); return nil }}
	for i := range 3 {
		if err := o.write(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(500 + i), Timestamp: uint32(160 * i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.writeLocked(&rtp.Packet{Header: rtp.Header{PayloadType: 101}}, false); err != nil {
		t.Fatal(err)
	}
	if err := o.write(&rtp.Packet{Header: rtp.Header{SequenceNumber: 503, Timestamp: 480}}); err != nil {
		t.Fatal(err)
	}
	want := []uint16{500, 501, 502, 503, 504}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("sequence numbers %v, want %v", seqs, want)
		}
	}
	if o.lastTS != 480 {
		t.Errorf("last audio timestamp %d", o.lastTS)
	}
}

func TestICEUfrag(t *testing.T) {
	if got := iceUfrag([]byte("v=0\r\na=ice-ufrag:Ab+/\r\na=ice-pwd:x\r\n")); got != "Ab+/" {
		t.Errorf("iceUfrag = %q", got)
	}
	if got := iceUfrag([]byte(plainSDP)); got != "" {
		t.Errorf("iceUfrag of plain SDP = %q", got)
	}
}

// A far end's re-offers are answered with the direction mirrored and
// recorded, and the receiver is paused while the far end says it will not
// send (recvonly, inactive), whatever this leg's own hold says.
func TestAnswerReOffer(t *testing.T) {
	recv := media.NewReceiver(media.PCMU)
	recv.Observe(&rtp.Packet{Header: rtp.Header{SequenceNumber: 1, PayloadType: 0}, Payload: make([]byte, 160)}, time.Now())
	paused := func() bool { return recv.SilenceAt(time.Now().Add(time.Hour)) < time.Minute }
	var sent int
	sender := media.NewSender(media.PCMU, func(*rtp.Packet) error { sent++; return nil })
	sends := func() bool { before := sent; sender.Tick(time.Now()); return sent > before }
	l := &Leg{e: &Endpoint{cfg: Config{Kind: KindSIP}}, recv: recv, sender: sender, local: []byte(plainSDP)}
	for i, step := range []struct {
		offered string // the direction of the far end's re-offer
		own     string // or this leg's own hold ("+") or unhold ("-")
		answer  string
		paused  bool
		muted   bool // the leg sends nothing (it answered recvonly or inactive)
	}{
		{offered: "sendonly", answer: "recvonly", paused: false, muted: true},
		{offered: "inactive", answer: "inactive", paused: true, muted: true},
		{offered: "recvonly", answer: "sendonly", paused: true},
		{own: "+", paused: true},
		{offered: "sendrecv", answer: "sendrecv", paused: true}, // own hold still on
		{own: "-", paused: false},
		{offered: "inactive", answer: "inactive", paused: true, muted: true},
		{offered: "sendrecv", answer: "sendrecv", paused: false},
	} {
		switch step.own {
		case "+":
			l.pauseReceiver(pauseOwnHold, true)
		case "-":
			l.pauseReceiver(pauseOwnHold, false)
		default:
			offer, err := setDirection([]byte(plainSDP), step.offered)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := l.answerReOffer(offer)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := sdpDirection(answer); got != step.answer {
				t.Errorf("step %d: %s answered %s, want %s", i, step.offered, got, step.answer)
			}
		}
		if got := paused(); got != step.paused {
			t.Errorf("step %d: paused %v, want %v", i, got, step.paused)
		}
		if got := !sends(); got != step.muted {
			t.Errorf("step %d: muted %v, want %v", i, got, step.muted)
		}
	}
	var got []string
	for _, r := range l.Report().Reoffers {
		got = append(got, r.Direction)
		if r.Restart || r.At.IsZero() {
			t.Errorf("re-offer %+v", r)
		}
	}
	if want := "sendonly inactive recvonly sendrecv inactive sendrecv"; strings.Join(got, " ") != want {
		t.Errorf("recorded %q, want %q", strings.Join(got, " "), want)
	}
}

// The record lists both legs' re-offers in the order they came, each
// timed from its own leg's media up, even when the call failed.
func TestCombineReoffers(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	caller := LegReport{User: "web1000", Kind: KindWebRTC, Start: t0, Connected: t0.Add(100 * time.Millisecond),
		Reoffers: []Reoffer{{At: t0.Add(1100 * time.Millisecond), Direction: "sendonly"}, {At: t0.Add(3100 * time.Millisecond), Direction: "sendrecv"}}}
	callee := LegReport{User: "desk2000", Kind: KindSIP, Start: t0, Connected: t0.Add(200 * time.Millisecond),
		Reoffers: []Reoffer{{At: t0.Add(2200 * time.Millisecond), Direction: "sendrecv", Restart: true}}}
	r := Combine("c1", caller, &callee)
	want := []reports.Reoffer{
		{To: "caller", AtMS: 1000, Direction: "sendonly"},
		{To: "callee", AtMS: 2000, Direction: "sendrecv", Restart: true},
		{To: "caller", AtMS: 3000, Direction: "sendrecv"},
	}
	if !slices.Equal(r.Reoffers, want) {
		t.Fatalf("reoffers %+v, want %+v", r.Reoffers, want)
	}
	caller.Err, caller.Cause = errors.New("boom"), reports.CauseMedia
	if r := Combine("c2", caller, &callee); r.Outcome != reports.OutcomeFailed || len(r.Reoffers) != 3 {
		t.Fatalf("a failed call: outcome %s, %d reoffers; want failed, 3", r.Outcome, len(r.Reoffers))
	}
	if r := Combine("c3", LegReport{Start: t0}, nil); r.Reoffers != nil {
		t.Fatalf("no re-offers gave %+v, want none (omitted from the record)", r.Reoffers)
	}
}
