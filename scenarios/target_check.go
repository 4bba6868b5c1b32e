package scenarios

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
)

// ErrNoUsers is returned by Target.User when the target has no users entry
// for a population or its kind.
var ErrNoUsers = errors.New("no users entry")

var (
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dnsLabel       = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
)

// Validate checks the target: a name, at least one SIP address, well-formed
// URLs and addresses, and users entries whose passwords are available. A
// password_env must name a variable set in the environment now. It returns
// every mistake at once as *Errors. LoadTarget and ParseTarget call it.
func (t *Target) Validate() error {
	l := &errorList{src: orEmpty(t.src)}
	t.validate(l)
	return l.err()
}

func (t *Target) validate(l *errorList) {
	v := validator{l: l}
	v.required("name", t.Name)
	if t.SIP.WS == "" && t.SIP.UDP == "" && t.SIP.TCP == "" && t.SIP.TLS == "" && t.TURN == nil && t.Rooms == nil {
		l.add("sip", ErrRequired, "required: something to test: sip (ws for webrtc populations, udp/tcp/tls for sip ones), turn or rooms")
	}
	scheme := ""
	if t.SIP.WS != "" {
		scheme = v.wsURL("sip.ws", t.SIP.WS)
	}
	for _, a := range []struct{ path, addr string }{{"sip.udp", t.SIP.UDP}, {"sip.tcp", t.SIP.TCP}, {"sip.tls", t.SIP.TLS}} {
		if a.addr != "" {
			v.hostPort(a.path, a.addr)
		}
	}
	if t.SIP.Domain != "" && !validHost(t.SIP.Domain) {
		l.add("sip.domain", ErrSyntax, "bad domain %q: want a host name or IP address, without scheme or port", t.SIP.Domain)
	}
	if t.SIP.InsecureTLS && scheme != "wss" && t.SIP.TLS == "" {
		l.add("sip.insecure_tls", ErrConflict, "applies only to a wss:// URL in sip.ws or to sip.tls; there is neither")
	}
	v.phoneSRTP(t.SIP)
	keys := make([]string, 0, len(t.Users))
	for k := range t.Users {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.userSpec(joinPath("users", k), k, t.Users[k])
	}
	if t.TURN != nil {
		v.turn(t.TURN)
	}
	if t.Rooms != nil {
		v.rooms(t.Rooms)
	}
	v.sources(t.SourceAddrs)
}

// wsURL checks a SIP-over-WebSocket URL and returns its scheme. A URL
// with credentials is never echoed: messages end up in reports.
func (v validator) wsURL(path, raw string) string {
	shown := fmt.Sprintf("%q", raw)
	if strings.Contains(raw, "@") {
		shown = "(not shown: it holds credentials)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		v.l.add(path, ErrSyntax, "bad URL %s: does not parse", shown)
		return ""
	}
	if u.User != nil {
		v.l.add(path, ErrConflict, "the URL holds credentials, which would end up in reports; put them under users")
		return ""
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		v.l.add(path, ErrSyntax, "bad URL %s: scheme must be ws or wss, got %q", shown, u.Scheme)
		return ""
	}
	if u.Hostname() == "" || !validHost(u.Hostname()) {
		v.l.add(path, ErrSyntax, "bad URL %s: want a host, e.g. ws://127.0.0.1:5066/", shown)
		return ""
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			v.l.add(path, ErrRange, "bad URL %s: port must be 1..65535, got %s", shown, p)
		}
	}
	return u.Scheme
}

// hostPort checks a host:port address: an IP literal (parsed with
// net/netip) or a DNS name, and a port 1..65535.
func (v validator) hostPort(path, s string) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			v.l.add(path, ErrRange, "bad address %q: port must be 1..65535, got 0", s)
		}
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.l.add(path, ErrSyntax, "bad address %q: want host:port, e.g. 127.0.0.1:5060 or [::1]:5060", s)
		return
	}
	if !validHost(host) {
		v.l.add(path, ErrSyntax, "bad address %q: %q is neither an IP address nor a host name", s, host)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.l.add(path, ErrRange, "bad address %q: port must be 1..65535, got %q", s, port)
	}
}

// validHost accepts IP literals and DNS names.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func (v validator) userSpec(path, key string, u UserSpec) {
	if !namePattern.MatchString(key) {
		v.l.add(path, ErrSyntax, "bad key %q: want a population name or a kind (%s)", key, joinQuoted(Kinds()))
	}
	pp := joinPath(path, "pattern")
	switch {
	case u.Pattern == "":
		v.l.add(pp, ErrRequired, "required: a user name with {n}, e.g. \"web{n}\"")
	case !strings.Contains(u.Pattern, "{n}"):
		v.l.add(pp, ErrSyntax, "pattern %q has no {n}: every agent would log in as the same user", u.Pattern)
	case strings.ContainsAny(strings.ReplaceAll(u.Pattern, "{n}", ""), " \t@:<>\"/{}"):
		v.l.add(pp, ErrSyntax, "pattern %q is not a SIP user part: no spaces, @, :, <, >, quotes, / or braces besides {n}", u.Pattern)
	}
	if u.Start < 0 {
		v.l.add(joinPath(path, "start"), ErrRange, "must be >= 0, got %d", u.Start)
	}
	envPath := joinPath(path, "password_env")
	switch {
	case u.Password != "" && u.PasswordEnv != "":
		v.l.add(envPath, ErrConflict, "give password or password_env, not both")
	case u.PasswordEnv == "":
	case !envNamePattern.MatchString(u.PasswordEnv):
		v.l.add(envPath, ErrSyntax, "bad environment variable name %q", u.PasswordEnv)
	default:
		if val, ok := os.LookupEnv(u.PasswordEnv); !ok || val == "" {
			v.l.add(envPath, ErrRequired, "environment variable %s is not set (or empty)", u.PasswordEnv)
		}
	}
	if u.Token != nil {
		v.token(joinPath(path, "token"), u.Token)
	}
}

// SIPDomain is the AOR domain: SIP.Domain, else the host of SIP.WS, else
// the host of SIP.UDP.
func (t *Target) SIPDomain() string {
	if t.SIP.Domain != "" {
		return t.SIP.Domain
	}
	if u, err := url.Parse(t.SIP.WS); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	if host, _, err := net.SplitHostPort(t.SIP.UDP); err == nil {
		return host
	}
	return ""
}

// Loopback reports whether every address the target names is a loopback
// IP (127.0.0.0/8, ::1) or "localhost": the targets attacks may hit
// without Authorized.
func (t *Target) Loopback() bool {
	hosts := t.hosts()
	for _, h := range hosts {
		if !hostIsLoopback(h) {
			return false
		}
	}
	return len(hosts) > 0
}

// hosts lists every host the target file names: SIP, TURN (and its
// credential endpoint) and rooms.
func (t *Target) hosts() []string {
	var hosts []string
	if u, err := url.Parse(t.SIP.WS); t.SIP.WS != "" && err == nil {
		hosts = append(hosts, u.Hostname())
	}
	for _, a := range []string{t.SIP.UDP, t.SIP.TCP, t.SIP.TLS} {
		if a != "" {
			hosts = append(hosts, splitHost(a))
		}
	}
	hosts = append(hosts, t.turnHosts()...)
	for _, h := range []string{t.roomsHost(), t.endpointHost()} {
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// userEntry returns the users entry a population takes: by its name, else
// by its kind.
func (t *Target) userEntry(population string, kind Kind) (UserSpec, string, bool) {
	if u, ok := t.Users[population]; ok {
		return u, population, true
	}
	u, ok := t.Users[string(kind)]
	return u, string(kind), ok
}

// User returns the user name and password of virtual user i (0-based) of a
// population: the users entry named after the population, else after its
// kind; the name is the entry's pattern with {n} = start+i. The password
// comes from the file or from the environment variable the entry names.
func (t *Target) User(population string, kind Kind, i int) (user, password string, err error) {
	u, key, ok := t.userEntry(population, kind)
	if !ok {
		return "", "", fmt.Errorf("target %s: %w for population %q (add users.%s or users.%s)", t.Name, ErrNoUsers, population, population, kind)
	}
	if i < 0 {
		return "", "", fmt.Errorf("target %s: users.%s: %w: user index %d", t.Name, key, ErrRange, i)
	}
	user = strings.ReplaceAll(u.Pattern, "{n}", strconv.Itoa(u.Start+i))
	if u.PasswordEnv == "" {
		return user, u.Password.Reveal(), nil
	}
	pw, set := os.LookupEnv(u.PasswordEnv)
	if !set || pw == "" {
		return "", "", fmt.Errorf("target %s: users.%s.password_env: %w: environment variable %s is not set", t.Name, key, ErrRequired, u.PasswordEnv)
	}
	return user, pw, nil
}

// phoneSRTP checks sip.srtp and sip.sdes_suites.
func (v validator) phoneSRTP(s SIPTarget) {
	switch s.SRTP {
	case "", SRTPNone, SRTPSDES:
	default:
		v.l.add("sip.srtp", ErrUnknownName, "unknown value %q; known: %q (plain RTP/AVP, the default), %q (SDES-SRTP, RFC 4568)", s.SRTP, SRTPNone, SRTPSDES)
		return
	}
	if len(s.SDESSuites) > 0 && s.SRTP != SRTPSDES {
		v.l.add("sip.sdes_suites", ErrConflict, "applies only with srtp: %s", SRTPSDES)
		return
	}
	known := plainrtp.SDESSuites()
	for i, name := range s.SDESSuites {
		p := indexPath("sip.sdes_suites", i)
		switch {
		case !slices.Contains(known, name):
			v.l.add(p, ErrUnknownName, "unknown SDES crypto-suite %q%s; known: %s", name, didYouMean(name, known), joinQuoted(known))
		case slices.Index(s.SDESSuites, name) != i:
			v.l.add(p, ErrDuplicate, "%q listed twice", name)
		}
	}
}
