package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// byeTimeout bounds each BYE the gateway sends while tearing a call down.
const byeTimeout = 4 * time.Second

// ackTimeout is how long the gateway waits for the caller's ACK of its 2xx
// (64*T1, RFC 3261 13.3.1.4) before it ends the call.
const ackTimeout = 32 * time.Second

// call is one bridged call between two legs (a caller and a callee, or
// whoever replaced one of them by a transfer). The INVITE handler sets it
// up; hangup, from anywhere, starts the one teardown.
type call struct {
	g         *Gateway
	log       *slog.Logger
	ctx       context.Context // canceled by hangup
	cancel    context.CancelFunc
	setupDone chan struct{} // closed when the INVITE handler is finished with the call
	work      *routines     // media relays, fork branches, transfers
	id        string        // the caller's Call-ID
	num       uint64        // the call's number in arrival order, when faults are configured
	faults    []Fault       // the faults that hit it
	counted   []string      // users counted against the call caps

	mu        sync.Mutex
	legs      [2]*leg // sideCaller, sideCallee
	others    []*leg  // fork branches and transfer targets, won or lost
	extraUser []string
	ended     bool
	endedBy   *leg // nil: the gateway ended it
	connected bool
}

// hangup ends the call once: it cancels the setup, if still running, and
// starts the teardown, which BYEs every leg that is up except the one that
// ended the call. by is nil when the gateway itself ends it. It never blocks.
func (c *call) hangup(by *leg, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended, c.endedBy = true, by
	c.cancel()
	c.log.Info("call ending", "reason", reason)
	if !c.g.teardowns.Go(c.teardown) {
		// Close hangs every call up before it stops taking teardowns, and
		// the call table refuses new calls first, so this cannot happen.
		c.log.Error("teardown refused after close")
	}
}

// legEnded is a leg's media failing or closing: the call ends if the leg is
// one of its two parties (a lost fork branch does not matter).
func (c *call) legEnded(l *leg, reason string) {
	c.mu.Lock()
	active := c.legs[sideCaller] == l || c.legs[sideCallee] == l
	c.mu.Unlock()
	if active {
		c.hangup(nil, reason)
	}
}

func (c *call) setLeg(side int, l *leg) {
	c.mu.Lock()
	c.legs[side] = l
	c.mu.Unlock()
}

func (c *call) leg(side int) *leg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.legs[side]
}

// addOther keeps a branch or transfer target so the teardown closes it.
func (c *call) addOther(l *leg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.others = append(c.others, l)
	return true
}

func (c *call) teardown() {
	<-c.setupDone
	c.mu.Lock()
	by, legs := c.endedBy, append(c.legs[:0:0], c.legs[:]...)
	all := append(append([]*leg(nil), legs...), c.others...)
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	var byes sync.WaitGroup
	for _, l := range legs {
		if l == nil || l == by {
			continue
		}
		if l.uas != nil && !l.uas.wasAcked() && l.dialog() != nil {
			// RFC 3261 15 wants the ACK first; a B2BUA whose other leg
			// is gone cannot wait for it.
			l.log.Info("BYE before the ACK")
		}
		byes.Go(func() {
			if err := l.bye(ctx); err != nil {
				l.log.Warn("BYE failed", "error", err)
			}
		})
	}
	byes.Wait()
	seen := map[*leg]bool{}
	for _, l := range all {
		if l == nil || seen[l] {
			continue
		}
		seen[l] = true
		if l.uac != nil {
			l.uac.abandon()
		}
		if err := l.closeMedia(); err != nil {
			l.log.Debug("closing media", "error", err)
		}
	}
	<-c.work.close()
	for l := range seen {
		if l.uac != nil {
			l.uac.finish()
		}
	}
	c.g.calls.remove(c)
	c.mu.Lock()
	extra := c.extraUser
	c.mu.Unlock()
	c.g.counts.release(c.counted, true)
	c.g.counts.release(extra, false)
	c.g.metrics.callEnded()
	c.log.Info("call ended")
}

var (
	errCallsClosed = errors.New("gateway is closing")
	errCallExists  = errors.New("call already exists")
)

// callTable finds legs by the Call-ID of their dialog.
type callTable struct {
	mu     sync.Mutex
	closed bool
	legs   map[string]*leg
	calls  map[*call]struct{}
}

func newCallTable() *callTable {
	return &callTable{legs: map[string]*leg{}, calls: map[*call]struct{}{}}
}

func (t *callTable) add(c *call) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errCallsClosed
	}
	t.calls[c] = struct{}{}
	return nil
}

// addLeg indexes a leg by its Call-ID.
func (t *callTable) addLeg(callID string, l *leg) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.legs[callID] != nil {
		return errCallExists
	}
	t.legs[callID] = l
	return nil
}

func (t *callTable) get(callID string) *leg {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.legs[callID]
}

func (t *callTable) remove(c *call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.calls, c)
	for k, l := range t.legs {
		if l.c == c {
			delete(t.legs, k)
		}
	}
}

// list returns the calls one of whose legs matches keep.
func (t *callTable) list(keep func(*leg) bool) []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[*call]bool{}
	var out []*call
	for _, l := range t.legs {
		if !seen[l.c] && keep(l) {
			seen[l.c] = true
			out = append(out, l.c)
		}
	}
	return out
}

func (t *callTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// close refuses new calls and returns the current ones.
func (t *callTable) close() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	out := make([]*call, 0, len(t.calls))
	for c := range t.calls {
		out = append(out, c)
	}
	return out
}

// all returns the current calls.
func (t *callTable) all() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*call, 0, len(t.calls))
	for c := range t.calls {
		out = append(out, c)
	}
	return out
}
