package attack

import (
	"embed"
	"fmt"
	"slices"
	"strings"
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
)

// tortureCase is one RFC 4475 message and what a conforming server does
// with it (CONFORMANCE.md, RFC 4475 section 3).
type tortureCase struct {
	name    string // file name without .dat
	section string // RFC 4475 section
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
	final       int // 0: no final answer
	reason      string
	provisional []int
}

func (r tortureResult) String() string {
	var parts []string
	for _, p := range r.provisional {
		parts = append(parts, fmt.Sprint(p))
	}
	if r.final != 0 {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%d %s", r.final, r.reason)))
	}
	if len(parts) == 0 {
		return "no answer"
	}
	return strings.Join(parts, ", ")
}

// judge returns whether the answer conforms and one line saying so.
func (c tortureCase) judge(r tortureResult) (ok bool, line string) {
	head := fmt.Sprintf("%s (RFC 4475 %s, %s): %s", c.name, c.section, c.what, r)
	switch c.kind {
	case tortureValid:
		switch {
		case r.final == 400:
			return false, head + "; a valid message was refused"
		case r.final == 0 && len(r.provisional) == 0:
			return false, head + "; a valid message went unanswered"
		}
		return true, head + "; accepted"
	case tortureInvalid:
		switch {
		case slices.Contains(c.want, r.final):
			return true, head + "; as expected"
		case (r.final == 401 || r.final == 403 || r.final == 407) && slices.ContainsFunc(c.want, func(w int) bool { return slices.Contains(challengeFirst, w) }):
			return true, head + fmt.Sprintf("; refused by authentication or policy before the %d RFC 4475 expects, which RFC 3261 8.2 allows", c.want[0])
		case r.final == 0:
			return false, head + fmt.Sprintf("; dropped silently, expected %s", ints(c.want))
		}
		return false, head + fmt.Sprintf("; expected %s", ints(c.want))
	case tortureResponse:
		if r.final != 0 || len(r.provisional) > 0 {
			return false, head + "; a response matching no transaction was answered"
		}
		return true, head + "; dropped, as expected"
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
