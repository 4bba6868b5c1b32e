package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// netns is a network namespace this test made, joined to the test's own
// namespace by a veth pair: Addr inside, Peer on this side. Nothing but
// the test's own processes lives there.
type netns struct {
	Name, Addr, Peer string
}

// newNetns makes a namespace with a /30 between it and this one, and
// removes it when the test ends. It needs root and ip(8): without them the
// test skips, or fails under GAUNTLET_INTEROP=require (which .ci/run sets).
func newNetns(t *testing.T) netns {
	t.Helper()
	why := ""
	ipBin, err := exec.LookPath("ip")
	switch {
	case runtime.GOOS != "linux":
		why = "network namespaces are Linux's"
	case os.Geteuid() != 0:
		why = "making a network namespace needs root"
	case err != nil:
		why = "ip(8) not available (Debian package iproute2): " + err.Error()
	}
	if why != "" {
		if strings.EqualFold(os.Getenv("GAUNTLET_INTEROP"), "require") {
			t.Fatalf("%s; GAUNTLET_INTEROP=require", why)
		}
		t.Skip(why)
	}
	id := os.Getpid() % 250
	n := netns{Name: fmt.Sprintf("gauntlet-test-%d", os.Getpid()), Addr: fmt.Sprintf("10.213.%d.1", id), Peer: fmt.Sprintf("10.213.%d.2", id)}
	host, inside := fmt.Sprintf("gth%d", os.Getpid()), fmt.Sprintf("gtn%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", n.Name)
	t.Cleanup(func() {
		_ = exec.Command(ipBin, "netns", "del", n.Name).Run() // takes the veth pair with it
		_ = exec.Command(ipBin, "link", "del", host).Run()
	})
	ip("link", "add", host, "type", "veth", "peer", "name", inside)
	ip("link", "set", inside, "netns", n.Name)
	ip("addr", "add", n.Peer+"/30", "dev", host)
	ip("link", "set", host, "up")
	ip("-n", n.Name, "addr", "add", n.Addr+"/30", "dev", inside)
	ip("-n", n.Name, "link", "set", inside, "up")
	ip("-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Gauntlet against a deployment that is not on loopback: the reference
// runs in a network namespace of its own, at an address outside
// 127.0.0.0/8, and `gauntlet run --target` from this namespace places the
// smoke scenario's calls through it. Agents must bind the address the
// route toward the target leaves from (a loopback source cannot reach
// it), and the target's media candidates must be let through the guard.
func TestRemoteTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a reference in a network namespace")
	}
	ns := newNetns(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "reference.yaml")
	conf := fmt.Sprintf(`gateway:
  ws_addr: %[1]s:0
  udp_addr: %[1]s:0
  wss_addr: ""
  tcp_addr: ""
  tls_addr: ""
  http_addr: ""
  listen: []
  media_ip: %[1]s
  rate_limit:    # one load generator is one source here: let it through, as an operator would
    register_per_source: {per_second: 500, burst: 1000}
    invite_per_source: {per_second: 500, burst: 1000}
    ws_upgrade_per_source: {per_second: 500, burst: 1000}
turn: null
rooms: null
`, ns.Addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target.yaml")
	ref := exec.Command("ip", "netns", "exec", ns.Name, bin, "reference", "--config", cfg, "--print-target", target)
	stderr, err := ref.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = ref.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = ref.Process.Kill()
			<-exited
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		up := false
		for sc.Scan() {
			if !up && strings.Contains(sc.Text(), "running until interrupted") {
				up = true
				ready <- true
			}
		}
		if !up {
			ready <- false
		}
		exited <- ref.Wait()
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the reference in the namespace exited before it was ready")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reference in the namespace did not come up within 30 s")
	}
	raw, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "ws://"+ns.Addr+":") {
		t.Fatalf("the target file does not point into the namespace:\n%s", raw)
	}

	out := filepath.Join(dir, "out")
	ctx := testContext(t, 2*time.Minute)
	scenario := filepath.Join("..", "..", "scenarios", "smoke.yaml")
	code, stdout, errs := runCLI(t, ctx, "run", scenario, "--target", target, "--seed", "5", "--out", out)
	if code != exitOK {
		t.Fatalf("run --target (in a namespace at %s): exit %d\n%s\n%s", ns.Addr, code, stdout, errs)
	}
	s := readSummary(t, out)
	if s.Calls.Attempted != 10 || s.Calls.Connected != 10 || s.Media.OneWayAudio != 0 {
		t.Fatalf("calls %+v, one-way audio %d: want 10 of 10 connected with audio both ways", s.Calls, s.Media.OneWayAudio)
	}
}
