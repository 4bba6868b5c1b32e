package attacks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// coturn (Debian package coturn, binary turnserver) is started by the
// specs themselves on loopback-only ports with a generated configuration,
// two ways: its deny list on (the ranges of CONFORMANCE.md as
// denied-peer-ip, loopback peers refused, which is coturn 4.6's default
// without allow-loopback-peers, and no-multicast-peers), and off with
// loopback peers allowed. Both keep a per-user quota and a bandwidth cap.
// Without turnserver the specs skip, or fail under GAUNTLET_INTEROP=require.

// coturnDenyList is CONFORMANCE.md's deny list in coturn's denied-peer-ip
// syntax (multicast is no-multicast-peers; the unspecified "::-::" is left
// out: coturn 4.6.1 then refuses every IPv4 peer of a client not on
// 127.0.0.1).
var coturnDenyList = []string{
	"0.0.0.0-0.255.255.255",
	"10.0.0.0-10.255.255.255",
	"100.64.0.0-100.127.255.255",
	"127.0.0.0-127.255.255.255",
	"169.254.0.0-169.254.255.255",
	"172.16.0.0-172.31.255.255",
	"192.168.0.0-192.168.255.255",
	"240.0.0.0-255.255.255.255",
	"::1",
	"::ffff:0.0.0.0-::ffff:255.255.255.255",
	"64:ff9b::-64:ff9b::ffff:ffff",
	"fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	"fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
}

const (
	coturnSecret   = "coturn-attack-secret-0123456789"
	coturnQuota    = 5
	coturnMaxBytes = 32000 // max-bps: bytes per second per session and direction
)

// coturnEnv starts coturn with its deny list on or off and returns an
// attack env for it, or skips when turnserver is missing.
func coturnEnv(ctx context.Context, denyList bool) *attack.Env {
	GinkgoHelper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		msg := fmt.Sprintf("turnserver not available (Debian package coturn): %v", err)
		if strings.EqualFold(os.Getenv("GAUNTLET_INTEROP"), "require") {
			Fail(msg + "; GAUNTLET_INTEROP=require")
		}
		Skip(msg)
	}
	dir := GinkgoT().TempDir()
	port, err := coturnPortPair()
	Expect(err).NotTo(HaveOccurred())
	stop, err := runCoturn(ctx, bin, dir, port, denyList)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	sources := socket.NewSources()
	var mu sync.Mutex
	return &attack.Env{
		TURN: attack.TURNEnv{
			URLs:          []string{fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port)},
			RESTSecret:    coturnSecret,
			LoopbackPeers: !denyList,
		},
		Net: func(opts ...socket.Option) (*socket.Net, error) {
			mu.Lock()
			src, err := sources.Next()
			mu.Unlock()
			if err != nil {
				return nil, err
			}
			return socket.New(append([]socket.Option{socket.WithSourceIP(src), socket.WithGuard(socket.NewGuard())}, opts...)...)
		},
		CaptureDir: filepath.Join(dir, "captures"),
	}
}

// runCoturn starts turnserver on 127.0.0.1:port (UDP and TCP; coturn also
// binds port+1) and returns once it answers a Binding.
func runCoturn(ctx context.Context, bin, dir string, port int, denyList bool) (func() error, error) {
	lines := []string{
		"listening-ip=127.0.0.1", "relay-ip=127.0.0.1", "relay-ip=::1",
		fmt.Sprintf("listening-port=%d", port), "min-port=49152", "max-port=65535",
		"realm=gauntlet.test", "fingerprint", "use-auth-secret", "static-auth-secret=" + coturnSecret,
		fmt.Sprintf("user-quota=%d", coturnQuota), fmt.Sprintf("max-bps=%d", coturnMaxBytes),
		"no-cli", "no-tls", "no-dtls", "no-stun-backward-compatibility", "no-rfc5780", "no-software-attribute",
		"userdb=" + filepath.Join(dir, "turndb"), "pidfile=" + filepath.Join(dir, "turnserver.pid"),
		"log-file=" + filepath.Join(dir, "turnserver.log"), "simple-log",
	}
	if denyList {
		lines = append(lines, "no-multicast-peers")
		for _, d := range coturnDenyList {
			lines = append(lines, "denied-peer-ip="+d)
		}
	} else {
		lines = append(lines, "allow-loopback-peers")
	}
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("starting %s: %w", bin, err), out.Close())
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its exit status says nothing the specs need
		close(exited)
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill() // SIGTERM was not enough
			<-exited
		}
		return out.Close()
	}
	ready, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := coturnReady(ready, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), exited); err != nil {
		return nil, errors.Join(fmt.Errorf("coturn (%s): %w", conf, err), stop())
	}
	return stop, nil
}

// coturnReady polls a Binding request until coturn answers (each try is a
// round trip, not a sleep).
func coturnReady(ctx context.Context, addr netip.AddrPort, exited <-chan struct{}) error {
	c, err := turnload.Dial(ctx, turnload.ClientConfig{Server: addr})
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		try, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := c.Binding(try)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer to a Binding request: %w", ctx.Err())
		case <-exited:
			return errors.New("turnserver exited")
		default:
		}
	}
}

// coturnPortPair finds a port p with p and p+1 free for UDP and TCP on
// 127.0.0.1 (coturn binds both).
func coturnPortPair() (int, error) {
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		if err := c.Close(); err != nil {
			return 0, err
		}
		if p < 65535 && coturnPortsFree(p, p+1) {
			return p, nil
		}
	}
	return 0, errors.New("no two adjacent free ports found")
}

func coturnPortsFree(ports ...int) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c() // probes only
		}
	}()
	for _, p := range ports {
		addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(p))
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u.Close)
		t, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, t.Close)
	}
	return true
}

var _ = Describe("turn-abuse and turn-torture against coturn", Label("coturn", "interop", "turn"), func() {
	It("turn-abuse: resisted with coturn's deny list on", Label("turn-abuse", "rfc8656"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-abuse", coturnEnv(ctx, true))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		expectTURNChecks(out, []string{"unauthenticated", "expired-credentials", "forged-credentials", "peer-deny", "quota"})
		// Loopback is refused as a peer, so no relayed path exists on a
		// loopback-only machine: the cap cannot be measured, and says so.
		Expect(turnSubVerdict(out, "bandwidth-cap")).To(Equal(attack.Inconclusive))
	}, SpecTimeout(60*time.Second))

	It("turn-abuse: VULNERABLE with coturn's deny list off, the other defences holding", Label("turn-abuse", "rfc8656", "peer-deny"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-abuse", coturnEnv(ctx, false))
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		expectTURNChecks(out, turnAbuseChecks, "peer-deny")
	}, SpecTimeout(60*time.Second))

	for _, deny := range []bool{true, false} {
		It(fmt.Sprintf("turn-torture: coturn keeps answering (deny list on: %v)", deny), Label("turn-torture", "torture", "rfc8489"), func(ctx SpecContext) {
			out := runTURNAttack(ctx, "turn-torture", coturnEnv(ctx, deny))
			Expect(turnSubVerdict(out, "alive")).To(Equal(attack.Resisted))
			Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		}, SpecTimeout(60*time.Second))
	}
})
