package attack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/emiago/sipgo/sip"
)

// streamWriteTimeout bounds every write of a stream case (the 68 KiB line
// included: a target that stops reading cannot hold the attack up).
const streamWriteTimeout = 2 * time.Second

const fixTortureStream = "Frame SIP on streams by Content-Length, within bounds: refuse a message without one (400) or past the " +
	"size limit (413, 513) and close the connection once its framing is lost; give an incomplete message a deadline and close " +
	"its connection when it passes; read each connection on its own, so that no connection, however slow or malformed, holds " +
	"up the listener or the others (RFC 3261 7.5, 18.3, 20.14; RFC 4475 3.1.2.2)."

// streamProbe runs torture cases over one stream transport of the target.
type streamProbe struct {
	env     *Env
	capture *Capture
	target  streamTarget
	wait    time.Duration // for the liveness probe's answer
}

// tortureStream is the part of one stream transport: every RFC 4475
// message, then (TCP and TLS) the stream-only cases, each on a connection
// of its own from a source address of its own, with a liveness OPTIONS on
// a fresh connection after each, sent while the case's connection is
// still open.
func tortureStream(ctx context.Context, env *Env, capture *Capture, t streamTarget) Outcome {
	p := &streamProbe{env: env, capture: capture, target: t, wait: sipTimeout}
	return p.run(ctx)
}

func (p *streamProbe) run(ctx context.Context) Outcome {
	t := p.target
	if err := p.alive(ctx); err != nil {
		return Inconclusivef("the target never answered OPTIONS over %s before the first message (%v)", t.transport, err)
	}
	out := Outcome{Verdict: Resisted}
	out.Evidence = append(out.Evidence, fmt.Sprintf("each message on a %s connection of its own from a source of its own; after each, "+
		"OPTIONS on a fresh connection from another fresh source while the message's connection is open; every RFC 4475 message's "+
		"Call-ID and Via branch suffixed .%s so that none is taken for one sent over another transport (RFC 3261 8.2.2.2, 17.2.3)", t.transport, t.transport))
	cases, notes, err := streamPlan(t)
	if err != nil {
		return Inconclusivef("%v", err)
	}
	out.Evidence = append(out.Evidence, notes...)
	conform, all := 0, make([]tortureCase, 0, len(cases))
	for _, c := range cases {
		all = append(all, c.tortureCase)
		if ctx.Err() != nil {
			return Inconclusivef("stopped over %s before %s: %v", t.transport, c.name, context.Cause(ctx))
		}
		res, err := p.send(ctx, c.build)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: not sent: %v", c.name, err))
			if res.dead = p.alive(ctx); res.dead == nil {
				continue
			}
		} else if record(&out, c.tortureCase, res.result) {
			conform++
		}
		if res.dead != nil {
			while := ", asked while that message's connection was still open"
			if res.result.closed || err != nil {
				while = ""
			}
			out.Verdict, out.Severity = Vulnerable, High
			out.Reason = fmt.Sprintf("the target stopped answering OPTIONS over %s after %s (%s, %s)%s: %v",
				t.transport, c.name, c.citation(), c.what, while, res.dead)
			out.Remediation = fixTortureStream
			return out
		}
	}
	what := fmt.Sprintf("%d RFC 4475 messages", len(tortureCases))
	if extra := len(cases) - len(tortureCases); extra > 0 {
		what += fmt.Sprintf(" and %d stream-only cases", extra)
	}
	out.Reason = fmt.Sprintf("the target kept answering OPTIONS over %s through all %s; %d of %d judged answers as the RFCs ask",
		t.transport, what, conform, judged(all))
	return out
}

// streamPlan is what goes over t: the RFC 4475 messages, each made a
// request of its own for this transport (perTransport, uniqueBranches) and
// its header ended where the file leaves it open, judged as a stream
// judges them on TCP and TLS; then on TCP and TLS the stream-only cases.
// notes say what was changed.
func streamPlan(t streamTarget) (cases []streamCase, notes []string, err error) {
	branches := uniqueBranches{}
	for _, c := range tortureCases {
		msg, err := c.message()
		if err != nil {
			return nil, nil, err
		}
		msg, note := branches.apply(c.name, perTransport(msg, t.transport))
		if note != "" {
			notes = append(notes, note)
		}
		if !bytes.Contains(msg, []byte("\r\n\r\n")) {
			if !bytes.HasSuffix(msg, []byte("\r\n")) {
				msg = append(msg, "\r\n"...)
			}
			msg = append(msg, "\r\n"...)
			notes = append(notes, c.name+": the empty line that ends the header is missing from the file; added, since a stream "+
				"cannot tell where the message ends without it (RFC 3261 7.5)")
		}
		if !t.websocket() {
			c = c.onStream(msg)
		}
		cases = append(cases, streamCase{tortureCase: c, build: func(*sipStream, string) streamSend { return streamSend{data: msg} }})
	}
	if !t.websocket() {
		cases = append(cases, streamCases...)
	}
	return cases, notes, nil
}

// perTransport appends "."+suffix to msg's Call-ID and to its top Via
// branch when that is an RFC 3261 one (magic cookie), so that a target
// that saw the message over another transport takes it for a new request,
// neither a retransmission (RFC 3261 17.2.3) nor a merged request (8.2.2.2).
func perTransport(msg []byte, suffix string) []byte {
	if _, branch := txKey(msg); branch != "" {
		msg = bytes.Replace(msg, []byte(branch), []byte(branch+"."+suffix), 1)
	}
	if id := headerValue(msg, "call-id", "i"); id != "" {
		msg = bytes.Replace(msg, []byte(id), []byte(id+"."+suffix), 1)
	}
	return msg
}

// send writes one case on a connection of its own, checks liveness on a
// fresh connection while that one is open, and collects what came back
// on it: answers until every request in it has a final one, the
// connection closes, or the wait ends (the grace after the liveness
// answer, at most tortureMaxWait).
func (p *streamProbe) send(ctx context.Context, build func(*sipStream, string) streamSend) (tortureSent, error) {
	n, err := p.env.Net(p.capture.Option())
	if err != nil {
		return tortureSent{}, fmt.Errorf("socket layer: %w", err)
	}
	s, err := dialSIPStream(ctx, n, p.target, p.capture, p.wait)
	if err != nil {
		return tortureSent{}, err
	}
	defer func() { _ = s.Close() }()
	plan := build(s, p.env.SIP.Domain)
	out := tortureSent{result: tortureResult{stream: true}}
	if err := writePlan(ctx, s, plan); errors.Is(err, errStreamClosed) {
		out.result.closed = true
	} else if err != nil {
		return out, err
	}
	sent := time.Now()
	out.dead = p.alive(ctx)
	until := time.Now().Add(tortureGrace)
	if out.dead != nil || until.After(sent.Add(tortureMaxWait)) {
		until = sent.Add(tortureMaxWait)
	}
	inv := invite(plan.data)
	want := max(1, len(plan.callIDs))
	var order []string
	finals := func() int { return min(out.result.final, 1) + len(out.result.more) }
	for !out.result.closed && finals() < want {
		res, err := s.read(until)
		if errors.Is(err, errStreamClosed) {
			out.result.closed = true
			break
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			out.result.note = err.Error()
			break
		}
		if res == nil {
			continue
		}
		if !out.result.add(res) {
			continue
		}
		if id := res.CallID(); id != nil {
			order = append(order, id.Value())
		}
		if inv != nil {
			for _, m := range closing(inv, res) {
				_ = s.write(m, time.Now().Add(streamWriteTimeout))
			}
		}
	}
	if len(plan.callIDs) > 1 && len(order) == len(plan.callIDs) && order[0] != plan.callIDs[0] {
		out.result.note = "answered out of order, which RFC 3261 17.1.3 allows: answers match requests by branch and CSeq"
	}
	return out, nil
}

// writePlan writes the case's bytes, in one write or in chunks pause
// apart.
func writePlan(ctx context.Context, s *sipStream, plan streamSend) error {
	chunk := plan.chunk
	if chunk <= 0 {
		chunk = len(plan.data)
	}
	for b := plan.data; len(b) > 0; {
		n := min(chunk, len(b))
		if err := s.write(b[:n], time.Now().Add(streamWriteTimeout)); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && plan.pause > 0 {
			t := time.NewTimer(plan.pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			case <-t.C:
			}
		}
	}
	return nil
}

// alive sends an OPTIONS on a fresh connection from a source of its own
// (a target may limit connections or WebSocket upgrades per source) and
// waits up to p.wait for any final answer to it. It is asked once: a
// stream loses nothing, so unlike over UDP a missing answer is no lost
// probe.
func (p *streamProbe) alive(ctx context.Context) error {
	n, err := p.env.Net(p.capture.Option())
	if err != nil {
		return fmt.Errorf("socket layer: %w", err)
	}
	s, err := dialSIPStream(ctx, n, p.target, p.capture, p.wait)
	if err != nil {
		return fmt.Errorf("OPTIONS over %s: %w", p.target.transport, err)
	}
	defer func() { _ = s.Close() }()
	req := s.request(sip.OPTIONS, p.env.SIP.Domain)
	until := time.Now().Add(p.wait)
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	if err := s.write([]byte(req.String()), until); err != nil {
		return fmt.Errorf("OPTIONS over %s from %s: %w", p.target.transport, s.local, err)
	}
	for {
		res, err := s.read(until)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = errNoAnswer
		}
		if err != nil {
			return fmt.Errorf("OPTIONS over %s from %s: %w", p.target.transport, s.local, err)
		}
		if res != nil && !res.IsProvisional() && answers(res, req) {
			return nil
		}
	}
}
