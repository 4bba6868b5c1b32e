package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// What a torture case expects of the server.
type stunTortureExpect int

const (
	stunExpectSilence stunTortureExpect = iota // RFC 8489 6.3: discarded, no answer
	stunExpectCode                             // an error response with the case's code
	stunExpectSuccess                          // a success response
	stunExpectSurvive                          // any answer or none; the server must keep answering
)

// stunTortureAuth is what a case may sign with: a valid username, the realm
// and nonce the server gave, and a wrong password.
type stunTortureAuth struct {
	username, realm, nonce string
}

// stunTortureCase is one malformed (or odd) message and what the server must
// do with it.
type stunTortureCase struct {
	name    string
	rfc     string // the clause the expectation comes from
	build   func(id [stun.TransactionIDSize]byte, a stunTortureAuth) []byte
	expect  stunTortureExpect
	code    int
	unknown uint16 // for 420: the attribute UNKNOWN-ATTRIBUTES must list
	twice   bool   // sent again as a retransmission, which must get the same answer
	lenient string // for a case only to survive: a warning when the server answered it
	// refuseOnly: any refusal (or none) holds the defence, a success fails
	// it at the case's severity; a code other than code is a warning.
	// Otherwise a wrong or missing code is a Low deviation.
	refuseOnly bool
	severity   string // of a wrong answer (the server going silent for good is High)
}

const (
	stunUnknownRequired = 0x7F01 // comprehension-required, assigned to nothing
	stunUnknownOptional = 0xC0F1 // comprehension-optional, assigned to nothing
	stunAttrSoftware    = 0x8022
)

var (
	stunBindingRequest = stun.BindingRequest.Value()
	stunAllocate       = stun.NewType(stun.MethodAllocate, stun.ClassRequest)
)

// stunTortureCases are the STUN/TURN torture messages, sent over UDP.
var stunTortureCases = []stunTortureCase{
	{name: "empty-datagram", rfc: "RFC 8489 6.3", expect: stunExpectSilence, severity: Low,
		build: func([stun.TransactionIDSize]byte, stunTortureAuth) []byte { return []byte{} }},
	{name: "header-cut-short", rfc: "RFC 8489 6.3", expect: stunExpectSilence, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return rawSTUN(stunBindingRequest, 0, stunCookie, id)[:12]
		}},
	{name: "bad-magic-cookie", rfc: "RFC 8489 6.3", expect: stunExpectSilence, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return rawSTUN(stunBindingRequest, -1, stunCookie^1, id)
		}},
	{name: "length-not-multiple-of-4", rfc: "RFC 8489 6.3", expect: stunExpectSilence, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return rawSTUN(stunBindingRequest, -1, stunCookie, id, stunAttr{typ: stunAttrSoftware, value: []byte("ab"), length: -1, unpadded: true})
		}},
	{name: "length-past-datagram", rfc: "RFC 8489 6.3", expect: stunExpectSilence, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			m := stunWellFormed(stun.BindingRequest, id, true)
			return m[:len(m)-4]
		}},
	// RFC 8489 6.3 names the header checks that discard a message; an
	// attribute running past the end is a parser's choice to drop or skip.
	{name: "attribute-past-message", rfc: "RFC 8489 6.3", expect: stunExpectSurvive,
		lenient: "answered a message whose attribute runs past its end: a lenient parser (dropping it is safer)",
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return rawSTUN(stunBindingRequest, 8, stunCookie, id, stunAttr{typ: stunAttrSoftware, value: []byte("abcd"), length: 200})
		}},
	{name: "bad-fingerprint", rfc: "RFC 8489 14.7", expect: stunExpectSilence, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			m := stunWellFormed(stun.BindingRequest, id, true)
			m[len(m)-1] ^= 0xFF
			return m
		}},
	{name: "unknown-comprehension-required", rfc: "RFC 8489 6.3.1", expect: stunExpectCode, code: int(stun.CodeUnknownAttribute),
		unknown: stunUnknownRequired, twice: true, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.BindingRequest, id, true, stunAttrOf(stunUnknownRequired, []byte("junk")))
		}},
	{name: "unknown-comprehension-optional", rfc: "RFC 8489 6.3.1", expect: stunExpectSuccess, severity: Low,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.BindingRequest, id, true, stunAttrOf(stunUnknownOptional, []byte("junk")))
		}},
	{name: "bad-message-integrity", rfc: "RFC 8489 9.2.4", expect: stunExpectCode, code: int(stun.CodeUnauthorized), severity: High, refuseOnly: true,
		build: func(id [stun.TransactionIDSize]byte, a stunTortureAuth) []byte {
			m := &stun.Message{Type: stunAllocate, TransactionID: id}
			m.WriteHeader()
			for _, s := range []stun.Setter{
				turnload.RequestedTransport(turnload.ProtoUDP), stun.NewUsername(a.username), stun.NewRealm(a.realm),
				stun.NewNonce(a.nonce), stun.NewLongTermIntegrity(a.username, a.realm, "not-the-password"), stun.Fingerprint,
			} {
				_ = s.AddTo(m) // adding to a message being built cannot fail
			}
			return append([]byte(nil), m.Raw...)
		}},
	// Many attributes in a datagram that still fits a 1500-byte path, then
	// one far over any path's MTU.
	{name: "many-optional-attributes", rfc: "RFC 8489 6.3", expect: stunExpectSurvive,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.BindingRequest, id, true, stunManyAttrs(stunUnknownOptional, 340)...)
		}},
	{name: "many-required-attributes", rfc: "RFC 8489 6.3.1", expect: stunExpectSurvive,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.BindingRequest, id, true, stunManyAttrs(0x4000, 340)...)
		}},
	{name: "oversized-datagram", rfc: "RFC 8489 6.3", expect: stunExpectSurvive,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.BindingRequest, id, true, stunManyAttrs(stunUnknownOptional, 4000)...)
		}},
	{name: "unknown-method", rfc: "RFC 8489 6.3", expect: stunExpectSurvive,
		build: func(id [stun.TransactionIDSize]byte, _ stunTortureAuth) []byte {
			return stunWellFormed(stun.NewType(stun.Method(0x0FF), stun.ClassRequest), id, true)
		}},
	{name: "channeldata-unbound", rfc: "RFC 8656 12.4", expect: stunExpectSurvive,
		build: func([stun.TransactionIDSize]byte, stunTortureAuth) []byte {
			return stunChannelData(0x4FFE, -1, []byte("junk"))
		}},
	{name: "channeldata-length-past-datagram", rfc: "RFC 8656 12.4", expect: stunExpectSurvive,
		build: func([stun.TransactionIDSize]byte, stunTortureAuth) []byte {
			return stunChannelData(0x4001, 1000, []byte("junk"))
		}},
}

// TURNTorture sends malformed and odd STUN/TURN messages to the target's
// TURN server over UDP (RFC 8489 6.3, 6.3.1, 9.2.4, 14.7; RFC 8656 12.4)
// and checks each answer: malformed messages dropped silently, an unknown
// comprehension-required attribute answered 420 listing it (the same for
// a retransmission), a comprehension-optional one ignored, a bad
// MESSAGE-INTEGRITY refused with 401, and a valid Binding answered after
// every case and from a fresh 5-tuple at the end. It is the STUN/TURN half
// of the torture attack.
func TURNTorture(ctx context.Context, env *Env) Outcome {
	s, err := openTURNSession(ctx, env, "turn-torture")
	if err != nil {
		return Inconclusivef("turn-torture: %v", err)
	}
	out := runSTUNTorture(ctx, s)
	if err := s.close(); err != nil {
		out.Warnings = append(out.Warnings, "cleanup: "+err.Error())
	}
	out.Capture = s.capture.Path()
	return out
}

func runSTUNTorture(ctx context.Context, s *turnSession) Outcome {
	username, password := s.env.TURN.credentials(s.user)
	cl, err := s.dial(ctx, username, password, nil)
	if err != nil {
		return Inconclusivef("turn-torture: %v", err)
	}
	if _, err := stunTortureBinding(ctx, cl); err != nil {
		return Inconclusivef("turn-torture: the server never answered a valid Binding before the torture (%v)", err)
	}
	lctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
	err = cl.Learn(lctx)
	cancel()
	auth := stunTortureAuth{username: username}
	if err == nil {
		auth.realm, auth.nonce = cl.Learned()
	}
	var checks []turnCheck
	for _, tc := range stunTortureCases {
		if tc.name == "bad-message-integrity" && err != nil {
			checks = append(checks, turnCheck{name: tc.name, verdict: Inconclusive, summary: fmt.Sprintf("no REALM and NONCE to sign with: %v", err)})
			continue
		}
		c, alive := stunTortureOne(ctx, cl, tc, auth)
		checks = append(checks, c)
		if !alive {
			out := combineTURNChecks("turn-torture", checks)
			out.Evidence = append([]string{fmt.Sprintf("server %s over UDP", s.server)}, out.Evidence...)
			return out
		}
	}
	checks = append(checks, stunFreshBinding(ctx, s))
	out := combineTURNChecks("turn-torture", checks)
	out.Evidence = append([]string{fmt.Sprintf("server %s over UDP, %d cases", s.server, len(stunTortureCases))}, out.Evidence...)
	return out
}

// stunTortureBinding is a valid Binding request, bounded.
func stunTortureBinding(ctx context.Context, cl *turnload.Client) (time.Duration, error) {
	bctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
	defer cancel()
	start := time.Now()
	_, err := cl.Binding(bctx)
	return time.Since(start), err
}

// stunFreshBinding checks the server still answers a new 5-tuple.
func stunFreshBinding(ctx context.Context, s *turnSession) turnCheck {
	c := turnCheck{name: "alive"}
	cl, err := s.dial(ctx, "", "", nil)
	if err != nil {
		c.inconclusive("could not open a client: %v", err)
		return c
	}
	if took, err := stunTortureBinding(ctx, cl); ctx.Err() != nil {
		c.inconclusive("stopped: %v", ctx.Err())
	} else if err != nil {
		c.vulnerable(High, stunFixAlive, "the server no longer answers a Binding from a new client (%v)", err)
	} else {
		c.resisted("the server answered a Binding from a new client in %.1f ms after every case", float64(took.Microseconds())/1000)
	}
	return c
}

const (
	stunFixAlive = "Harden the STUN/TURN parser: a malformed message must be dropped without affecting the server; run it under a fuzzer (RFC 8489 6.3)."
	stunFixWrong = "Validate STUN messages as RFC 8489 6.3 and 14.7 say: discard bad lengths, cookies and FINGERPRINTs silently; answer unknown comprehension-required attributes with 420 and UNKNOWN-ATTRIBUTES; refuse a bad MESSAGE-INTEGRITY with 401."
)

// stunAnswerWait is how long a case waits for an answer it expects,
// and stunLateWait how long, after the server answered a later Binding,
// for an answer it must not get.
const (
	stunAnswerWait = 2 * time.Second
	stunLateWait   = 100 * time.Millisecond
)

// stunTortureOne sends one case and judges the answer; alive is false when the
// server stopped answering a valid Binding after it.
func stunTortureOne(ctx context.Context, cl *turnload.Client, tc stunTortureCase, auth stunTortureAuth) (c turnCheck, alive bool) {
	c = turnCheck{name: tc.name}
	var id [stun.TransactionIDSize]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	raw := tc.build(id, auth)
	sends := 1
	if tc.twice {
		sends = 2
	}
	var answers []*stun.Message
	var after time.Duration
	stray := cl.Stray()
	for range sends {
		got, stop := cl.Watch(id)
		if err := cl.SendRaw(raw); err != nil {
			stop()
			c.inconclusive("sending %d bytes: %v", len(raw), err)
			return c, true
		}
		var r *stun.Message
		if tc.expect == stunExpectCode || tc.expect == stunExpectSuccess {
			r = stunTortureWait(ctx, got, stunAnswerWait)
		}
		took, err := stunTortureBinding(ctx, cl)
		if err != nil && ctx.Err() != nil {
			stop()
			c.inconclusive("stopped: %v", ctx.Err())
			return c, false
		}
		if err != nil {
			stop()
			c.fact("sent %d bytes, then a valid Binding: no answer (%v)", len(raw), err)
			c.vulnerable(High, stunFixAlive, "the server stopped answering after %s", tc.name)
			return c, false
		}
		if r == nil {
			r = stunTortureWait(ctx, got, stunLateWait)
		}
		stop()
		answers = append(answers, r)
		after = max(after, took)
	}
	judgeSTUNTorture(&c, tc, len(raw), answers, cl.Stray()-stray)
	c.fact("a valid Binding after it: answered in %.1f ms", float64(after.Microseconds())/1000)
	return c, true
}

func stunTortureWait(ctx context.Context, got <-chan *stun.Message, d time.Duration) *stun.Message {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-got:
		return r
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// describeSTUNAnswer says what a response was, for the evidence.
func describeSTUNAnswer(r *stun.Message) string {
	if r == nil {
		return "no answer"
	}
	if r.Type.Class == stun.ClassSuccessResponse {
		return fmt.Sprintf("%s (%d bytes)", r.Type, len(r.Raw))
	}
	var ec stun.ErrorCodeAttribute
	if ec.GetFrom(r) != nil {
		return fmt.Sprintf("%s without ERROR-CODE", r.Type)
	}
	return fmt.Sprintf("%s %d %s (%d bytes)", r.Type, ec.Code, stunPrintable(string(ec.Reason)), len(r.Raw))
}

// judgeSTUNTorture decides a case from the answers to each sending (nil: none)
// and the datagrams the client could not match (stray).
func judgeSTUNTorture(c *turnCheck, tc stunTortureCase, size int, answers []*stun.Message, stray int64) {
	for i, r := range answers {
		label := fmt.Sprintf("sent %d bytes", size)
		if i > 0 {
			label = "sent again (a retransmission)"
		}
		c.fact("%s: %s", label, describeSTUNAnswer(r))
	}
	first := answers[0]
	switch tc.expect {
	case stunExpectSurvive:
		if first != nil && tc.lenient != "" {
			c.warn("%s", tc.lenient)
		}
		c.resisted("the server kept answering valid requests (this message got: %s)", describeSTUNAnswer(first))
	case stunExpectSilence:
		switch {
		case first != nil:
			c.vulnerable(tc.severity, stunFixWrong, "answered a message %s says to discard: %s", tc.rfc, describeSTUNAnswer(first))
		case stray > 0 && tc.name == "bad-magic-cookie":
			c.vulnerable(tc.severity, stunFixWrong, "sent back %d datagram(s) that are not STUN to a message %s says to discard", stray, tc.rfc)
		default:
			c.resisted("dropped silently (%s)", tc.rfc)
		}
	case stunExpectSuccess:
		if first == nil || first.Type.Class != stun.ClassSuccessResponse {
			c.vulnerable(tc.severity, stunFixWrong, "a comprehension-optional attribute was not ignored (%s): %s", tc.rfc, describeSTUNAnswer(first))
			return
		}
		c.resisted("ignored the comprehension-optional attribute (%s)", tc.rfc)
	case stunExpectCode:
		judgeSTUNTortureCode(c, tc, answers)
	}
}

func judgeSTUNTortureCode(c *turnCheck, tc stunTortureCase, answers []*stun.Message) {
	var codes []int
	for _, r := range answers {
		if r == nil {
			codes = append(codes, 0)
			continue
		}
		if r.Type.Class == stun.ClassSuccessResponse {
			c.vulnerable(tc.severity, stunFixWrong, "accepted what %s says to refuse with %d: %s", tc.rfc, tc.code, describeSTUNAnswer(r))
			return
		}
		var ec stun.ErrorCodeAttribute
		_ = ec.GetFrom(r) // a missing ERROR-CODE reads as 0
		codes = append(codes, int(ec.Code))
		if tc.unknown != 0 && int(ec.Code) == tc.code {
			var ua stun.UnknownAttributes
			if ua.GetFrom(r) != nil || !slices.Contains(ua, stun.AttrType(tc.unknown)) {
				c.vulnerable(Low, stunFixWrong, "%d without UNKNOWN-ATTRIBUTES listing 0x%04X (%s)", tc.code, tc.unknown, tc.rfc)
				return
			}
		}
	}
	if slices.ContainsFunc(codes, func(code int) bool { return code != tc.code }) {
		if tc.refuseOnly {
			c.warn("answered %v (0: no answer); %s asks for %d", codes, tc.rfc, tc.code)
			c.resisted("refused, no success")
			return
		}
		c.vulnerable(Low, stunFixWrong, "answered %v (0: no answer) where %s asks for %d each time", codes, tc.rfc, tc.code)
		return
	}
	c.resisted("answered %d as %s asks", tc.code, tc.rfc)
}

// stunPrintable is s without control characters (some servers pad a reason
// phrase with NULs), for the evidence.
func stunPrintable(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return -1
		}
		return r
	}, s))
}
