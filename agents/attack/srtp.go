package attack

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
)

// Where in the browser's stream srtp-replay injects, by packet counter
// (the mark every payload carries; the first packet is 0). At 50 packets
// a second the whole stream lasts about 3.5 s.
const (
	srtpDupAt  = 10  // sent twice in a row
	srtpOldOf  = 20  // kept, and sent again right after srtpOldAt
	srtpOldAt  = 120 // 100 indices after srtpOldOf
	srtpFlipAt = 130 // withheld; a copy with one bit of its tag flipped goes instead
	srtpCutAt  = 140 // withheld; a copy with its tag cut goes instead
	srtpTail   = 25  // packets after the last injection that must reach the phone
	srtpCut    = 4   // bytes cut off the end of the tag

	srtpReplayTime = 45 * time.Second
	// srtpMinDelivered is the share of the ordinary packets the phone must
	// get for the verdict to mean anything.
	srtpMinDelivered = 0.8
)

// SRTPReplay calls the phone from a browser through the target and, on the
// browser's SRTP leg, injects a duplicate of a packet just sent, a packet
// 100 indices behind the stream, a packet with one tag bit flipped and one
// with its tag cut (the last two withheld in their genuine form, so their
// index is fresh). The phone's leg is plain RTP: every marked packet that
// reaches it is counted, and none of the injected ones may.
func SRTPReplay(ctx context.Context, env *Env) Outcome {
	ctx, cancel := context.WithTimeout(ctx, srtpReplayTime)
	defer cancel()
	rig, err := newMediaRig(ctx, env, "srtp-replay")
	if err != nil {
		return Inconclusivef("%v", err)
	}
	out := srtpReplay(ctx, rig)
	if err := rig.Close(); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	out.Capture = rig.capture.Path()
	return out
}

func srtpReplay(ctx context.Context, rig *mediaRig) Outcome {
	inj := &srtpInjector{done: make(chan struct{})}
	browser, err := rig.browser(ctx, nil, func(c *endpoint.Config) {
		c.PeerConfig = func(pc *peer.Config) {
			pc.WrapConn = func(conn net.Conn) net.Conn {
				inj.Conn = conn
				return inj
			}
		}
	})
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer func() { _ = browser.Close() }()
	call, err := rig.call(ctx, browser, false)
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer call.end(ctx)
	if err := call.browser.Err(); err != nil {
		return Inconclusivef("the call through the target did not connect: %v", err)
	}
	if call.phone == nil {
		return Inconclusivef("the call through the target never reached the phone")
	}
	rep := call.browser.Report()
	tag := rep.SendTag
	select {
	case <-inj.done:
	case <-call.browser.Done():
		return Inconclusivef("the call ended before the injections were done (%s)", inj.summary())
	case <-ctx.Done():
		return Inconclusivef("the browser's stream did not reach packet %d in time (%s)", srtpCutAt, inj.summary())
	}
	last := uint32(srtpCutAt + srtpTail)
	if !rig.marks.waitFor(ctx, call.browser.Done(), tag, last) {
		return Inconclusivef("ordinary media did not flow: packet %d of the browser's stream never reached the phone", last)
	}
	call.end(ctx)

	sent := int(last) + 1 - 2 // the flipped and cut ones were withheld
	got := rig.marks.distinct(tag, 0, last) - min(1, rig.marks.count(tag, srtpFlipAt)) - min(1, rig.marks.count(tag, srtpCutAt))
	o := Outcome{Evidence: []string{
		fmt.Sprintf("call connected: SRTP profile %s, as negotiated on the wire", rep.Media.Security.SRTPProfile),
		fmt.Sprintf("ordinary media: the phone got %d of the %d packets 0-%d sent normally", got, sent, last),
		"injected: " + inj.summary(),
	}}
	if float64(got) < srtpMinDelivered*float64(sent) {
		o.Verdict = Inconclusive
		o.Reason = fmt.Sprintf("ordinary media did not flow: the phone got %d of %d packets", got, sent)
		return o
	}
	var unknowns []string
	judge := func(what string, counter uint32, allowed int, severity string) {
		n := rig.marks.count(tag, counter)
		switch {
		case allowed == 1 && n == 0:
			unknowns = append(unknowns, what)
			o.Evidence = append(o.Evidence, fmt.Sprintf("%s: packet %d never reached the phone at all, so a replay of it cannot be told apart", what, counter))
		case n > allowed:
			o.Severity = worseSeverity(o.Severity, severity)
			o.Evidence = append(o.Evidence, fmt.Sprintf("%s: FORWARDED: packet %d reached the phone %d time(s), %d more than sent genuinely", what, counter, n, n-allowed))
		default:
			o.Evidence = append(o.Evidence, fmt.Sprintf("%s: dropped: packet %d reached the phone %d time(s)", what, counter, n))
		}
	}
	judge("duplicate sent right after the original", srtpDupAt, 1, Medium)
	judge(fmt.Sprintf("packet sent again %d indices later", srtpOldAt-srtpOldOf), srtpOldOf, 1, Medium)
	judge("flipped auth tag bit (genuine packet withheld)", srtpFlipAt, 0, High)
	judge(fmt.Sprintf("tag cut by %d bytes (genuine packet withheld)", srtpCut), srtpCutAt, 0, High)
	switch {
	case o.Severity != "":
		o.Verdict = Vulnerable
		o.Reason = "the target forwarded injected SRTP packets to the phone"
		o.Remediation = "authenticate every SRTP packet and keep a replay window of at least 64 indices (RFC 3711 3.3.2); discard replayed, too-old and badly tagged packets before relaying them"
	case len(unknowns) > 0:
		o.Verdict = Inconclusive
		o.Reason = "the genuine packets some injections copied never reached the phone: " + strings.Join(unknowns, "; ")
	default:
		o.Verdict = Resisted
		o.Reason = "none of the injected SRTP packets reached the phone while ordinary media flowed"
	}
	return o
}

// srtpInjector sits on the browser's ICE conn past ICE and, as the leg's
// SRTP goes out, injects copies of it at the points above. Everything it
// writes goes through the socket layer's guard like the leg's own packets.
type srtpInjector struct {
	net.Conn

	mu       sync.Mutex
	started  bool
	seq0     uint16
	saved    []byte
	injected []string
	failed   error
	done     chan struct{}
}

func (w *srtpInjector) Write(b []byte) (int, error) {
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
		return w.Conn.Write(b) // DTLS, SRTCP
	}
	for _, s := range w.plan(b) {
		if _, err := w.Conn.Write(s); err != nil {
			w.fail(err)
			return 0, err
		}
	}
	return len(b), nil
}

// plan returns what goes out in place of the SRTP packet b.
func (w *srtpInjector) plan(b []byte) [][]byte {
	seq := binary.BigEndian.Uint16(b[2:4])
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		if b[1]&0x80 == 0 { // the marker starts the stream: counter 0
			return [][]byte{b}
		}
		w.started, w.seq0 = true, seq
	}
	switch counter := seq - w.seq0; counter {
	case srtpDupAt:
		w.note("packet %d (seq %d) sent twice", counter, seq)
		return [][]byte{b, b}
	case srtpOldOf:
		w.saved = bytes.Clone(b)
	case srtpOldAt:
		if w.saved != nil {
			w.note("packet %d sent again after packet %d", srtpOldOf, counter)
			return [][]byte{b, w.saved}
		}
	case srtpFlipAt:
		flipped := bytes.Clone(b)
		flipped[len(flipped)-1] ^= 0x01
		w.note("packet %d (seq %d) sent only with the last bit of its tag flipped", counter, seq)
		return [][]byte{flipped}
	case srtpCutAt:
		w.note("packet %d (seq %d) sent only with the last %d bytes of its tag cut", counter, seq, srtpCut)
		select {
		case <-w.done:
		default:
			close(w.done)
		}
		return [][]byte{bytes.Clone(b[:len(b)-srtpCut])}
	}
	return [][]byte{b}
}

func (w *srtpInjector) note(format string, args ...any) {
	w.injected = append(w.injected, fmt.Sprintf(format, args...))
}

func (w *srtpInjector) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

// summary says what was injected, and the first send error.
func (w *srtpInjector) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.Join(w.injected, "; ")
	if s == "" {
		s = "nothing yet"
	}
	if w.failed != nil {
		s += fmt.Sprintf(" (send error: %v)", w.failed)
	}
	return s
}
