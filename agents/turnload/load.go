package turnload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/transport/v4"
)

// Kinds of record the load mode emits (reports.Result.Kind).
const (
	// KindAllocation is one Allocate (then deallocation) against the server.
	KindAllocation = "turn-allocation"
	// KindFlow is one relayed audio-shaped flow between two allocations.
	KindFlow = "turn-flow"
)

// CauseAllocate is the cause of an attempt the server refused: Error holds
// the STUN error code and reason.
const CauseAllocate = "allocate"

// Target is the TURN server a load runs against and how its clients log in.
type Target struct {
	Server    netip.AddrPort
	Transport string      // "udp" (default), "tcp" or "tls"
	TLS       *tls.Config // for "tls"
	// Username and Password are a static long-term user, or Secret is a
	// TURN REST shared secret from which each client gets credentials of
	// its own (user "load<n>", valid an hour).
	Username, Password string
	Secret             string
	// NewNet gives each client its socket layer (its own source address);
	// nil uses the host's network stack.
	NewNet func() (transport.Net, error)
}

// ErrTarget is wrapped when a Target or a load is not usable.
var ErrTarget = errors.New("turnload: bad target or load")

func (t Target) validate() error {
	switch {
	case !t.Server.IsValid():
		return fmt.Errorf("%w: no server address", ErrTarget)
	case t.Secret == "" && (t.Username == "" || t.Password == ""):
		return fmt.Errorf("%w: give a REST secret or a username and password", ErrTarget)
	}
	return nil
}

var clientSeq atomic.Int64

// dial connects one client, with fresh REST credentials when the target
// has a secret.
func (t Target) dial(ctx context.Context, onData func(netip.AddrPort, []byte, time.Time)) (*Client, error) {
	cfg := ClientConfig{Server: t.Server, Transport: t.Transport, TLS: t.TLS, Username: t.Username, Password: t.Password, OnData: onData}
	if t.Secret != "" {
		cfg.Username, cfg.Password = RESTCredentials(t.Secret, fmt.Sprintf("load%d", clientSeq.Add(1)), time.Now().Add(time.Hour))
	}
	if t.NewNet != nil {
		n, err := t.NewNet()
		if err != nil {
			return nil, err
		}
		cfg.Net = n
	}
	return Dial(ctx, cfg)
}

// AllocationLoad is an allocation-rate load: Count allocations started at
// Rate per second, each deleted (Refresh 0) once granted.
type AllocationLoad struct {
	Rate        float64       // allocations started per second
	Count       int           // allocations in all
	MaxInFlight int           // attempts at once (default 256); the pacer waits beyond
	Timeout     time.Duration // per attempt (default 5 s)
}

// AllocationStats sum an allocation load up.
type AllocationStats struct {
	Attempted, OK, Failed int
	Elapsed               time.Duration // first start to last end
	PerSecond             float64       // granted allocations per second of Elapsed
	P50, P95              time.Duration // time to a granted allocation (401 round trip included)
	Codes                 map[int]int   // STUN error codes seen
}

// RunAllocations runs an allocation load and emits one KindAllocation
// record per attempt (emit may be nil; it is called from many goroutines).
func RunAllocations(ctx context.Context, t Target, l AllocationLoad, emit func(reports.Result)) (AllocationStats, error) {
	if err := t.validate(); err != nil {
		return AllocationStats{}, err
	}
	if l.Rate <= 0 || l.Count <= 0 {
		return AllocationStats{}, fmt.Errorf("%w: allocation rate %v and count %d must be positive", ErrTarget, l.Rate, l.Count)
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 256
	}
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	var (
		mu    sync.Mutex
		st    = AllocationStats{Codes: map[int]int{}}
		times []time.Duration
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, l.MaxInFlight)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / l.Rate)
pace:
	for i := range l.Count {
		if err := sleepUntil(ctx, start.Add(time.Duration(i)*interval)); err != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break pace
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r, took, code := allocateOnce(ctx, t, l.Timeout, i)
			mu.Lock()
			st.Attempted++
			if r.Outcome == reports.OutcomeOK {
				st.OK++
				times = append(times, took)
			} else {
				st.Failed++
				if code != 0 {
					st.Codes[code]++
				}
			}
			mu.Unlock()
			if emit != nil {
				emit(r)
			}
		})
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	if st.Elapsed > 0 {
		st.PerSecond = float64(st.OK) / st.Elapsed.Seconds()
	}
	st.P50, st.P95 = percentile(times, 0.50), percentile(times, 0.95)
	return st, ctx.Err()
}

// allocateOnce is one attempt: connect, Allocate, delete, close.
func allocateOnce(ctx context.Context, t Target, timeout time.Duration, i int) (reports.Result, time.Duration, int) {
	r := reports.Result{Kind: KindAllocation, ID: fmt.Sprintf("alloc-%d", i), Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var took time.Duration
	c, err := t.dial(ctx, nil)
	if err == nil {
		began := time.Now()
		var a Allocation
		a, err = c.Allocate(ctx, 0)
		took = time.Since(began)
		if err == nil {
			r.Phases.TotalMS = ms(took)
			r.ICE.Relay = a.Relayed.IsValid()
			_, err = c.Refresh(ctx, 0)
		}
		_ = c.Close()
	}
	r.End = time.Now()
	fail(&r, err)
	return r, took, Code(err)
}

// fail fills the outcome of r from err.
func fail(r *reports.Result, err error) {
	r.Outcome = reports.OutcomeOK
	if err == nil {
		return
	}
	r.Outcome, r.Error = reports.OutcomeFailed, err.Error()
	switch {
	case Code(err) != 0:
		r.Cause = CauseAllocate
	case errors.Is(err, context.Canceled):
		r.Cause = reports.CauseCanceled
	case errors.Is(err, context.DeadlineExceeded):
		r.Cause = reports.CauseTimeout
	default:
		r.Cause = reports.CauseUnreachable
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
