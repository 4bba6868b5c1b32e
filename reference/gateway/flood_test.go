package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// floodHeapLimit is the most heap the process running the gateway (and
// this test's flooders) may hold during the floods.
const floodHeapLimit = 160 << 20

// floodStats counts the answers a flood got.
type floodStats struct {
	sent, s503, retryAfter, s429, other atomic.Int64
}

func (f *floodStats) take(res *sip.Response) {
	switch res.StatusCode {
	case 503:
		f.s503.Add(1)
		if res.GetHeader("Retry-After") != nil {
			f.retryAfter.Add(1)
		}
	case 429:
		f.s429.Add(1)
	default:
		f.other.Add(1)
	}
}

func (f *floodStats) String() string {
	return fmt.Sprintf("sent %d: 503 %d (Retry-After %d), 429 %d, other %d",
		f.sent.Load(), f.s503.Load(), f.retryAfter.Load(), f.s429.Load(), f.other.Load())
}

// registerBytes is a REGISTER for user from a UDP socket at local.
func registerBytes(domain, user string, local *net.UDPAddr, auth string) (*sip.Request, []byte) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: local.IP.String(), Port: local.Port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	aor := sip.Uri{Scheme: "sip", User: user, Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", strings.ToLower(rand.Text()[:10]))
	callID := sip.CallIDHeader(rand.Text())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: local.IP.String(), Port: local.Port}})
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	if auth != "" {
		req.AppendHeader(sip.NewHeader("Authorization", auth))
	}
	req.SetBody(nil)
	return req, []byte(req.String())
}

func readResponse(conn *net.UDPConn, until time.Time) (*sip.Response, error) {
	_ = conn.SetReadDeadline(until)
	buf := make([]byte, 4096)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return nil, err
		}
		if msg, err := sip.ParseMessage(buf[:n]); err == nil {
			if res, ok := msg.(*sip.Response); ok {
				return res, nil
			}
		}
	}
}

// legitimateRegistrations registers users (each from its own source)
// over and over with digest until ctx ends, and counts the outcomes.
func legitimateRegistrations(ctx context.Context, t *testing.T, gw *Gateway, users int) (ok, failed *atomic.Int64, wait func()) {
	ok, failed = new(atomic.Int64), new(atomic.Int64)
	var wg sync.WaitGroup
	server, err := net.ResolveUDPAddr("udp4", gw.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 30, 0, byte(i+1))})
		if err != nil {
			t.Fatal(err)
		}
		user := gw.cfg.SIPUsers.Name(i)
		wg.Go(func() {
			defer conn.Close()
			tick := time.NewTicker(1500 * time.Millisecond) // 2 requests (challenge, credentials) per 1.5 s: under the per-user limit
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if registerOnce(conn, server, gw, user) {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	return ok, failed, wg.Wait
}

func registerOnce(conn *net.UDPConn, server *net.UDPAddr, gw *Gateway, user string) bool {
	local := conn.LocalAddr().(*net.UDPAddr)
	req, raw := registerBytes(gw.Domain(), user, local, "")
	if _, err := conn.WriteToUDP(raw, server); err != nil {
		return false
	}
	res, err := readResponse(conn, time.Now().Add(2*time.Second))
	if err != nil || res.StatusCode != 401 {
		return false
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		return false
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: user, Password: gw.Password(KindSIP)})
	if err != nil {
		return false
	}
	_, raw = registerBytes(gw.Domain(), user, local, cred.String())
	if _, err := conn.WriteToUDP(raw, server); err != nil {
		return false
	}
	res, err = readResponse(conn, time.Now().Add(2*time.Second))
	return err == nil && res.StatusCode == 200
}

// heapPeak samples the heap until stop is closed and returns the peak.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestRegisterFlood floods REGISTER at 1,000/s for one user, first from one
// source (3 s), then from 10,000 distinct 127.x sources, one request each
// (10 s): beyond the per-source and per-user limits the answers are 503
// with Retry-After (never 429), while 50 users registering with digest
// from other sources every 1.5 s keep at least 99% success, and the heap
// stays under floodHeapLimit.
func TestRegisterFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("13 s of flood")
	}
	exclusiveTiming(t)
	ctx := deadline(t, 60*time.Second)
	cfg := DefaultConfig()
	cfg.Logger = nil
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	server, err := net.ResolveUDPAddr("udp4", gw.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	victim := gw.cfg.SIPUsers.Name(gw.cfg.SIPUsers.Count - 1)
	legitCtx, stopLegit := context.WithCancel(ctx)
	ok, failed, waitLegit := legitimateRegistrations(legitCtx, t, gw, 50)
	stopHeap := make(chan struct{})
	peak := heapPeak(stopHeap)

	var one floodStats
	floodOneSource(ctx, t, server, gw.Domain(), victim, 3000, &one)
	var many floodStats
	floodManySources(ctx, t, server, gw.Domain(), victim, 10000, &many)

	stopLegit()
	waitLegit()
	close(stopHeap)
	heap := <-peak
	t.Logf("one source: %s", &one)
	t.Logf("10,000 sources: %s", &many)
	t.Logf("legitimate registrations: %d ok, %d failed; heap peak %d MiB", ok.Load(), failed.Load(), heap>>20)
	for name, f := range map[string]*floodStats{"one source": &one, "10,000 sources": &many} {
		if f.s429.Load() != 0 {
			t.Errorf("%s: SIP 429 sent", name)
		}
		if s := f.s503.Load(); s < f.sent.Load()*9/10 || f.retryAfter.Load() != s {
			t.Errorf("%s: %s; want at least 90%% 503, each with Retry-After", name, f)
		}
	}
	if total := ok.Load() + failed.Load(); total < 300 || ok.Load()*100 < total*99 {
		t.Errorf("legitimate registrations: %d of %d succeeded, want >= 99%%", ok.Load(), total)
	}
	if heap > floodHeapLimit {
		t.Errorf("heap peaked at %d MiB, over %d MiB", heap>>20, floodHeapLimit>>20)
	}
}

// floodOneSource sends n REGISTERs at 1,000/s from one socket.
func floodOneSource(ctx context.Context, t *testing.T, server *net.UDPAddr, domain, user string, n int, f *floodStats) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 31, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			res, err := readResponse(conn, time.Now().Add(time.Second))
			if err != nil {
				return
			}
			f.take(res)
		}
	})
	local := conn.LocalAddr().(*net.UDPAddr)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for range n {
		_, raw := registerBytes(domain, user, local, "")
		if _, err := conn.WriteToUDP(raw, server); err == nil {
			f.sent.Add(1)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
	readers.Wait()
}

// floodManySources sends n REGISTERs at 1,000/s, each from a socket on
// its own 127.x address, and reads each answer.
func floodManySources(ctx context.Context, t *testing.T, server *net.UDPAddr, domain, user string, n int, f *floodStats) {
	const workers = 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tick := time.NewTicker(workers * time.Millisecond)
			defer tick.Stop()
			for i := w; i < n; i += workers {
				ip := net.IPv4(127, byte(40+i/62500), byte(i/250%250), byte(i%250+1))
				conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
				if err != nil {
					t.Error(err)
					return
				}
				_, raw := registerBytes(domain, user, conn.LocalAddr().(*net.UDPAddr), "")
				if _, err := conn.WriteToUDP(raw, server); err == nil {
					f.sent.Add(1)
					if res, err := readResponse(conn, time.Now().Add(time.Second)); err == nil {
						f.take(res)
					}
				}
				conn.Close()
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
}

// exclusiveTiming holds the machine-wide lock that keeps this heavy test
// apart from the timing-sensitive ones in other packages (suites/fixture's
// TimingLockFile, which this package may not import).
func exclusiveTiming(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "gauntlet-timing.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("timing lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("timing lock: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}
