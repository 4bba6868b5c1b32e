package attack

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/rtp"
)

func markedRTP(t *testing.T, tag uint64, counter uint32) []byte {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(counter), SSRC: 7},
		Payload: media.AppendPayload(nil, media.PCMU, media.Mark{Tag: tag, Counter: counter, Sent: time.Now()}),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarkTally(t *testing.T) {
	tally := newMarkTally()
	for _, b := range [][]byte{
		markedRTP(t, 5, 0), markedRTP(t, 5, 1), markedRTP(t, 5, 1), markedRTP(t, 5, 9), markedRTP(t, 6, 2),
		{0x80, 200, 0, 1, 0, 0, 0, 7}, // RTCP sender report: not counted
		[]byte("SIP/2.0 200 OK\r\n\r\n"),
		{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3}, // RTP without a mark
	} {
		tally.observe(b)
	}
	tests := []struct {
		name      string
		got, want int
	}{
		{"counter 0 once", tally.count(5, 0), 1},
		{"counter 1 twice", tally.count(5, 1), 2},
		{"missing counter", tally.count(5, 2), 0},
		{"other stream", tally.count(6, 2), 1},
		{"distinct 0-9", tally.distinct(5, 0, 9), 3},
		{"distinct 1-1", tally.distinct(5, 1, 1), 1},
		{"distinct of an unknown tag", tally.distinct(8, 0, 100), 0},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, tc.got, tc.want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !tally.waitFor(ctx, nil, 5, 9) {
		t.Error("waitFor(9) false though counter 9 arrived")
	}
	stop := make(chan struct{})
	close(stop)
	if tally.waitFor(ctx, stop, 5, 10) {
		t.Error("waitFor(10) true though only counter 9 arrived")
	}
	got := make(chan bool, 1)
	go func() { got <- tally.waitFor(ctx, nil, 6, 3) }()
	tally.observe(markedRTP(t, 6, 3))
	if !<-got {
		t.Error("waitFor did not wake up for the packet it waited for")
	}
}

func TestWorse(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"", Medium, Medium},
		{Medium, High, High},
		{High, Medium, High},
		{Low, "", Low},
		{Info, Low, Low},
	}
	for _, tc := range tests {
		if got := worseSeverity(tc.a, tc.b); got != tc.want {
			t.Errorf("worseSeverity(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
