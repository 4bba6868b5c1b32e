package peer

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v4/packetio"
)

// endpoint is the DTLS side of the demultiplexer: a net.PacketConn whose
// reads come from the read loop's buffer and whose writes go out on the ICE
// conn (seen by the wire observer on the way).
type endpoint struct {
	conn net.Conn
	buf  *packetio.Buffer
	obs  *wire.Observer
}

const dtlsBufferBytes = 1 << 18

func newEndpoint(conn net.Conn, obs *wire.Observer) *endpoint {
	b := packetio.NewBuffer()
	b.SetLimitSize(dtlsBufferBytes)
	return &endpoint{conn: conn, buf: b, obs: obs}
}

func (e *endpoint) ReadFrom(p []byte) (int, net.Addr, error) {
	n, err := e.buf.Read(p)
	return n, e.conn.RemoteAddr(), err
}

func (e *endpoint) WriteTo(p []byte, _ net.Addr) (int, error) {
	e.obs.Observe(wire.Out, p)
	return e.conn.Write(p)
}

// Close only closes the buffer: the ICE conn belongs to the leg.
func (e *endpoint) Close() error { return e.closeBuffer() }

func (e *endpoint) closeBuffer() error {
	if err := e.buf.Close(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	return nil
}

func (e *endpoint) LocalAddr() net.Addr               { return e.conn.LocalAddr() }
func (e *endpoint) SetDeadline(t time.Time) error     { return e.buf.SetReadDeadline(t) }
func (e *endpoint) SetReadDeadline(t time.Time) error { return e.buf.SetReadDeadline(t) }
func (e *endpoint) SetWriteDeadline(time.Time) error  { return nil }

// maxEarlyRTP bounds the SRTP packets kept while the keys are not ready yet
// (the far end may finish its handshake first and start sending).
const maxEarlyRTP = 64

type earlyPacket struct {
	b       []byte
	arrival time.Time
}

// receiver decrypts incoming SRTP on the read goroutine and calls OnRTP.
type receiver struct {
	onRTP func(*rtp.Packet, time.Time)
	rtcp  *media.RTCP // counts what arrives, for reception reports
	stats *legStats
	ctx   atomic.Pointer[srtp.Context]
	early []earlyPacket
	dec   []byte
	pkt   rtp.Packet
	hdr   rtp.Header
}

func newReceiver(onRTP func(*rtp.Packet, time.Time), stats *legStats) *receiver {
	return &receiver{onRTP: onRTP, stats: stats, dec: make([]byte, 0, 1500)}
}

// ready hands over the decrypting context; from then on packets are
// decrypted (the early ones first).
func (r *receiver) ready(ctx *srtp.Context) { r.ctx.Store(ctx) }

func (r *receiver) handle(b []byte, arrival time.Time) {
	ctx := r.ctx.Load()
	if ctx == nil {
		if len(r.early) < maxEarlyRTP {
			r.early = append(r.early, earlyPacket{append([]byte(nil), b...), arrival})
		} else {
			r.stats.add(&r.stats.earlyDropped)
		}
		return
	}
	if r.early != nil {
		early := r.early
		r.early = nil
		for _, e := range early {
			r.decrypt(ctx, e.b, e.arrival)
		}
	}
	r.decrypt(ctx, b, arrival)
}

func (r *receiver) decrypt(ctx *srtp.Context, b []byte, arrival time.Time) {
	dec, err := ctx.DecryptRTP(r.dec[:0], b, &r.hdr)
	if err != nil {
		if errors.Is(err, srtp.ErrFailedToVerifyAuthTag) {
			r.stats.add(&r.stats.authFailed)
		} else {
			r.stats.add(&r.stats.otherDropped)
		}
		return
	}
	r.dec = dec[:0]
	if err := r.pkt.Unmarshal(dec); err != nil {
		r.stats.add(&r.stats.otherDropped)
		return
	}
	r.stats.add(&r.stats.rtp)
	if r.rtcp != nil {
		r.rtcp.OnReceive(&r.pkt.Header, arrival)
	}
	if r.onRTP != nil {
		r.onRTP(&r.pkt, arrival)
	}
}

// legStats are the leg's counters.
type legStats struct {
	mu           sync.Mutex
	rtp          int
	rtcp         int
	other        int
	authFailed   int
	otherDropped int // replayed, too old, or unreadable after decryption
	earlyDropped int
	dtlsClosed   error
}

func (s *legStats) add(field *int) {
	s.mu.Lock()
	*field++
	s.mu.Unlock()
}

func (s *legStats) setDTLSClosed(err error) {
	s.mu.Lock()
	s.dtlsClosed = err
	s.mu.Unlock()
}
