package media_test

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// groundTruth is what the receiver's impairment layer says about one
// direction, over the packets the receiver's figures cover.
type groundTruth struct {
	offered   int // RTP packets that reached the layer
	first     int // index of the first packet the receiver counted (its RFC 3550 base)
	last      int // index of the highest it counted (base + expected - 1)
	tail      int // packets offered after last: held at hang-up
	dropped   int // dropped by the layer between first and last
	delivered int // released by the layer between first and last
	held      int // between first and last, neither dropped nor released
	lossPct   float64
	delayMS   float64 // mean of released - offered over the delivered: the delay the layer added
	oneWayMS  float64 // mean of released here - offered to the sender's layer: the whole one-way delay (*)
	jitterMS  float64 // RFC 3550 A.8 over the release times of the delivered
	// (*) Over the packets sent after the first one reached the receiver,
	// as the receiver's figure is (media.Receiver): the ones sent before
	// waited for the path to come up.
}

// rtpArrived returns the layer's records of the RTP packets that reached
// the agent (not the copies it made), in the order they came: the sender
// numbers them consecutively and the path keeps the order (truthFor checks
// both), so the index is the extended sequence number from the first.
func rtpArrived(log *impair.Log) []impair.Record { return rtpRecords(log, impair.In) }

func rtpRecords(log *impair.Log, dir impair.Dir) []impair.Record {
	var out []impair.Record
	for _, r := range log.Records() {
		if r.Dir == dir && r.RTP && !r.Copy {
			out = append(out, r)
		}
	}
	return out
}

// truthFor lines the receiver's layer's log up with a direction's record:
// the receiver's base is the first packet the layer let through, and it
// expected Received + Lost packets from there (there are no duplicates).
// The sender's log (its layer passes what it sends straight through, and
// logs it) says when each packet left, by sequence number.
func truthFor(rx, tx *impair.Log, d reports.Direction, clockRate uint32) (groundTruth, error) {
	left := map[uint16]time.Time{}
	for _, r := range rtpRecords(tx, impair.Out) {
		left[r.Seq] = r.Offered
	}
	recs := rtpArrived(rx)
	t := groundTruth{offered: len(recs), first: -1}
	for i, r := range recs {
		if i > 0 && r.Seq != recs[i-1].Seq+1 {
			return t, fmt.Errorf("the path lost or reordered a packet before the layer: sequence %d after %d (index %d)", r.Seq, recs[i-1].Seq, i)
		}
		if t.first < 0 && r.Dropped == "" {
			t.first = i
		}
	}
	if t.first < 0 {
		return t, fmt.Errorf("the layer let no packet through")
	}
	expected := d.Received + d.Lost
	t.last = t.first + expected - 1
	if t.last >= len(recs) {
		return t, fmt.Errorf("the receiver expected %d packets from index %d, %d reached the layer", expected, t.first, len(recs))
	}
	t.tail = len(recs) - 1 - t.last
	var covered []impair.Record
	var delay, oneWay time.Duration
	firstArrival := recs[t.first].Released
	oneWayN := 0
	for _, r := range recs[t.first : t.last+1] {
		switch {
		case r.Dropped != "":
			t.dropped++
		case r.Delivered():
			sent, ok := left[r.Seq]
			if !ok {
				return t, fmt.Errorf("sequence %d arrived but the sender's log has no record of it", r.Seq)
			}
			t.delivered++
			delay += r.Released.Sub(r.Offered)
			if !sent.Before(firstArrival) {
				oneWay += r.Released.Sub(sent)
				oneWayN++
			}
			covered = append(covered, r)
		default:
			t.held++
		}
	}
	t.lossPct = float64(t.dropped) / float64(expected) * 100
	if t.delivered > 0 {
		t.delayMS = ms(delay) / float64(t.delivered)
	}
	if oneWayN > 0 {
		t.oneWayMS = ms(oneWay) / float64(oneWayN)
	}
	t.jitterMS = rfc3550Jitter(covered, clockRate)
	return t, nil
}

// rfc3550Jitter applies RFC 3550 A.8 to packets released by the layer, in
// the order it released them.
func rfc3550Jitter(recs []impair.Record, clockRate uint32) float64 {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b impair.Record) int { return cmp.Compare(a.Released.UnixNano(), b.Released.UnixNano()) })
	var j float64
	for i := 1; i < len(recs); i++ {
		arrival := recs[i].Released.Sub(recs[i-1].Released).Seconds() * float64(clockRate)
		d := arrival - float64(int32(recs[i].Timestamp-recs[i-1].Timestamp))
		j += (math.Abs(d) - j) / 16
	}
	return j / float64(clockRate) * 1000
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
