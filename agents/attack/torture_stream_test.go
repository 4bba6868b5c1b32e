package attack

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"
)

// fakeStream is a SIP server on loopback over TCP (or, with websocket,
// over WebSocket) that answers OPTIONS 200, as a live target answers the
// liveness probes, and treats every other request as its mode says:
// "answer" 200, "refuse" 400, "close" the connection, "silent" (no answer,
// the connection left open), or "hang" (no answer, and no connection
// served from then on: the listener is stuck).
type fakeStream struct {
	ln        net.Listener
	mode      string
	websocket bool

	mu    sync.Mutex
	hung  bool
	conns []net.Conn
	first []chan struct{} // per connection, closed once its first message is read (or it ends)
	done  sync.WaitGroup
}

func startFakeStream(t *testing.T, mode string, websocket bool) *fakeStream {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeStream{ln: ln, mode: mode, websocket: websocket}
	f.done.Go(f.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.done.Wait()
	})
	return f
}

func (f *fakeStream) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		read := make(chan struct{})
		f.first = append(f.first, read)
		earlier := f.first[:len(f.first)-1]
		hung := f.hung
		f.mu.Unlock()
		if !hung {
			f.done.Go(func() { f.serve(c, read, earlier) })
		} else {
			close(read)
		}
	}
}

// serve answers one connection. read is closed once its first message is
// in; earlier are those of the connections accepted before it, so a hung
// fake decides on a liveness OPTIONS only after every message sent before
// it was read, whatever order the goroutines ran in.
func (f *fakeStream) serve(c net.Conn, read chan struct{}, earlier []chan struct{}) {
	defer c.Close()
	var once sync.Once
	firstRead := func() { once.Do(func() { close(read) }) }
	defer firstRead()
	br := bufio.NewReader(c)
	if f.websocket {
		u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "sip" }}
		if _, err := u.Upgrade(c); err != nil {
			return
		}
	}
	for {
		var msg []byte
		var err error
		if f.websocket {
			msg, _, err = wsutil.ReadClientData(struct {
				io.Reader
				io.Writer
			}{br, c})
		} else {
			msg, err = readFramed(br)
		}
		if err != nil {
			return
		}
		if f.mode == "hang" && !bytes.HasPrefix(msg, []byte("OPTIONS ")) {
			f.mu.Lock()
			f.hung = true
			f.mu.Unlock()
			firstRead()
			continue
		}
		firstRead()
		if f.mode == "hang" {
			for _, e := range earlier {
				select {
				case <-e:
				case <-time.After(2 * time.Second):
				}
			}
			f.mu.Lock()
			hung := f.hung
			f.mu.Unlock()
			if hung {
				continue // a hung listener answers nothing
			}
		}
		m, err := sip.ParseMessage(msg)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			continue
		}
		mode := f.mode
		if req.Method == sip.OPTIONS {
			mode = "answer"
		}
		switch mode {
		case "answer":
			f.write(c, sip.NewResponseFromRequest(req, 200, "OK", nil))
		case "refuse":
			f.write(c, sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		case "close":
			return
		}
	}
}

func (f *fakeStream) write(c net.Conn, res *sip.Response) {
	if f.websocket {
		_ = wsutil.WriteServerMessage(c, ws.OpText, []byte(res.String()))
		return
	}
	_, _ = c.Write([]byte(res.String()))
}

func (f *fakeStream) target() streamTarget {
	if f.websocket {
		return streamTarget{transport: transportWS, addr: "ws://" + f.ln.Addr().String() + "/"}
	}
	return streamTarget{transport: transportTCP, addr: f.ln.Addr().String()}
}

func (f *fakeStream) probe(wait time.Duration) *streamProbe {
	return &streamProbe{env: fakeEnv(""), target: f.target(), wait: wait}
}

const fakeRegister = "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKfake\r\n" +
	"From: <sip:a@example.test>;tag=1\r\nTo: <sip:a@example.test>\r\nCall-ID: fake-register\r\nCSeq: 1 REGISTER\r\n" +
	"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

func sendRaw(msg string) func(*sipStream, string) streamSend {
	return func(*sipStream, string) streamSend { return streamSend{data: []byte(msg)} }
}

// Each way a stream target can take a message gets its verdict: answers
// and closes are answers, silence with the connection open is not.
func TestStreamSendJudged(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the fake servers' cleanup
	valid := tortureCase{name: "v", section: "1", kind: tortureValid, what: "valid"}
	invalid := tortureCase{name: "i", section: "2", kind: tortureInvalid, want: []int{400}, what: "invalid"}
	for _, tc := range []struct {
		mode      string
		websocket bool
		c         tortureCase
		ok        bool
		says      string
	}{
		{"refuse", false, invalid, true, "400 Bad Request; as expected"},
		{"close", false, invalid, true, "connection closed; closed instead of 400"},
		{"silent", false, invalid, false, "no answer, connection left open; silent with the connection left open past the grace"},
		{"answer", false, valid, true, "200 OK; accepted"},
		{"close", false, valid, false, "closed without an answer"},
		{"answer", true, valid, true, "200 OK; accepted"},
		{"close", true, invalid, true, "closed instead of 400"},
	} {
		f := startFakeStream(t, tc.mode, tc.websocket)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		res, err := f.probe(2*time.Second).send(ctx, sendRaw(fakeRegister))
		cancel()
		if err != nil || res.dead != nil {
			t.Fatalf("%s (websocket %v): %v, liveness %v", tc.mode, tc.websocket, err, res.dead)
		}
		ok, line := tc.c.judge(res.result)
		if ok != tc.ok || !strings.Contains(line, tc.says) {
			t.Errorf("%s (websocket %v): %v %q; want %v and %q", tc.mode, tc.websocket, ok, line, tc.ok, tc.says)
		}
	}
}

// A listener that stops serving after a message is VULNERABLE, named
// after that message; one that takes everything resists.
func TestStreamProbeVerdicts(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	hang := startFakeStream(t, "hang", false)
	out := hang.probe(300 * time.Millisecond).run(t.Context())
	if out.Verdict != Vulnerable || out.Severity != High || !strings.Contains(out.Reason, "after wsinv (RFC 4475 3.1.1.1") ||
		!strings.Contains(out.Reason, "still open") || out.Remediation != fixTortureStream {
		t.Errorf("hang: %s %s: %s", out.Verdict, out.Severity, out.Reason)
	}

	fine := startFakeStream(t, "answer", false)
	out = fine.probe(2 * time.Second).run(t.Context())
	if out.Verdict != Resisted || !strings.Contains(out.Reason, "49 RFC 4475 messages and 6 stream-only cases") {
		t.Fatalf("answer: %s: %s\n%s", out.Verdict, out.Reason, strings.Join(out.Warnings, "\n"))
	}
	for _, name := range []string{"cl-long", "cl-missing", "pipelined", "dribbled", "long-line", "cl-huge"} {
		if len(grep(append(out.Evidence, out.Warnings...), name+" (RFC 3261")) != 1 {
			t.Errorf("%s: not judged once", name)
		}
	}
	if w := grep(out.Warnings, "pipelined"); len(w) != 0 {
		t.Errorf("both pipelined requests are answered: %v", w)
	}
}

func grep(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func TestTortureJudgeStream(t *testing.T) {
	valid := tortureCase{name: "v", kind: tortureValid}
	bad := tortureCase{name: "b", kind: tortureInvalid, want: []int{400}}
	resp := tortureCase{name: "r", kind: tortureResponse}
	inc := tortureCase{name: "c", kind: tortureIncomplete}
	big := tortureCase{name: "o", kind: tortureOversize}
	two := tortureCase{name: "p", kind: torturePipelined}
	open := tortureResult{stream: true}
	closed := tortureResult{stream: true, closed: true}
	for _, tc := range []struct {
		c    tortureCase
		r    tortureResult
		ok   bool
		says string
	}{
		{valid, closed, false, "closed without an answer"},
		{valid, open, false, "went unanswered"},
		{bad, closed, true, "closed instead of 400"},
		{bad, open, false, "silent with the connection left open"},
		{bad, tortureResult{stream: true, final: 400, closed: true}, true, "as expected"},
		{resp, closed, true, "dropped"},
		{inc, open, true, "could still come"},
		{inc, closed, true, "could still come"},
		{inc, tortureResult{stream: true, final: 408}, true, "refused"},
		{inc, tortureResult{stream: true, final: 401}, false, "framing is lost"},
		{big, tortureResult{stream: true, final: 513}, true, "refused"},
		{big, tortureResult{stream: true, final: 413}, true, "refused"},
		{big, closed, true, "closed"},
		{big, open, false, "without bound"},
		{big, tortureResult{stream: true, final: 200}, false, "acceptable"},
		{two, tortureResult{stream: true, final: 200, more: []int{200}}, true, "both answered"},
		{two, tortureResult{stream: true, final: 200}, false, "not every request"},
	} {
		ok, line := tc.c.judge(tc.r)
		if ok != tc.ok || !strings.Contains(line, tc.says) {
			t.Errorf("%s %v: %v %q, want %v and %q", tc.c.kind, tc.r, ok, line, tc.ok, tc.says)
		}
	}
}

func TestOnStream(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
	}{
		{"clerr", tortureIncomplete},  // its body may still come
		{"inv2543", tortureInvalid},   // no Content-Length: cannot be framed
		{"wsinv", tortureValid},       // as in a datagram
		{"badvers", tortureInvalid},   // as in a datagram
		{"unreason", tortureResponse}, // responses stay responses
		{"ncl", tortureRecorded},      // recorded stays recorded
	} {
		i := -1
		for j, c := range tortureCases {
			if c.name == tc.name {
				i = j
			}
		}
		if i < 0 {
			t.Fatalf("%s: no such case", tc.name)
		}
		msg, err := tortureCases[i].message()
		if err != nil {
			t.Fatal(err)
		}
		if got := tortureCases[i].onStream(msg); got.kind != tc.kind {
			t.Errorf("%s on a stream: %s, want %s", tc.name, got.kind, tc.kind)
		}
	}
	if c := (tortureCase{name: "x", kind: tortureValid}).onStream([]byte("OPTIONS sip:a SIP/2.0\r\n\r\n")); len(c.want) != 1 || c.want[0] != 400 {
		t.Errorf("a message without Content-Length on a stream: want %v, not 400", c.want)
	}
}

// The stream-only cases put on the wire the framing they are named after.
func TestStreamCaseBytes(t *testing.T) {
	s := &sipStream{target: streamTarget{transport: transportTCP}, local: netip.MustParseAddrPort("127.0.0.1:5999")}
	got := map[string]streamSend{}
	for _, c := range streamCases {
		got[c.name] = c.build(s, "example.test")
	}
	if len(got) != 6 {
		t.Fatalf("%d stream-only cases, want 6", len(got))
	}
	clOf := func(b []byte) string { return headerValue(b, "content-length", "l") }
	body := func(b []byte) string { _, after, _ := strings.Cut(string(b), "\r\n\r\n"); return after }
	if m := got["cl-long"].data; clOf(m) != "64" || body(m) != "0123456789" {
		t.Errorf("cl-long: Content-Length %q, body %q", clOf(m), body(m))
	}
	if m := got["cl-missing"].data; clOf(m) != "" || !bytes.HasSuffix(m, []byte("\r\n\r\n")) || body(m) != "" {
		t.Errorf("cl-missing:\n%s", m)
	}
	if p := got["pipelined"]; bytes.Count(p.data, []byte("OPTIONS sip:")) != 2 || len(p.callIDs) != 2 || p.callIDs[0] == p.callIDs[1] || p.chunk != 0 {
		t.Errorf("pipelined: %d requests, Call-IDs %v, chunk %d", bytes.Count(p.data, []byte("OPTIONS sip:")), p.callIDs, p.chunk)
	}
	if d := got["dribbled"]; d.chunk != dribbleChunk || d.pause <= 0 || clOf(d.data) != "0" || len(d.data)/d.chunk > 200 {
		t.Errorf("dribbled: chunk %d, pause %v, %d bytes", d.chunk, d.pause, len(d.data))
	}
	if m := got["long-line"].data; bytes.Contains(m, []byte("\r\n\r\n")) || len(m) <= 64<<10 || len(m) > 70<<10 || bytes.HasSuffix(m, []byte("\n")) {
		t.Errorf("long-line: %d bytes, header ended: %v", len(m), bytes.Contains(m, []byte("\r\n\r\n")))
	}
	if m := got["cl-huge"].data; clOf(m) != hugeLength || len(body(m)) != 16 {
		t.Errorf("cl-huge: Content-Length %q, %d bytes of body", clOf(m), len(body(m)))
	}
	for name, send := range got {
		if m, err := sip.ParseMessage(send.data); name == "dribbled" && err != nil {
			t.Errorf("dribbled does not parse: %v", err)
		} else if name == "dribbled" && m.(*sip.Request).Via().Transport != "TCP" {
			t.Errorf("dribbled: Via %s, want TCP", m.(*sip.Request).Via())
		}
	}
}

func TestReadFramed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nabNEXT", "SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nab"},
		{"SIP/2.0 200 OK\r\nl: 0\r\n\r\n", "SIP/2.0 200 OK\r\nl: 0\r\n\r\n"},
		{"SIP/2.0 200 OK\r\n\r\n", ""},                             // no Content-Length
		{"SIP/2.0 200 OK\r\nContent-Length: 70000\r\n\r\n", ""},    // past the bound
		{"SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nab", ""},      // cut short
		{"SIP/2.0 200 OK\r\nX: " + strings.Repeat("a", 70000), ""}, // a header that never ends
	} {
		got, err := readFramed(bufio.NewReader(strings.NewReader(tc.in)))
		if string(got) != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("readFramed(%.40q) = %.60q, %v; want %.60q", tc.in, got, err, tc.want)
		}
	}
}

func TestPerTransport(t *testing.T) {
	msg := []byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx1\r\ni: abc@h\r\nCSeq: 1 OPTIONS\r\n\r\n")
	got := string(perTransport(msg, "tls"))
	if !strings.Contains(got, "branch=z9hG4bKx1.tls\r\n") || !strings.Contains(got, "i: abc@h.tls\r\n") {
		t.Errorf("perTransport:\n%s", got)
	}
	old := []byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=x1\r\nCSeq: 1 OPTIONS\r\n\r\n")
	if got := perTransport(old, "tcp"); !bytes.Equal(got, old) {
		t.Errorf("an RFC 2543 branch and no Call-ID changed:\n%s", got)
	}
}

// A stream's bytes go into the capture as TCP segments of at most
// tcpSegment bytes, sequence numbers counting each way.
func TestStreamRecord(t *testing.T) {
	c, err := OpenCapture(t.TempDir() + "/s.pcap")
	if err != nil {
		t.Fatal(err)
	}
	local, remote := netip.MustParseAddrPort("127.0.1.1:40000"), netip.MustParseAddrPort("127.0.0.1:5060")
	r := c.stream(local, remote)
	r.out(make([]byte, 2*tcpSegment+200))
	r.in([]byte("SIP/2.0 200 OK\r\n\r\n"))
	if c.Packets() != 4 || r.sent != 1+2*tcpSegment+200 || r.got != 1+18 {
		t.Errorf("%d packets, next sequence numbers %d out, %d in", c.Packets(), r.sent, r.got)
	}
	pkt := tcpPacket(local, remote, 7, 9, []byte("x"))
	if len(pkt) != 20+20+1 || pkt[9] != 6 || pkt[20+13] != 0x18 || pkt[20+7] != 7 || pkt[20+11] != 9 {
		t.Errorf("TCP packet % x", pkt)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var none *Capture
	none.stream(local, remote).out([]byte("nothing recorded, nothing panics"))
}

// A WebSocket target that wants a bearer token gets the known account's,
// in the header or the query as the target file says.
func TestStreamTargetToken(t *testing.T) {
	tok := func(context.Context) (string, error) { return "eyJ.t.s", nil }
	for _, tc := range []struct {
		inQuery  bool
		wantURL  string
		wantAuth bool
	}{
		{false, "ws://127.0.0.1:5066/sip?x=1", true},
		{true, "ws://127.0.0.1:5066/sip?access_token=eyJ.t.s&x=1", false},
	} {
		st := streamTarget{transport: transportWS, addr: "ws://127.0.0.1:5066/sip?x=1", token: tok, inQuery: tc.inQuery}
		u, err := url.Parse(st.addr)
		if err != nil {
			t.Fatal(err)
		}
		var d ws.Dialer
		got, err := st.withToken(context.Background(), &d, u)
		if err != nil || got != tc.wantURL || (d.Header != nil) != tc.wantAuth {
			t.Errorf("in query %v: %q, header set %v, %v; want %q, header %v", tc.inQuery, got, d.Header != nil, err, tc.wantURL, tc.wantAuth)
		}
	}
}
