package attack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Torture timings: how long after the liveness probe's answer (which
// arrives after the target has read the torture datagram) an answer to the
// torture message is still waited for, and the most any message waits.
const (
	tortureGrace   = 250 * time.Millisecond
	tortureMaxWait = 2 * time.Second
)

const fixTorture = "Make the SIP parser and its read loop survive any datagram: a message that does not parse is answered 400 " +
	"when it is a request that says where to answer (Via, From, To, Call-ID, CSeq), else dropped, and the listener reads on " +
	"(RFC 3261 16.3, 18.3; RFC 4475). Fuzz the parser with the RFC 4475 messages and their mutations."

// Torture sends the RFC 4475 torture messages to the target's SIP side
// over every transport its target file names, UDP, TCP, TLS and WebSocket
// (ws or wss), each message from a source address of its own (on streams,
// on a connection of its own), and after each one checks that the target
// still answers OPTIONS from another source over the same transport (on
// streams, on a fresh connection). Over TCP and TLS the stream-only cases
// follow (torture_stream_cases.go), and once every stream is done, UDP is
// checked once more. It is VULNERABLE when the target stops answering (it
// crashed, hung, its listener died or stopped accepting); answers that
// differ from what RFC 4475 and CONFORMANCE.md ask are warnings
// (conformance, not security). The evidence says per transport what
// happened.
func Torture(ctx context.Context, env *Env) Outcome {
	streams := env.SIP.streamTargets()
	if env.SIP.UDP == "" && len(streams) == 0 {
		return Inconclusivef("torture: the target file gives no SIP UDP, TCP, TLS or WebSocket address")
	}
	capture, err := env.NewCapture("torture")
	if err != nil {
		return Inconclusivef("torture: %v", err)
	}
	defer func() { _ = capture.Close() }()
	var parts []part
	if env.SIP.UDP != "" {
		parts = append(parts, part{transportUDP, tortureUDP(ctx, env, capture)})
	}
	for _, t := range streams {
		parts = append(parts, part{t.transport, tortureStream(ctx, env, capture, t)})
	}
	if env.SIP.UDP != "" && len(streams) > 0 && parts[0].out.Verdict == Resisted {
		parts = append(parts, part{"udp after the streams", udpStillAnswers(ctx, env, capture)})
	}
	out := mergeParts(parts)
	out.Capture = capture.Path()
	if out.Verdict == Resisted && len(out.Warnings) > 0 {
		out.Severity = Info
	}
	return out
}

// udpStillAnswers checks once that OPTIONS over UDP is still answered
// after the stream transports' torture.
func udpStillAnswers(ctx context.Context, env *Env, capture *Capture) Outcome {
	if ctx.Err() != nil {
		return Inconclusivef("stopped before the last UDP check: %v", context.Cause(ctx))
	}
	p, err := openSIPPort(env, capture, 0)
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer func() { _ = p.Close() }()
	if _, err := alive(ctx, p); err != nil {
		return Outcome{Verdict: Vulnerable, Severity: High, Remediation: fixTortureStream,
			Reason: fmt.Sprintf("the target stopped answering OPTIONS over UDP after the stream transports' torture: %v", err)}
	}
	return Outcome{Verdict: Resisted, Reason: "OPTIONS over UDP still answered after the stream transports' torture"}
}

// tortureUDP is the UDP part: every RFC 4475 message in a datagram of its
// own, each from a source address of its own.
func tortureUDP(ctx context.Context, env *Env, capture *Capture) Outcome {
	live, err := openSIPPort(env, capture, 0)
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer func() { _ = live.Close() }()
	if _, err := alive(ctx, live); err != nil {
		return Inconclusivef("the target never answered OPTIONS over UDP before the first message (%v)", err)
	}
	out := Outcome{Verdict: Resisted}
	conform := 0
	branches := uniqueBranches{}
	for _, c := range tortureCases {
		if ctx.Err() != nil {
			return Inconclusivef("stopped before %s: %v", c.name, context.Cause(ctx))
		}
		msg, err := c.message()
		if err != nil {
			return Inconclusivef("%v", err)
		}
		msg, note := branches.apply(c.name, msg)
		if note != "" {
			out.Evidence = append(out.Evidence, note)
		}
		res, err := sendTorture(ctx, env, capture, live, msg)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: not sent: %v", c.name, err))
			continue
		}
		if record(&out, c, res.result) {
			conform++
		}
		if res.dead != nil {
			out.Verdict, out.Severity = Vulnerable, High
			out.Reason = fmt.Sprintf("the target stopped answering OPTIONS over UDP after the RFC 4475 message %s (%s): %v", c.name, c.what, res.dead)
			out.Remediation = fixTorture
			return out
		}
	}
	out.Reason = fmt.Sprintf("the target kept answering OPTIONS over UDP through all %d RFC 4475 messages; %d of %d judged answers as RFC 4475 asks",
		len(tortureCases), conform, judged(tortureCases))
	return out
}

// record judges one answer into out (evidence when it conforms or is only
// recorded, a warning when not) and reports whether it counts as
// conforming.
func record(out *Outcome, c tortureCase, r tortureResult) bool {
	ok, line := c.judge(r)
	switch {
	case c.kind == tortureRecorded:
		out.Evidence = append(out.Evidence, line)
		return false
	case ok:
		out.Evidence = append(out.Evidence, line)
		return true
	}
	out.Warnings = append(out.Warnings, line)
	return false
}

// judged is how many of cases are judged, not only recorded.
func judged(cases []tortureCase) int {
	n := 0
	for _, c := range cases {
		if c.kind != tortureRecorded {
			n++
		}
	}
	return n
}

// tortureSent is one message's outcome.
type tortureSent struct {
	result tortureResult
	dead   error // the liveness probe after it went unanswered
}

// sendTorture sends one message from a socket bound to the port its top
// Via names (where a conforming server sends the answer, RFC 3261 18.2.2),
// then a liveness OPTIONS, and collects the answers.
func sendTorture(ctx context.Context, env *Env, capture *Capture, live *sipPort, msg []byte) (tortureSent, error) {
	p, err := openSIPPort(env, capture, viaPort(msg))
	if err != nil {
		return tortureSent{}, err
	}
	defer func() { _ = p.Close() }()
	sent := time.Now()
	if err := p.send(msg); err != nil {
		return tortureSent{}, err
	}
	var out tortureSent
	if _, err := alive(ctx, live); err != nil {
		// One more chance: a busy target may have lost the probe.
		if _, err = alive(ctx, live); err != nil {
			out.dead = err
		}
	}
	until := time.Now().Add(tortureGrace)
	if out.dead != nil || until.After(sent.Add(tortureMaxWait)) {
		until = sent.Add(tortureMaxWait)
	}
	inv := invite(msg)
	for {
		res, _, err := p.read(until)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
			break
		}
		if err != nil {
			return out, err
		}
		if res == nil {
			continue
		}
		if !out.result.add(res) {
			continue
		}
		if inv != nil {
			p.acknowledge(inv, res)
		}
		break
	}
	return out, nil
}

// invite returns msg as an INVITE whose final answer can be acknowledged
// (it parses and has Via, From, Call-ID and CSeq), else nil.
func invite(msg []byte) *sip.Request {
	m, _ := sip.ParseMessage(msg)
	inv, _ := m.(*sip.Request)
	if inv != nil && inv.IsInvite() && inv.Via() != nil && inv.From() != nil && inv.CallID() != nil && inv.CSeq() != nil {
		return inv
	}
	return nil
}

// alive sends a well-formed OPTIONS and waits for any final answer.
func alive(ctx context.Context, p *sipPort) (*sip.Response, error) {
	req := p.request(sip.OPTIONS, p.uri(""), "gauntlet", "gauntlet")
	ans, err := p.exchange(ctx, req, sipTimeout)
	if err != nil {
		return nil, fmt.Errorf("OPTIONS from %s: %w", p.source(), err)
	}
	return ans.final, nil
}

// viaPort is the port of the message's top Via sent-by, where a conforming
// server answers over UDP (RFC 3261 18.2.2; 5060 when the Via names none
// or cannot be read).
func viaPort(msg []byte) int {
	if v := headerValue(msg, "via", "v"); v != "" {
		return sentByPort(v)
	}
	return 5060
}

// headerValue is the first header field of one of names (lower case), its
// folded lines joined, read leniently from the raw message.
func headerValue(msg []byte, names ...string) string {
	head, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for i := 1; i < len(lines); i++ {
		name, value, ok := strings.Cut(lines[i], ":")
		if !ok || !slices.Contains(names, strings.ToLower(strings.TrimSpace(name))) {
			continue
		}
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
			i++
			value += " " + lines[i]
		}
		return strings.TrimSpace(value)
	}
	return ""
}

var branchParam = regexp.MustCompile(`(?i);\s*branch\s*=\s*([^;,\s]+)`)

// txKey is what RFC 3261 17.2.3 matches a server transaction by, read
// leniently: the top Via's branch (with the magic cookie) and sent-by, and
// the CSeq method; "" when the message has no such branch.
func txKey(msg []byte) (key, branch string) {
	via := headerValue(msg, "via", "v")
	m := branchParam.FindStringSubmatch(via)
	if m == nil || !strings.HasPrefix(m[1], "z9hG4bK") || len(m[1]) == len("z9hG4bK") {
		return "", ""
	}
	sentBy, _, _ := strings.Cut(via, ";")
	cseq := strings.Fields(headerValue(msg, "cseq"))
	method := ""
	if len(cseq) > 0 {
		method = strings.ToUpper(cseq[len(cseq)-1])
	}
	return strings.ToLower(strings.Join(strings.Fields(sentBy), "")) + "|" + m[1] + "|" + method, m[1]
}

// uniqueBranches gives a message whose transaction key repeats an earlier
// message's a branch of its own (the RFC 4475 messages reuse branches,
// and a server rightly takes a repeat within 32 s for a retransmission of
// the earlier request). It returns the message and a note, or the message
// unchanged.
type uniqueBranches map[string]string

func (u uniqueBranches) apply(name string, msg []byte) ([]byte, string) {
	key, branch := txKey(msg)
	if key == "" {
		return msg, ""
	}
	if first, ok := u[key]; ok {
		fresh := branch + "." + name
		return bytes.Replace(msg, []byte(branch), []byte(fresh), 1),
			fmt.Sprintf("%s: branch %s made %s (it repeats %s's Via and CSeq method; RFC 3261 17.2.3 would match it to that transaction)", name, branch, fresh, first)
	}
	u[key] = name
	return msg, ""
}

// sentByPort reads the port of the first via-parm in a Via value
// ("SIP/2.0/UDP host:port;params, ...").
func sentByPort(value string) int {
	value, _, _ = strings.Cut(value, ",")
	fields := strings.Fields(strings.NewReplacer("/", " / ").Replace(value))
	// protocol-name / version / transport sent-by...
	if len(fields) < 6 {
		return 5060
	}
	sentBy := strings.Join(fields[5:], "")
	sentBy, _, _ = strings.Cut(sentBy, ";")
	if strings.HasPrefix(sentBy, "[") {
		_, sentBy, _ = strings.Cut(sentBy, "]")
	} else if i := strings.LastIndex(sentBy, ":"); i >= 0 {
		sentBy = sentBy[i:]
	} else {
		return 5060
	}
	port, err := strconv.Atoi(strings.TrimPrefix(sentBy, ":"))
	if err != nil || port < 1 || port > 65535 {
		return 5060
	}
	return port
}
