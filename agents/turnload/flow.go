package turnload

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// The channel both ends of a flow bind to each other's relayed address.
const flowChannel = 0x4000

// FlowLoad is a relayed-traffic load: Flows audio-shaped flows at once,
// each between two allocations that listen for each other (channels bound
// both ways). One end sends PacketsPerSecond packets of PayloadBytes; the
// other echoes each one back, so both directions carry the same rate and
// every packet has a round-trip time.
type FlowLoad struct {
	Flows            int
	Duration         time.Duration // sending time per flow
	PacketsPerSecond int           // default 50 (20 ms audio frames)
	PayloadBytes     int           // default 172 (RTP header and 20 ms of G.711)
	SetupTimeout     time.Duration // allocations and channel binds, default 10 s
	Drain            time.Duration // wait for late packets after sending, default 500 ms
}

// FlowStats sum a flow load up; packets count both directions.
type FlowStats struct {
	Flows, Connected int
	Sent, Received   int64
	LossPct          float64
	PacketsPerSecond float64 // relayed packets received per second of sending
	RTTP50, RTTP95   time.Duration
	JitterP95MS      float64 // worst direction of each flow, 95th percentile over flows
}

// payloadHeader is what a flow's packets carry: sequence number (4 bytes),
// send time (8) and, in the echo, the time the callee got it (8). Times
// are nanoseconds since the load's start, on the process's one clock.
const payloadHeader = 20

// direction is one direction of a flow as its receiver sees it.
type direction struct {
	mu       sync.Mutex
	received int
	jitter   float64 // RFC 3550 6.4.1, in ms
	lastTr   float64
	started  bool
	delaySum float64
}

func (d *direction) observe(sentNs int64, at time.Time, epoch time.Time) float64 {
	transit := float64(at.Sub(epoch).Nanoseconds()-sentNs) / 1e6
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received++
	d.delaySum += transit
	if d.started {
		diff := transit - d.lastTr
		if diff < 0 {
			diff = -diff
		}
		d.jitter += (diff - d.jitter) / 16
	}
	d.lastTr, d.started = transit, true
	return transit
}

func (d *direction) report(name string, sent int) reports.Direction {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := reports.Direction{Name: name, Sent: sent, Received: d.received, JitterMS: d.jitter, Audio: d.received > 0, Method: "turn-echo"}
	r.Lost = max(0, sent-d.received)
	if sent > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(sent)
	}
	if d.received > 0 {
		r.DelayMS = d.delaySum / float64(d.received)
	}
	return r
}

// flow is one caller/echoer pair.
type flow struct {
	id             int
	epoch          time.Time
	fwd, back      direction
	sent, echoed   atomic.Int64
	rttMu          sync.Mutex
	rtts           []time.Duration
	caller, callee *Client
}

// RunFlows runs a flow load and emits one KindFlow record per flow (emit
// may be nil; it is called from many goroutines).
func RunFlows(ctx context.Context, t Target, l FlowLoad, emit func(reports.Result)) (FlowStats, error) {
	if err := t.validate(); err != nil {
		return FlowStats{}, err
	}
	if l.Flows <= 0 || l.Duration <= 0 {
		return FlowStats{}, fmt.Errorf("%w: flows %d and duration %v must be positive", ErrTarget, l.Flows, l.Duration)
	}
	if l.PacketsPerSecond <= 0 {
		l.PacketsPerSecond = 50
	}
	if l.PayloadBytes < payloadHeader {
		l.PayloadBytes = 172
	}
	if l.SetupTimeout <= 0 {
		l.SetupTimeout = 10 * time.Second
	}
	if l.Drain <= 0 {
		l.Drain = 500 * time.Millisecond
	}
	epoch := time.Now()
	flows := make([]*flow, l.Flows)
	results := make([]reports.Result, l.Flows)
	var wg sync.WaitGroup
	for i := range flows {
		f := &flow{id: i, epoch: epoch}
		flows[i] = f
		wg.Go(func() {
			results[i] = f.run(ctx, t, l)
			if emit != nil {
				emit(results[i])
			}
		})
	}
	wg.Wait()
	return summarize(flows, results, l), ctx.Err()
}

func summarize(flows []*flow, results []reports.Result, l FlowLoad) FlowStats {
	st := FlowStats{Flows: len(flows)}
	var rtts []time.Duration
	var jitters []time.Duration // ms as durations, to reuse percentile
	for i, f := range flows {
		r := results[i]
		if r.Outcome != reports.OutcomeOK {
			continue
		}
		st.Connected++
		worst := 0.0
		for _, d := range r.Media {
			st.Sent += int64(d.Sent)
			st.Received += int64(d.Received)
			worst = max(worst, d.JitterMS)
		}
		jitters = append(jitters, time.Duration(worst*float64(time.Millisecond)))
		f.rttMu.Lock()
		rtts = append(rtts, f.rtts...)
		f.rttMu.Unlock()
	}
	if st.Sent > 0 {
		st.LossPct = 100 * float64(st.Sent-st.Received) / float64(st.Sent)
	}
	st.PacketsPerSecond = float64(st.Received) / l.Duration.Seconds()
	st.RTTP50, st.RTTP95 = percentile(rtts, 0.50), percentile(rtts, 0.95)
	st.JitterP95MS = ms(percentile(jitters, 0.95))
	return st
}

// run sets the flow up, sends for the load's duration, and reports.
func (f *flow) run(ctx context.Context, t Target, l FlowLoad) reports.Result {
	r := reports.Result{Kind: KindFlow, ID: fmt.Sprintf("flow-%d", f.id), Start: time.Now()}
	err := f.setup(ctx, t, l.SetupTimeout)
	r.Phases.TotalMS = ms(time.Since(r.Start))
	if err == nil {
		r.ICE = reports.ICE{SDPExchanged: true, Connected: true, Policy: "relay", LocalCandidate: "relay", RemoteCandidate: "relay", Relay: true}
		err = f.send(ctx, l)
		f.sleep(ctx, l.Drain)
		sent, echoed := int(f.sent.Load()), int(f.echoed.Load())
		r.Media = []reports.Direction{f.fwd.report("caller->callee", sent), f.back.report("callee->caller", echoed)}
	}
	f.teardown()
	r.End = time.Now()
	fail(&r, err)
	return r
}

func (f *flow) setup(ctx context.Context, t Target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var callee atomic.Pointer[Client]
	var err error
	f.caller, err = t.dial(ctx, f.onEcho)
	if err != nil {
		return err
	}
	f.callee, err = t.dial(ctx, func(_ netip.AddrPort, b []byte, at time.Time) {
		if c := callee.Load(); c != nil {
			f.onPacket(c, b, at)
		}
	})
	if err != nil {
		return err
	}
	callee.Store(f.callee)
	a, err := f.caller.Allocate(ctx, 0)
	if err != nil {
		return err
	}
	b, err := f.callee.Allocate(ctx, 0)
	if err != nil {
		return err
	}
	if err := f.caller.ChannelBind(ctx, flowChannel, b.Relayed); err != nil {
		return err
	}
	return f.callee.ChannelBind(ctx, flowChannel, a.Relayed)
}

// onPacket is the callee: it measures the forward direction and echoes.
func (f *flow) onPacket(callee *Client, b []byte, at time.Time) {
	if len(b) < payloadHeader {
		return
	}
	f.fwd.observe(int64(binary.BigEndian.Uint64(b[4:12])), at, f.epoch)
	binary.BigEndian.PutUint64(b[12:20], uint64(at.Sub(f.epoch).Nanoseconds()))
	if callee.SendChannel(flowChannel, b) == nil {
		f.echoed.Add(1)
	}
}

// onEcho is the caller receiving the echo: the return direction and RTT.
func (f *flow) onEcho(_ netip.AddrPort, b []byte, at time.Time) {
	if len(b) < payloadHeader {
		return
	}
	sentNs := int64(binary.BigEndian.Uint64(b[4:12]))
	f.back.observe(int64(binary.BigEndian.Uint64(b[12:20])), at, f.epoch)
	rtt := at.Sub(f.epoch) - time.Duration(sentNs)
	f.rttMu.Lock()
	f.rtts = append(f.rtts, rtt)
	f.rttMu.Unlock()
}

func (f *flow) send(ctx context.Context, l FlowLoad) error {
	interval := time.Second / time.Duration(l.PacketsPerSecond)
	buf := make([]byte, l.PayloadBytes)
	start := time.Now()
	for seq := uint32(0); ; seq++ {
		next := start.Add(time.Duration(seq) * interval)
		if next.Sub(start) >= l.Duration {
			return nil
		}
		if err := sleepUntil(ctx, next); err != nil {
			return err
		}
		binary.BigEndian.PutUint32(buf[0:4], seq)
		binary.BigEndian.PutUint64(buf[4:12], uint64(time.Since(f.epoch).Nanoseconds()))
		if err := f.caller.SendChannel(flowChannel, buf); err != nil {
			return fmt.Errorf("turnload: flow %d: send: %w", f.id, err)
		}
		f.sent.Add(1)
	}
}

func (f *flow) sleep(ctx context.Context, d time.Duration) { _ = sleepUntil(ctx, time.Now().Add(d)) }

// teardown deletes both allocations and closes the clients.
func (f *flow) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range []*Client{f.caller, f.callee} {
		if c == nil {
			continue
		}
		_, _ = c.Refresh(ctx, 0)
		_ = c.Close()
	}
}
