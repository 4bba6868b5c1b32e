package gateway

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// errMalformed ends the UDP read loop when malformed input is weakened.
var errMalformed = errors.New("gateway: a datagram that does not parse")

// malformedConn is the SIP UDP listener's socket as sipgo reads it. sipgo
// drops a datagram it cannot parse without a word (and a sender that gets
// no answer retransmits); so each datagram is first parsed here the way
// sipgo will, and one that does not parse is kept from sipgo and answered
// statelessly when it is a request that says where the answer goes (Via,
// From, To, Call-ID, CSeq): 505 for a SIP version other than 2.0, 416 for
// a Request-URI scheme other than sip or sips, else 400 (RFC 3261 8.2,
// 16.3; RFC 4475 3.1.2). Anything else is dropped. Parsed requests get
// the checks only the raw text allows (rawRefusal). Weakened
// (malformed-input), the first datagram that does not parse ends the read
// loop instead: SIP over UDP goes silent, as with a read loop that
// returns on a parse error.
type malformedConn struct {
	net.PacketConn
	parser *sip.Parser
	weak   bool
	log    *slog.Logger
}

func newMalformedConn(c net.PacketConn, weak bool, log *slog.Logger) *malformedConn {
	return &malformedConn{PacketConn: c, parser: sip.NewParser(), weak: weak, log: log}
}

func (c *malformedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		data := b[:n]
		if keepalive(data) {
			return n, addr, nil
		}
		msg, perr := c.parser.ParseSIP(data)
		if perr == nil {
			req, ok := msg.(*sip.Request)
			if !ok || req.IsAck() {
				return n, addr, nil
			}
			status, reason := rawRefusal(data)
			if status == 0 {
				return n, addr, nil
			}
			c.answer(data, addr, status, reason)
			continue
		}
		if c.weak {
			return 0, addr, fmt.Errorf("%w from %v: %w", errMalformed, addr, perr)
		}
		status, reason := malformedStatus(data)
		c.log.Debug("SIP datagram does not parse", "source", addr, "error", perr, "answer", status)
		if status != 0 {
			c.answer(data, addr, status, reason)
		}
	}
}

// answer sends status to the source of data, at the port its top Via
// names (RFC 3261 18.2.2), unless the datagram lacks what an answer needs.
func (c *malformedConn) answer(data []byte, from net.Addr, status int, reason string) {
	res, port := statelessAnswer(data, status, reason)
	if res == nil {
		return
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return
	}
	dest := &net.UDPAddr{IP: ua.IP, Port: ua.Port}
	if port > 0 {
		dest.Port = port
	}
	if _, err := c.WriteTo(res, dest); err != nil {
		c.log.Debug("answer to a malformed request not sent", "to", dest, "error", err)
	}
}

// keepalive reports what sipgo itself ignores: NULs, or a CRLF keepalive.
func keepalive(data []byte) bool {
	return len(bytes.Trim(data, "\x00")) == 0 || len(data) <= 4 && len(bytes.Trim(data, "\r\n")) == 0
}

// rawHead is a message's start line and unfolded header fields, read
// leniently from its raw text.
type rawHead struct {
	start  string
	fields []rawField
}

type rawField struct{ name, value string } // name lower case, compact forms expanded

var compactNames = map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id", "l": "content-length", "m": "contact"}

func readHead(data []byte) rawHead {
	head := string(data)
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	} else if i := strings.Index(head, "\n\n"); i >= 0 {
		head = head[:i]
	}
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	h := rawHead{start: lines[0]}
	for _, line := range lines[1:] {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(h.fields) > 0 {
			h.fields[len(h.fields)-1].value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if long, ok := compactNames[name]; ok {
			name = long
		}
		h.fields = append(h.fields, rawField{name, strings.TrimSpace(value)})
	}
	return h
}

func (h rawHead) all(name string) []string {
	var out []string
	for _, f := range h.fields {
		if f.name == name {
			out = append(out, f.value)
		}
	}
	return out
}

// request splits the start line of a request as "METHOD URI... SIP/x.y";
// ok is false for a response or something that is neither.
func (h rawHead) request() (uri, version string, ok bool) {
	f := strings.Fields(h.start)
	if len(f) < 3 || strings.HasPrefix(strings.ToUpper(f[0]), "SIP/") || !strings.HasPrefix(strings.ToUpper(f[len(f)-1]), "SIP/") {
		return "", "", false
	}
	for _, ch := range f[0] {
		if !isTokenChar(ch) {
			return "", "", false
		}
	}
	return strings.Join(f[1:len(f)-1], " "), f[len(f)-1], true
}

func isTokenChar(ch rune) bool {
	return isAlnum(ch) || strings.ContainsRune("-.!%*_+`'~", ch)
}

// malformedStatus is the answer to a request that does not parse, or 0
// for a datagram that is not a request.
func malformedStatus(data []byte) (int, string) {
	h := readHead(data)
	uri, version, ok := h.request()
	if !ok || strings.EqualFold(strings.Fields(h.start)[0], "ACK") {
		return 0, ""
	}
	if version != "SIP/2.0" {
		return sip.StatusVersionNotSupported, "Version Not Supported"
	}
	if scheme, _, found := strings.Cut(uri, ":"); found && !strings.HasPrefix(uri, "<") && validScheme(scheme) {
		if s := strings.ToLower(scheme); s != "sip" && s != "sips" {
			return statusUnsupportedURIScheme, "Unsupported URI Scheme"
		}
	}
	return sip.StatusBadRequest, "Bad Request"
}

// validScheme reports a URI scheme's syntax (RFC 3986 3.1).
func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, ch := range s {
		if !isAlnum(ch) && ch != '+' && ch != '-' && ch != '.' {
			return false
		}
	}
	return true
}

// rawRefusal is what only the raw text of a parsed request shows: a From
// or To display name that is neither tokens nor a quoted string (RFC 3261
// 25.1, RFC 4475 3.1.2.15; sipgo takes it as it comes), or a Contact in
// addr-spec form whose URI has headers or parameters that would need <>
// (RFC 3261 20.10, RFC 4475 3.1.2.13); 0 when there is nothing to refuse.
func rawRefusal(data []byte) (int, string) {
	h := readHead(data)
	for _, name := range []string{"from", "to"} {
		for _, v := range h.all(name) {
			if !tokenDisplayName(v) {
				return sip.StatusBadRequest, "Bad Display Name (tokens or a quoted string)"
			}
		}
	}
	if !bytes.Contains(data, []byte("?")) {
		return 0, ""
	}
	for _, v := range h.all("contact") {
		if v != "*" && !strings.Contains(v, "<") && strings.Contains(v, "?") {
			return sip.StatusBadRequest, "Bad Contact (a URI with headers must be in <>)"
		}
	}
	return 0, ""
}

// tokenDisplayName reports whether the display name of a name-addr value
// is empty, quoted (sipgo checks the quotes), or tokens separated by
// whitespace (RFC 3261 25.1); a value without <> has none.
func tokenDisplayName(v string) bool {
	i := strings.Index(v, "<")
	if i < 0 {
		return true
	}
	name := strings.TrimSpace(v[:i])
	if strings.HasPrefix(name, `"`) {
		return true
	}
	for _, ch := range name {
		if !isTokenChar(ch) && ch != ' ' && ch != '\t' {
			return false
		}
	}
	return true
}

// statelessAnswer builds the answer to a request from its raw text: its
// Via fields, From, To (with a tag), Call-ID and CSeq copied as they
// came, and the port of the top Via (the source port with rport, 0 to use
// the source's). nil when one of those fields is missing.
func statelessAnswer(data []byte, status int, reason string) ([]byte, int) {
	h := readHead(data)
	vias, from, to, callID, cseq := h.all("via"), h.all("from"), h.all("to"), h.all("call-id"), h.all("cseq")
	if len(vias) == 0 || len(from) == 0 || len(to) == 0 || len(callID) == 0 || len(cseq) == 0 {
		return nil, 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", status, reason)
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + from[0] + "\r\n")
	tag := ""
	if !strings.Contains(strings.ToLower(to[0]), "tag=") {
		tag = ";tag=" + strings.ToLower(rand.Text()[:16])
	}
	b.WriteString("To: " + to[0] + tag + "\r\n")
	b.WriteString("Call-ID: " + callID[0] + "\r\n")
	b.WriteString("CSeq: " + cseq[0] + "\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String()), viaPort(vias[0])
}

// viaPort reads the answer port from the first via-parm of a Via value
// ("SIP/2.0/UDP host:port;params"): 0 with rport (answer to the source
// port, RFC 3581), the sent-by port, else 5060.
func viaPort(value string) int {
	value, _, _ = strings.Cut(value, ",")
	sentBy, params, _ := strings.Cut(value, ";")
	for _, p := range strings.Split(params, ";") {
		if name, _, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(name), "rport") {
			return 0
		}
	}
	// Past "SIP / 2.0 / UDP", the sent-by.
	parts := strings.SplitN(sentBy, "/", 3)
	if len(parts) < 3 {
		return 5060
	}
	fields := strings.Fields(parts[2])
	if len(fields) < 2 {
		return 5060
	}
	hostPort := strings.Join(fields[1:], "")
	if strings.HasPrefix(hostPort, "[") {
		_, hostPort, _ = strings.Cut(hostPort, "]")
	} else if i := strings.LastIndex(hostPort, ":"); i >= 0 {
		hostPort = hostPort[i:]
	} else {
		return 5060
	}
	port, err := strconv.Atoi(strings.TrimPrefix(hostPort, ":"))
	if err != nil || port < 1 || port > 65535 {
		return 5060
	}
	return port
}
