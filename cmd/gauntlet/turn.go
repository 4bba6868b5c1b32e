package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/transport/v4"
)

// turnLoadFlags are the flags of `gauntlet turn-load`.
type turnLoadFlags struct {
	servers    []string // [name@]host:port, repeated
	secrets    []string // REST secret per server, in order (or one for all)
	user       string
	password   string
	transport  string
	tlsCA      string
	reference  bool
	rates      []float64
	allocSpan  time.Duration
	flows      []int
	flowSpan   time.Duration
	pps        int
	payload    int
	maxLossPct float64
	out        string
}

// turnServer is one relay a load runs against.
type turnServer struct {
	name   string
	target turnload.Target
}

// cmdTurnLoad runs TURN load steps against each relay named (and the
// reference relay started in-process with --reference, the default when
// no --server is given): allocation rates, then relayed flow counts, each
// step reporting what the relay sustained and at what loss. It stops
// stepping flows up at the first step over --max-loss.
func cmdTurnLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseTurnLoad(args, stderr)
	if err != nil {
		return err
	}
	servers, stop, err := f.targets(ctx)
	if err != nil {
		return err
	}
	defer stop()
	var sink *reports.JSONLWriter
	emit := func(reports.Result) {}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return err
		}
		if sink, err = reports.CreateJSONL(filepath.Join(f.out, "results.jsonl")); err != nil {
			return err
		}
		emit = sink.Add
	}
	anyOK := false
	for _, s := range servers {
		ok := runTurnSteps(ctx, f, s, emit, stdout)
		anyOK = anyOK || ok
		if ctx.Err() != nil {
			break
		}
	}
	if sink != nil {
		if err := sink.Close(); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitInterrupted, err: ctx.Err()}
	case !anyOK:
		return withCode(exitUnreachable, errors.New("no allocation succeeded on any relay"), "check --server, the credentials and --transport")
	}
	return nil
}

// runTurnSteps runs every step against one relay; ok is false when no
// allocation at all succeeded.
func runTurnSteps(ctx context.Context, f turnLoadFlags, s turnServer, emit func(reports.Result), w io.Writer) bool {
	ok := false
	fmt.Fprintf(w, "relay %s (%s over %s)\n", s.name, s.target.Server, transportName(s.target.Transport))
	for _, rate := range f.rates {
		count := max(1, int(rate*f.allocSpan.Seconds()))
		st, err := turnload.RunAllocations(ctx, s.target, turnload.AllocationLoad{Rate: rate, Count: count}, tagged(s.name, emit))
		ok = ok || st.OK > 0
		fmt.Fprintf(w, "  allocations at %6.0f/s: %5d/%-5d granted, %7.1f/s sustained, time to allocation p50 %6.1f ms p95 %6.1f ms%s%s\n",
			rate, st.OK, st.Attempted, st.PerSecond, ms(st.P50), ms(st.P95), codes(st.Codes), errNote(err))
		if ctx.Err() != nil {
			return ok
		}
	}
	for _, n := range f.flows {
		st, err := turnload.RunFlows(ctx, s.target, turnload.FlowLoad{
			Flows: n, Duration: f.flowSpan, PacketsPerSecond: f.pps, PayloadBytes: f.payload,
		}, tagged(s.name, emit))
		verdict := "ok"
		if st.LossPct >= f.maxLossPct || st.Connected < st.Flows {
			verdict = fmt.Sprintf("over %.1f%% loss or flows failed: stop", f.maxLossPct)
		}
		fmt.Fprintf(w, "  %5d flows x %d pps: %5d up, %9.0f relayed pkt/s, loss %6.3f%%, rtt p50 %6.2f ms p95 %6.2f ms, jitter p95 %5.2f ms  %s%s\n",
			n, f.pps, st.Connected, st.PacketsPerSecond, st.LossPct, ms(st.RTTP50), ms(st.RTTP95), st.JitterP95MS, verdict, errNote(err))
		if verdict != "ok" || ctx.Err() != nil {
			break
		}
	}
	return ok
}

// tagged marks each record with the relay it measured (as its population).
func tagged(name string, emit func(reports.Result)) func(reports.Result) {
	var mu sync.Mutex
	return func(r reports.Result) {
		r.Population = name
		mu.Lock()
		defer mu.Unlock()
		emit(r)
	}
}

func parseTurnLoad(args []string, stderr io.Writer) (turnLoadFlags, error) {
	fs := newFlagSet("turn-load", "turn-load [--reference] [--server [NAME@]HOST:PORT --secret S | --user U --password-env VAR] [--rate LIST] [--flows LIST] [--out DIR]", stderr)
	var f turnLoadFlags
	var servers, secrets, rates, flows, passwordEnv string
	fs.StringVar(&servers, "server", "", "relays to load, comma-separated [NAME@]HOST:PORT (default: the reference relay, in-process)")
	fs.StringVar(&secrets, "secret", "", "TURN REST shared secrets, comma-separated: one per --server, or one for all")
	fs.StringVar(&f.user, "user", "", "static long-term user (instead of --secret)")
	fs.StringVar(&passwordEnv, "password-env", "", "environment variable holding --user's password")
	fs.StringVar(&f.transport, "transport", turnload.TransportUDP, "client transport: udp, tcp or tls")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM file the relays' TLS certificates chain to (tls transport)")
	fs.BoolVar(&f.reference, "reference", false, "also load the reference relay, started in-process (implied without --server)")
	fs.StringVar(&rates, "rate", "100,200,400", "allocation rates to step through, per second, comma-separated")
	fs.DurationVar(&f.allocSpan, "alloc-duration", 5*time.Second, "how long each allocation step lasts")
	fs.StringVar(&flows, "flows", "25,50,100,200", "concurrent flow counts to step through, comma-separated")
	fs.DurationVar(&f.flowSpan, "flow-duration", 10*time.Second, "how long each flow step sends")
	fs.IntVar(&f.pps, "pps", 50, "packets per second of each flow, each way")
	fs.IntVar(&f.payload, "payload", 172, "bytes per packet (RTP header and 20 ms of G.711)")
	fs.Float64Var(&f.maxLossPct, "max-loss", 1, "stop stepping flows up at the first step with this much loss, in percent")
	fs.StringVar(&f.out, "out", "", "directory for results.jsonl (one record per allocation and per flow)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return f, flagError(err)
	}
	if len(pos) != 0 {
		return f, invalidf("turn-load takes no arguments, got %q", pos)
	}
	f.servers, f.secrets = splitList(servers), splitList(secrets)
	if f.rates, err = parseFloats(rates); err != nil {
		return f, invalidf("--rate: %v", err)
	}
	ns, err := parseFloats(flows)
	if err != nil {
		return f, invalidf("--flows: %v", err)
	}
	for _, n := range ns {
		if n != float64(int(n)) {
			return f, invalidf("--flows: %v is not a whole number", n)
		}
		f.flows = append(f.flows, int(n))
	}
	if passwordEnv != "" {
		f.password = os.Getenv(passwordEnv)
	}
	return f, f.check()
}

func (f turnLoadFlags) check() error {
	switch {
	case f.transport != turnload.TransportUDP && f.transport != turnload.TransportTCP && f.transport != turnload.TransportTLS:
		return invalidf("--transport %q: want udp, tcp or tls", f.transport)
	case len(f.servers) > 0 && len(f.secrets) == 0 && (f.user == "" || f.password == ""):
		return invalidf("--server needs --secret, or --user with --password-env")
	case len(f.secrets) > 1 && len(f.secrets) != len(f.servers):
		return invalidf("--secret: %d secrets for %d servers (give one, or one per server)", len(f.secrets), len(f.servers))
	case f.allocSpan <= 0 || f.flowSpan <= 0:
		return invalidf("--alloc-duration and --flow-duration must be positive")
	case f.pps <= 0 || f.pps > 1000:
		return invalidf("--pps %d: want 1-1000", f.pps)
	case f.payload < 20 || f.payload > 1400:
		return invalidf("--payload %d: want 20-1400 bytes", f.payload)
	}
	for _, r := range f.rates {
		if r <= 0 {
			return invalidf("--rate %v: rates must be positive", r)
		}
	}
	for _, n := range f.flows {
		if n <= 0 || n > 5000 {
			return invalidf("--flows %d: want 1-5000", n)
		}
	}
	return nil
}

// targets resolves the relays to load, starting the reference when asked;
// stop stops it.
func (f turnLoadFlags) targets(ctx context.Context) ([]turnServer, func(), error) {
	sources := socket.NewSources()
	var tlsCfg *tls.Config
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, nil, withCode(exitInvalid, err, "")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, invalidf("--tls-ca %s: no PEM certificate", f.tlsCA)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var out []turnServer
	for i, spec := range f.servers {
		name, hostport, found := strings.Cut(spec, "@")
		if !found {
			name, hostport = spec, spec
		}
		ap, err := netip.ParseAddrPort(hostport)
		if err != nil {
			return nil, nil, invalidf("--server %q: want [NAME@]IP:PORT: %v", spec, err)
		}
		t := turnload.Target{Server: ap, Transport: f.transport, TLS: serverTLS(tlsCfg, ap), Username: f.user, Password: f.password}
		if len(f.secrets) > 0 {
			t.Secret = f.secrets[min(i, len(f.secrets)-1)]
		}
		t.NewNet = clientNets(sources, ap)
		out = append(out, turnServer{name: name, target: t})
	}
	stop := func() {}
	if f.reference || len(f.servers) == 0 {
		s, closeRef, err := f.startReference(ctx, sources)
		if err != nil {
			return nil, nil, err
		}
		out, stop = append(out, s), closeRef
	}
	return out, stop, nil
}

// startReference starts the reference relay on loopback with loads in
// mind: loopback peers allowed (the flows' peers are relays on loopback)
// and neither the quota nor the bandwidth cap in the way.
func (f turnLoadFlags) startReference(ctx context.Context, sources *socket.Sources) (turnServer, func(), error) {
	cfg := turn.DefaultTestConfig()
	cfg.UDP, cfg.TCP, cfg.TLS = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	cfg.MaxAllocationsPerUser = 1_000_000
	cfg.BandwidthBitsPerSecond = 0
	srv, err := turn.New(cfg)
	if err != nil {
		return turnServer{}, nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return turnServer{}, nil, err
	}
	addr := map[string]netip.AddrPort{
		turnload.TransportUDP: srv.UDPAddrs()[0], turnload.TransportTCP: srv.TCPAddrs()[0], turnload.TransportTLS: srv.TLSAddrs()[0],
	}[f.transport]
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CertificatePEM())
	t := turnload.Target{
		Server: addr, Transport: f.transport, Secret: cfg.Secrets[0], NewNet: clientNets(sources, addr),
		TLS: &tls.Config{RootCAs: pool, ServerName: addr.Addr().String(), MinVersion: tls.VersionTLS12},
	}
	return turnServer{name: "reference", target: t}, func() { _ = srv.Close() }, nil
}

// clientNets gives each client its own loopback source address, guarded to
// reach the relay only.
func clientNets(sources *socket.Sources, server netip.AddrPort) func() (transport.Net, error) {
	guard := socket.NewGuard(netip.PrefixFrom(server.Addr(), server.Addr().BitLen()))
	return func() (transport.Net, error) {
		src := netip.IPv6Loopback()
		if server.Addr().Is4() {
			var err error
			if src, err = sources.Next(); err != nil {
				return nil, err
			}
		}
		return socket.New(socket.WithSourceIP(src), socket.WithGuard(guard))
	}
}

func serverTLS(base *tls.Config, ap netip.AddrPort) *tls.Config {
	if base == nil {
		return &tls.Config{ServerName: ap.Addr().String(), MinVersion: tls.VersionTLS12}
	}
	c := base.Clone()
	c.ServerName = ap.Addr().String()
	return c
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range splitList(s) {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func transportName(t string) string {
	if t == "" {
		return turnload.TransportUDP
	}
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func codes(c map[int]int) string {
	if len(c) == 0 {
		return ""
	}
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d x%d", code, c[code]))
	}
	return ", errors " + strings.Join(parts, " ")
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
