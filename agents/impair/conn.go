package impair

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// conn is one wrapped socket. Outgoing datagrams that must wait are
// released by a scheduler goroutine, started on first need and stopped by
// Close; incoming ones wait in a queue that ReadFrom releases from.
type conn struct {
	inner  net.PacketConn
	im     *Impairer
	id     int
	remote net.Addr // fixed far end of a connected socket

	rmu sync.Mutex // one reader at a time on the impaired read path
	wmu sync.Mutex // serialises sends, so the release order holds

	mu       sync.Mutex
	closed   bool
	started  bool // the scheduler goroutine runs
	inPipe   *pipe
	inq      queue
	deadline time.Time // the caller's read deadline
	dlGen    int       // bumped by SetReadDeadline
	out      outQueue
	inLate   lateness // how late read deadlines fire

	stop     chan struct{}
	stopOnce sync.Once
	wake     chan struct{}
	wg       sync.WaitGroup
}

// outQueue is the outgoing direction: its pipe, the datagrams waiting,
// and how a datagram is sent.
type outQueue struct {
	pipe *pipe
	q    queue
	send func(b []byte, addr net.Addr) error
	late lateness // how late the scheduler's timer fires
}

// lateness is how late timers fire here, as a running mean. Go's timers
// wake up to about a millisecond late when the process is idle (the
// poller sleeps in whole milliseconds), so a datagram released when its
// timer fires would be late by that on average. Releases aim that much
// early instead, up to maxEarly, and a datagram due within that margin of
// now goes now: on an idle machine it leaves on time on average, and never
// more than maxEarly before its time. The log records when it really left.
type lateness struct{ mean time.Duration }

const (
	// maxLateness bounds one observation, so a stall (a descheduled
	// process) does not weigh for long.
	maxLateness = 10 * time.Millisecond
	// maxEarly is the most a release aims early: the poller's granularity.
	// Lateness beyond it comes from a loaded machine, which no aim fixes.
	maxEarly = time.Millisecond
)

func (l *lateness) observe(wanted, woke time.Time) {
	d := min(max(woke.Sub(wanted), 0), maxLateness)
	l.mean += (d - l.mean) / 16
}

// early is how much before its due time a release aims.
func (l *lateness) early() time.Duration { return min(l.mean, maxEarly) }

// item is a datagram waiting for its release time.
type item struct {
	due  time.Time
	n    uint64 // arrival order, to keep equal due times first-in first-out
	b    []byte
	addr net.Addr
	rec  int // index in the log, -1 when none
}

// queue is a min-heap of items by due time, then arrival order.
type queue struct {
	items []item
	n     uint64
}

func (q *queue) Len() int { return len(q.items) }
func (q *queue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if a.due.Equal(b.due) {
		return a.n < b.n
	}
	return a.due.Before(b.due)
}
func (q *queue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *queue) Push(x any)    { q.items = append(q.items, x.(item)) }
func (q *queue) Pop() any {
	it := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return it
}

// add queues a copy of b; it reports whether the item is now the first due.
func (q *queue) add(due time.Time, b []byte, addr net.Addr, rec int) bool {
	q.n++
	heap.Push(q, item{due: due, n: q.n, b: append([]byte(nil), b...), addr: addr, rec: rec})
	return q.items[0].n == q.n
}

func (q *queue) popDue(now time.Time) (item, bool) {
	if len(q.items) == 0 || q.items[0].due.After(now) {
		return item{}, false
	}
	return heap.Pop(q).(item), true
}

func (q *queue) nextDue() time.Time {
	if len(q.items) == 0 {
		return time.Time{}
	}
	return q.items[0].due
}

func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// logDatagram records a datagram's fate; the caller holds c.mu.
func (c *conn) logDatagram(dir Dir, addr net.Addr, b []byte, now time.Time, v verdict, dup bool, releasedNow bool) int {
	l := c.im.cfg.Log
	if l == nil {
		return -1
	}
	r := newRecord(c.id, dir, addrPort(addr), b, now)
	r.Dropped, r.Copy = v.drop, dup
	if v.drop == "" {
		r.Due = v.due
		if dup {
			r.Due = v.dupDue
		}
	}
	if releasedNow {
		r.Released = now
	}
	return l.add(r)
}

// logUnimpaired logs a datagram that goes straight through, when asked
// to, and returns its record (-1 when none).
func (c *conn) logUnimpaired(dir Dir, addr net.Addr, b []byte, now time.Time) int {
	cfg := &c.im.cfg
	if cfg.Log == nil || !cfg.LogUnimpaired || !cfg.Match(b) {
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logDatagram(dir, addr, b, now, verdict{due: now}, false, true)
}

func (c *conn) logReleased(rec int, at time.Time) {
	if rec >= 0 {
		c.im.cfg.Log.released(rec, at)
	}
}

// WriteTo sends p to addr through the outgoing impairment. A datagram the
// impairment drops still reports success, as the network would.
func (c *conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.im.cfg.Out.IsZero() || !c.im.cfg.Match(p) {
		rec := c.logUnimpaired(Out, addr, p, time.Now())
		if err := c.sendLogged(p, addr, rec); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	now := time.Now()
	v := c.out.pipe.decide(c.im.cfg.Out.At(c.im.elapsed(now)), now, len(p))
	if v.drop != "" {
		c.logDatagram(Out, addr, p, now, v, false, false)
		c.mu.Unlock()
		return len(p), nil
	}
	if c.out.q.Len() > 0 || v.due.After(now) {
		first := c.out.q.add(v.due, p, addr, c.logDatagram(Out, addr, p, now, v, false, false))
		if v.dup {
			c.out.q.add(v.dupDue, p, addr, c.logDatagram(Out, addr, p, now, v, true, false))
		}
		if !c.started {
			c.started = true
			c.wg.Go(c.runOut)
		} else if first {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		c.mu.Unlock()
		return len(p), nil
	}
	rec := c.logDatagram(Out, addr, p, now, v, false, false)
	dupRec := -1
	if v.dup {
		dupRec = c.logDatagram(Out, addr, p, now, v, true, false)
	}
	c.mu.Unlock()
	if err := c.sendLogged(p, addr, rec); err != nil {
		return 0, err
	}
	if v.dup {
		_ = c.sendLogged(p, addr, dupRec)
	}
	return len(p), nil
}

// sendLogged sends a datagram the layer releases. Its release is logged
// before the send, so that no reader can see it arrive before the log says
// it left; a send that fails takes the release back.
func (c *conn) sendLogged(b []byte, addr net.Addr, rec int) error {
	c.logReleased(rec, time.Now())
	err := c.out.send(b, addr)
	if err != nil {
		c.logReleased(rec, time.Time{})
	}
	return err
}

// runOut releases queued outgoing datagrams when they fall due, until Close.
func (c *conn) runOut() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []item
	var wanted time.Time // when the timer was asked to fire
	for {
		c.wmu.Lock()
		c.mu.Lock()
		now := time.Now()
		if !wanted.IsZero() {
			c.out.late.observe(wanted, now)
			wanted = time.Time{}
		}
		early := c.out.late.early()
		due = due[:0]
		for {
			it, ok := c.out.q.popDue(now.Add(early))
			if !ok {
				break
			}
			due = append(due, it)
		}
		next := c.out.q.nextDue()
		c.mu.Unlock()
		for _, it := range due {
			if err := c.sendLogged(it.b, it.addr, it.rec); err != nil {
				c.im.log.Debug("delayed datagram not sent", "conn", c.id, "err", err)
			}
		}
		c.wmu.Unlock()
		var fire <-chan time.Time
		if !next.IsZero() {
			wanted = next.Add(-early)
			timer.Reset(time.Until(wanted))
			fire = timer.C
		}
		select {
		case <-c.stop:
			return
		case <-c.wake:
			wanted = time.Time{}
		case <-fire:
		}
	}
}

// ReadFrom returns the next datagram the incoming impairment releases.
func (c *conn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, _, err := c.ReadFromStamped(p)
	return n, addr, err
}

// ReadFromStamped is ReadFrom with the moment the layer released the
// datagram, the moment its log records: the layer stands for the network,
// so that is when the datagram arrived, however late the reader runs.
func (c *conn) ReadFromStamped(p []byte) (int, net.Addr, time.Time, error) {
	if c.im.cfg.In.IsZero() {
		n, addr, err := c.inner.ReadFrom(p)
		now := time.Now()
		if err == nil {
			_ = c.logUnimpaired(In, addr, p[:n], now)
		}
		return n, addr, now, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, nil, time.Time{}, net.ErrClosed
		}
		early := c.inLate.early()
		if it, ok := c.inq.popDue(time.Now().Add(early)); ok {
			c.mu.Unlock()
			n := copy(p, it.b)
			now := time.Now()
			c.logReleased(it.rec, now)
			return n, it.addr, now, nil
		}
		next, user, gen := c.inq.nextDue(), c.deadline, c.dlGen
		c.mu.Unlock()
		dl := user
		wanted := time.Time{}
		if !next.IsZero() && (dl.IsZero() || next.Before(dl)) {
			wanted = next.Add(-early)
			dl = wanted
		}
		if err := c.inner.SetReadDeadline(dl); err != nil {
			return 0, nil, time.Time{}, err
		}
		c.mu.Lock()
		moved := gen != c.dlGen
		c.mu.Unlock()
		if moved {
			continue
		}
		n, addr, err := c.inner.ReadFrom(p)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && (user.IsZero() || time.Now().Before(user)) {
				if !wanted.IsZero() {
					c.mu.Lock()
					c.inLate.observe(wanted, time.Now())
					c.mu.Unlock()
				}
				continue
			}
			return n, addr, time.Now(), err
		}
		b := p[:n]
		if !c.im.cfg.Match(b) {
			return n, addr, time.Now(), nil
		}
		if at, ok := c.admit(b, addr); ok {
			return n, addr, at, nil
		}
	}
}

// admit runs an incoming datagram through the impairment: it reports
// whether b goes to the reader now, and when it was let through;
// otherwise it was dropped or queued.
func (c *conn) admit(b []byte, addr net.Addr) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	v := c.inPipe.decide(c.im.cfg.In.At(c.im.elapsed(now)), now, len(b))
	if v.drop != "" {
		c.logDatagram(In, addr, b, now, v, false, false)
		return time.Time{}, false
	}
	direct := c.inq.Len() == 0 && !v.due.After(now)
	if !direct {
		c.inq.add(v.due, b, addr, c.logDatagram(In, addr, b, now, v, false, false))
	} else {
		c.logDatagram(In, addr, b, now, v, false, true)
	}
	if v.dup {
		c.inq.add(v.dupDue, b, addr, c.logDatagram(In, addr, b, now, v, true, false))
	}
	return now, direct
}

// Close closes the socket and stops the scheduler; datagrams still held
// are never released (their records keep a zero Released).
func (c *conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	err := c.inner.Close()
	c.wg.Wait()
	return err
}

// LocalAddr returns the socket's address.
func (c *conn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

// SetDeadline sets the read and write deadlines.
func (c *conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline sets when ReadFrom gives up.
func (c *conn) SetReadDeadline(t time.Time) error {
	if c.im.cfg.In.IsZero() {
		return c.inner.SetReadDeadline(t)
	}
	c.mu.Lock()
	c.deadline = t
	c.dlGen++
	c.mu.Unlock()
	// Wake a blocked reader so that it takes the new deadline into account.
	return c.inner.SetReadDeadline(time.Now())
}

// SetWriteDeadline applies to sends on the socket itself; a datagram the
// impairment holds is released whatever the deadline.
func (c *conn) SetWriteDeadline(t time.Time) error { return c.inner.SetWriteDeadline(t) }

type bufferSetter interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// SetReadBuffer sets the socket's receive buffer when it has one.
func (c *conn) SetReadBuffer(n int) error {
	if b, ok := c.inner.(bufferSetter); ok {
		return b.SetReadBuffer(n)
	}
	return fmt.Errorf("impair: %T has no read buffer: %w", c.inner, errors.ErrUnsupported)
}

// SetWriteBuffer sets the socket's send buffer when it has one.
func (c *conn) SetWriteBuffer(n int) error {
	if b, ok := c.inner.(bufferSetter); ok {
		return b.SetWriteBuffer(n)
	}
	return fmt.Errorf("impair: %T has no write buffer: %w", c.inner, errors.ErrUnsupported)
}

// connectedConn is a conn on a connected socket: Read and Write as well.
type connectedConn struct{ *conn }

// Read reads the next datagram the incoming impairment releases.
func (c *connectedConn) Read(p []byte) (int, error) {
	n, _, err := c.ReadFrom(p)
	return n, err
}

// Write sends p to the fixed far end through the outgoing impairment.
func (c *connectedConn) Write(p []byte) (int, error) { return c.WriteTo(p, c.remote) }

// RemoteAddr returns the fixed far end.
func (c *connectedConn) RemoteAddr() net.Addr { return c.remote }
