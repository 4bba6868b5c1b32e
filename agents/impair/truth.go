package impair

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// Dir is the direction of a datagram, seen from the agent.
type Dir int

// Directions.
const (
	In  Dir = iota // received by the agent
	Out            // sent by the agent
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// Record is the ground truth about one datagram the layer impaired.
type Record struct {
	Conn     int            // which wrapped socket, in the order Wrap saw them
	Dir      Dir            // In or Out
	Remote   netip.AddrPort // the far end (zero when unknown)
	Size     int
	Offered  time.Time // when the datagram reached the layer
	Dropped  string    // why it was dropped (DropLoss, DropBurst, DropQueue); "" when it went through
	Due      time.Time // when it was to be released; zero when dropped
	Released time.Time // when it was released; zero when dropped, or still held when the conn closed
	Copy     bool      // a duplicate the layer made

	// RTP header fields, readable in the clear even under SRTP, when the
	// datagram looks like RTP (see IsRTP).
	RTP       bool
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
}

// Delivered reports whether the datagram left the layer.
func (r Record) Delivered() bool { return !r.Released.IsZero() }

// Log keeps the ground truth, for tests only: the harness's figures never
// read it. Safe for concurrent use; it grows by one Record per impaired
// datagram, so keep it to bounded runs.
type Log struct {
	mu   sync.Mutex
	recs []Record
}

// NewLog returns an empty log.
func NewLog() *Log { return &Log{} }

// Records returns a copy of every record so far, in the order the datagrams
// reached the layer.
func (l *Log) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...)
}

func (l *Log) add(r Record) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return len(l.recs) - 1
}

func (l *Log) released(i int, at time.Time) {
	l.mu.Lock()
	l.recs[i].Released = at
	l.mu.Unlock()
}

// IsRTP reports whether b looks like an RTP (or SRTP) packet and not RTCP:
// version 2, and a second byte outside RTCP's packet types 192-223
// (RFC 5761 4, RFC 7983).
func IsRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && (b[1] < 192 || b[1] > 223)
}

// IsRTCP reports whether b looks like an RTCP (or SRTCP) packet.
func IsRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// IsMedia reports whether b is RTP or RTCP: a Match that leaves
// signaling, STUN and DTLS alone.
func IsMedia(b []byte) bool { return IsRTP(b) || IsRTCP(b) }

func newRecord(conn int, dir Dir, remote netip.AddrPort, b []byte, now time.Time) Record {
	r := Record{Conn: conn, Dir: dir, Remote: remote, Size: len(b), Offered: now}
	if IsRTP(b) {
		r.RTP = true
		r.Seq = binary.BigEndian.Uint16(b[2:])
		r.Timestamp = binary.BigEndian.Uint32(b[4:])
		r.SSRC = binary.BigEndian.Uint32(b[8:])
	}
	return r
}
