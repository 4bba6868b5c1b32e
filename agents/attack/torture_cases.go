package attack

import (
	"embed"
	"fmt"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// tortureFiles are the RFC 4475 messages (testdata/rfc4475/SOURCE.md).
//
//go:embed testdata/rfc4475/*.dat
var tortureFiles embed.FS

// Kinds of torture message.
const (
	tortureValid    = "valid"    // a request to accept: any provisional, or a final other than 400
	tortureInvalid  = "invalid"  // a request to refuse with one of want
	tortureResponse = "response" // a response matching no transaction: to drop silently
	tortureRecorded = "recorded" // sent for robustness; the answer is shown, not judged
	// Kinds only stream transports have (torture_stream_cases.go).
	tortureIncomplete = "incomplete" // a message whose body has not all come: to wait for, refuse or close on, never to answer as whole
	tortureOversize   = "oversize"   // a message past any sane bound: to refuse (4xx, 513) or close on
	torturePipelined  = "pipelined"  // two requests in one write: both to answer
)

// streamKinds are the RFC 4475 messages that mean something else on a
// stream transport. clerr's Content-Length is larger than its body: in a
// datagram that is an error to answer 400, on a stream the rest of the
// body may still come, so the receiver waits and closes the connection if
// none is forthcoming (RFC 4475 3.1.2.2).
var streamKinds = map[string]string{"clerr": tortureIncomplete}

// onStream returns the case as judged over TCP or TLS, where msg, its
// bytes, go: a message without Content-Length cannot be framed there
// (RFC 3261 20.14), so it is to refuse (400) or close on, whatever it is
// in a datagram.
func (c tortureCase) onStream(msg []byte) tortureCase {
	if k, ok := streamKinds[c.name]; ok {
		c.kind = k
	}
	if c.kind != tortureRecorded && c.kind != tortureResponse && headerValue(msg, "content-length", "l") == "" {
		c.kind, c.want = tortureInvalid, []int{400}
		c.what += "; no Content-Length, which a stream requires (RFC 3261 20.14)"
	}
	return c
}

// tortureCase is one RFC 4475 message, or one stream-only case, and what a
// conforming server does with it (CONFORMANCE.md, RFC 4475 section 3).
type tortureCase struct {
	name    string // file name without .dat, or the stream-only case's name
	section string // RFC 4475 section, or "RFC nnnn s.s" for a clause of another RFC
	kind    string
	want    []int  // tortureInvalid: the answers RFC 4475 asks for
	what    string // what the message tries
}

// challengeFirst are answers RFC 3261 8.2 lets authentication and
// authorization come before: a server that demands credentials, or
// refuses a caller by policy, may answer 401, 407 or 403 before it
// inspects methods, headers and bodies.
var challengeFirst = []int{415, 416, 420}

var tortureCases = []tortureCase{
	{"wsinv", "3.1.1.1", tortureValid, nil, "a short tortuous INVITE (folding, compact forms, odd whitespace)"},
	{"intmeth", "3.1.1.2", tortureValid, nil, "a wide range of valid characters in method and URI"},
	{"esc01", "3.1.1.3", tortureValid, nil, "valid % escaping"},
	{"escnull", "3.1.1.4", tortureValid, nil, "escaped NULs in URIs"},
	{"esc02", "3.1.1.5", tortureValid, nil, "% that is not an escape"},
	{"lwsdisp", "3.1.1.6", tortureValid, nil, "no LWS between display name and <"},
	{"longreq", "3.1.1.7", tortureValid, nil, "long header values"},
	{"dblreq", "3.1.1.8", tortureValid, nil, "extra octets after the message in the datagram"},
	{"semiuri", "3.1.1.9", tortureValid, nil, "semicolons in the URI user part"},
	{"transports", "3.1.1.10", tortureValid, nil, "varied and unknown Via transports"},
	{"mpart01", "3.1.1.11", tortureValid, nil, "a multipart MIME body with binary parts"},
	{"unreason", "3.1.1.12", tortureResponse, nil, "a response with an unusual reason phrase"},
	{"noreason", "3.1.1.13", tortureResponse, nil, "a response with an empty reason phrase"},
	{"badinv01", "3.1.2.1", tortureInvalid, []int{400}, "extraneous header field separators"},
	{"clerr", "3.1.2.2", tortureInvalid, []int{400}, "Content-Length larger than the message"},
	{"ncl", "3.1.2.3", tortureRecorded, nil, "negative Content-Length"},
	{"scalar02", "3.1.2.4", tortureInvalid, []int{400}, "overlarge scalar values in a request"},
	{"scalarlg", "3.1.2.5", tortureResponse, nil, "a response with overlarge scalar values"},
	{"quotbal", "3.1.2.6", tortureInvalid, []int{400}, "an unterminated quoted display name"},
	{"ltgtruri", "3.1.2.7", tortureInvalid, []int{400}, "<> around the Request-URI"},
	{"lwsruri", "3.1.2.8", tortureInvalid, []int{400}, "LWS inside the Request-URI"},
	{"lwsstart", "3.1.2.9", tortureRecorded, nil, "several SP between Request-Line elements"},
	{"trws", "3.1.2.10", tortureRecorded, nil, "SP at the end of the Request-Line"},
	{"escruri", "3.1.2.11", tortureRecorded, nil, "escaped headers in the Request-URI"},
	{"baddate", "3.1.2.12", tortureRecorded, nil, "an invalid time zone in Date"},
	{"regbadct", "3.1.2.13", tortureInvalid, []int{400}, "a Contact name-addr with parameters but no <>"},
	{"badaspec", "3.1.2.14", tortureInvalid, []int{400}, "spaces within an addr-spec"},
	{"baddn", "3.1.2.15", tortureInvalid, []int{400}, "non-token characters in a display name"},
	{"badvers", "3.1.2.16", tortureInvalid, []int{505}, "SIP version 7.0"},
	{"mismatch01", "3.1.2.17", tortureInvalid, []int{400}, "Request-Line and CSeq methods differ"},
	{"mismatch02", "3.1.2.18", tortureRecorded, nil, "an unknown method with a CSeq mismatch"},
	{"bigcode", "3.1.2.19", tortureResponse, nil, "a response with an overlarge status code"},
	{"badbranch", "3.2.1", tortureRecorded, nil, "a branch of only the magic cookie"},
	{"insuf", "3.3.1", tortureInvalid, []int{400}, "required header fields missing"},
	{"unkscm", "3.3.2", tortureInvalid, []int{416}, "a Request-URI of an unknown scheme"},
	{"novelsc", "3.3.3", tortureRecorded, nil, "a Request-URI of a known but atypical scheme"},
	{"unksm2", "3.3.4", tortureRecorded, nil, "unknown URI schemes in To, From and Contact"},
	{"bext01", "3.3.5", tortureInvalid, []int{420}, "unsupported Require and Proxy-Require"},
	{"invut", "3.3.6", tortureInvalid, []int{415}, "an unknown Content-Type"},
	{"regaut01", "3.3.7", tortureRecorded, nil, "an unknown Authorization scheme"},
	{"multi01", "3.3.8", tortureInvalid, []int{400}, "several values in single-value header fields"},
	{"mcl01", "3.3.9", tortureInvalid, []int{400}, "several Content-Length values"},
	{"bcast", "3.3.10", tortureResponse, nil, "a 200 OK with a broadcast Via"},
	{"zeromf", "3.3.11", tortureInvalid, []int{483, 200}, "Max-Forwards 0 (483 at a proxy; a UAS may answer the OPTIONS)"},
	{"cparam01", "3.3.12", tortureRecorded, nil, "a REGISTER with a Contact header parameter"},
	{"cparam02", "3.3.13", tortureRecorded, nil, "a REGISTER with a URL parameter in Contact"},
	{"regescrt", "3.3.14", tortureRecorded, nil, "a REGISTER with an escaped header in Contact"},
	{"sdp01", "3.3.15", tortureRecorded, nil, "an INVITE whose Accept the UAS cannot meet"},
	{"inv2543", "3.4.1", tortureValid, nil, "an RFC 2543 INVITE (backward compatibility)"},
}

// message returns the case's bytes.
func (c tortureCase) message() ([]byte, error) {
	b, err := tortureFiles.ReadFile("testdata/rfc4475/" + c.name + ".dat")
	if err != nil {
		return nil, fmt.Errorf("torture message %s: %w", c.name, err)
	}
	return b, nil
}

// tortureResult is what the target did with one message.
type tortureResult struct {
	final       int // the first final answer; 0: none
	reason      string
	provisional []int
	more        []int // further final answers on the same connection (pipelined requests)
	stream      bool  // over a stream transport, where closing the connection is an answer too
	closed      bool  // stream: the target closed the connection
	note        string
}

// add records one answer: a provisional one, the first final one, or a
// further final one (pipelined requests). It says whether res was final.
func (r *tortureResult) add(res *sip.Response) (final bool) {
	switch {
	case res.IsProvisional():
		r.provisional = append(r.provisional, res.StatusCode)
		return false
	case r.final == 0:
		r.final, r.reason = res.StatusCode, res.Reason
	default:
		r.more = append(r.more, res.StatusCode)
	}
	return true
}

func (r tortureResult) String() string {
	var parts []string
	for _, p := range r.provisional {
		parts = append(parts, fmt.Sprint(p))
	}
	if r.final != 0 {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%d %s", r.final, r.reason)))
	}
	for _, m := range r.more {
		parts = append(parts, fmt.Sprint(m))
	}
	switch {
	case r.closed:
		parts = append(parts, "connection closed")
	case len(parts) == 0 && r.stream:
		parts = append(parts, "no answer, connection left open")
	case len(parts) == 0:
		parts = append(parts, "no answer")
	}
	s := strings.Join(parts, ", ")
	if r.note != "" {
		s += " (" + r.note + ")"
	}
	return s
}

// answered reports whether any answer came.
func (r tortureResult) answered() bool { return r.final != 0 || len(r.provisional) > 0 }

// citation is where the case's expectation comes from.
func (c tortureCase) citation() string {
	if strings.HasPrefix(c.section, "RFC ") {
		return c.section
	}
	return "RFC 4475 " + c.section
}

// judge returns whether the answer conforms and one line saying so.
func (c tortureCase) judge(r tortureResult) (ok bool, line string) {
	head := fmt.Sprintf("%s (%s, %s): %s", c.name, c.citation(), c.what, r)
	switch c.kind {
	case tortureValid:
		switch {
		case r.final == 400:
			return false, head + "; a valid message was refused"
		case !r.answered() && r.closed:
			return false, head + "; a valid message got the connection closed without an answer"
		case !r.answered():
			return false, head + "; a valid message went unanswered"
		}
		return true, head + "; accepted"
	case tortureInvalid:
		switch {
		case slices.Contains(c.want, r.final):
			return true, head + "; as expected"
		case (r.final == 401 || r.final == 403 || r.final == 407) && slices.ContainsFunc(c.want, func(w int) bool { return slices.Contains(challengeFirst, w) }):
			return true, head + fmt.Sprintf("; refused by authentication or policy before the %d RFC 4475 expects, which RFC 3261 8.2 allows", c.want[0])
		case r.final == 0 && r.closed:
			return true, head + fmt.Sprintf("; closed instead of %s, which a stream receiver that cannot take the message may do (RFC 3261 18.3)", ints(c.want))
		case r.final == 0 && r.stream:
			return false, head + fmt.Sprintf("; silent with the connection left open past the grace, expected %s or a close", ints(c.want))
		case r.final == 0:
			return false, head + fmt.Sprintf("; dropped silently, expected %s", ints(c.want))
		}
		return false, head + fmt.Sprintf("; expected %s", ints(c.want))
	case tortureResponse:
		if r.answered() {
			return false, head + "; a response matching no transaction was answered"
		}
		return true, head + "; dropped, as expected"
	case tortureIncomplete:
		switch r.final {
		case 0:
			return true, head + "; nothing answered while the rest of the body could still come (RFC 4475 3.1.2.2)"
		case 400, 408, 413:
			return true, head + "; refused"
		}
		return false, head + "; answered as if the message had come whole: the stream's framing is lost (RFC 3261 18.3)"
	case tortureOversize:
		switch {
		case r.final >= 400 && r.final < 500 || r.final == 513:
			return true, head + "; refused"
		case r.final == 0 && r.closed:
			return true, head + "; the connection closed"
		case r.final == 0:
			return false, head + "; silent with the connection left open: the target may be buffering it without bound"
		}
		return false, head + "; answered as if the message were acceptable"
	case torturePipelined:
		if r.final != 0 && len(r.more) > 0 {
			return true, head + "; both answered"
		}
		return false, head + "; not every request in the segment was answered: the stream's framing is lost (RFC 3261 7.5)"
	}
	return true, head
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " or ")
}
