package attack

import (
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Bounds of the stream-only cases: every one writes at most a little over
// 68 KiB, and the slowest (dribbled) takes about a hundred writes.
const (
	dribbleChunk = 4                    // bytes per write of the dribbled message
	dribblePause = 2 * time.Millisecond // between those writes
	longLine     = 68 << 10             // the endless header line: past sipgo's 65535-byte message bound and any 64 KiB buffer
	hugeLength   = "2147483647"         // the largest Content-Length a signed 32-bit parser takes
)

// streamCase is a torture case only a stream transport has: what it tests
// is how the bytes go on the wire (Content-Length framing, segments), so
// its bytes are built on each connection from a well-formed request of
// that connection's own (s.request).
type streamCase struct {
	tortureCase
	build func(s *sipStream, domain string) streamSend
}

// streamSend is what one case writes on its connection.
type streamSend struct {
	data    []byte
	chunk   int           // bytes per write; 0: data in one write
	pause   time.Duration // between writes
	callIDs []string      // Call-IDs of the requests in data, in order
}

// streamCases are the stream-only torture cases, run over TCP and TLS
// after the RFC 4475 messages (a WebSocket frames each SIP message itself,
// RFC 7118 5, so Content-Length framing is not what carries it there). The
// clause each tests:
//
//   - cl-long: RFC 3261 18.3 (on a stream, Content-Length says where the
//     message ends) with RFC 4475 3.1.2.2 (wait for the rest, close if it
//     does not come): an OPTIONS whose Content-Length promises 64 bytes
//     and whose body has 10, then nothing. The target must not answer as
//     if the message had come, and must keep serving other connections
//     while this one is open (the liveness probe runs meanwhile).
//   - cl-missing: RFC 3261 20.14 (Content-Length MUST be used over a
//     stream): an OPTIONS without one. 400 or a close.
//   - pipelined: RFC 3261 7.5 (Content-Length locates the end of each
//     message in a stream): two OPTIONS in one write, both to be answered.
//     Their order is shown, not judged: answers match requests by Via
//     branch and CSeq (RFC 3261 17.1.3), not by order.
//   - dribbled: RFC 3261 18.3: an OPTIONS written 4 bytes at a time, to be
//     answered once it is whole.
//   - long-line: RFC 3261 21.5.14 (513 Message Too Large): a header line
//     of 68 KiB without CRLF. A close, a 4xx or 513; the listener survives.
//   - cl-huge: RFC 3261 21.4.11 (413 Request Entity Too Large): an
//     OPTIONS claiming a body of 2^31-1 bytes, with 16. A close, 413 or
//     another 4xx, never a wait that buffers without bound.
var streamCases = []streamCase{
	{tortureCase{"cl-long", "RFC 3261 18.3", tortureIncomplete, nil, "Content-Length larger than the body, then nothing"},
		func(s *sipStream, domain string) streamSend {
			return single(s.request(sip.OPTIONS, domain), []string{"Content-Type: text/plain", "Content-Length: 64"}, "0123456789")
		}},
	{tortureCase{"cl-missing", "RFC 3261 20.14", tortureInvalid, []int{400}, "no Content-Length, which a stream requires"},
		func(s *sipStream, domain string) streamSend {
			return single(s.request(sip.OPTIONS, domain), nil, "")
		}},
	{tortureCase{"pipelined", "RFC 3261 7.5", torturePipelined, nil, "two OPTIONS in one write"},
		func(s *sipStream, domain string) streamSend {
			a, b := s.request(sip.OPTIONS, domain), s.request(sip.OPTIONS, domain)
			return streamSend{data: []byte(a.String() + b.String()), callIDs: []string{a.CallID().Value(), b.CallID().Value()}}
		}},
	{tortureCase{"dribbled", "RFC 3261 18.3", tortureValid, nil, "an OPTIONS written 4 bytes at a time"},
		func(s *sipStream, domain string) streamSend {
			req := s.request(sip.OPTIONS, domain)
			return streamSend{data: []byte(req.String()), chunk: dribbleChunk, pause: dribblePause, callIDs: []string{req.CallID().Value()}}
		}},
	{tortureCase{"long-line", "RFC 3261 21.5.14", tortureOversize, nil, "a header line of 68 KiB without CRLF"},
		func(s *sipStream, domain string) streamSend {
			req := s.request(sip.OPTIONS, domain)
			return streamSend{data: []byte(headWithout(req) + "\r\nX-Gauntlet-Long: " + strings.Repeat("a", longLine)), callIDs: []string{req.CallID().Value()}}
		}},
	{tortureCase{"cl-huge", "RFC 3261 21.4.11", tortureOversize, nil, "Content-Length " + hugeLength + " with 16 bytes of body"},
		func(s *sipStream, domain string) streamSend {
			return single(s.request(sip.OPTIONS, domain), []string{"Content-Type: text/plain", "Content-Length: " + hugeLength}, "0123456789abcdef")
		}},
}

// single is req with its Content-Length replaced by the header lines
// framing (none: no Content-Length at all) and body.
func single(req *sip.Request, framing []string, body string) streamSend {
	head := headWithout(req)
	for _, f := range framing {
		head += "\r\n" + f
	}
	return streamSend{data: []byte(head + "\r\n\r\n" + body), callIDs: []string{req.CallID().Value()}}
}

// headWithout is req's start line and header fields without its
// Content-Length and without the empty line that ends them.
func headWithout(req *sip.Request) string {
	head, _, _ := strings.Cut(req.String(), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	kept := lines[:0]
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n != "content-length" && n != "l" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\r\n")
}
