package impair_test

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

// rtpish makes a datagram that looks like RTP with sequence number seq.
func rtpish(seq uint16) []byte {
	b := make([]byte, 172)
	b[0], b[1] = 0x80, 0
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(b[8:], 0xfeed)
	return b
}

func listen(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newImpairer(t *testing.T, cfg impair.Config) *impair.Impairer {
	t.Helper()
	im, err := impair.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

type arrival struct {
	seq uint16
	at  time.Time
}

// collect reads n datagrams from c (or until a 2 s silence).
func collect(t *testing.T, c net.PacketConn, n int) []arrival {
	t.Helper()
	var out []arrival
	buf := make([]byte, 1500)
	for len(out) < n {
		if err := c.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return out
			}
			t.Fatal(err)
		}
		out = append(out, arrival{binary.BigEndian.Uint16(buf[2:k]), time.Now()})
	}
	return out
}

func TestOutgoingDelayAndLossMatchTheLog(t *testing.T) {
	log := impair.NewLog()
	im := newImpairer(t, impair.Config{
		Out:   impair.Schedule{Base: impair.Profile{Loss: 0.2, Delay: 30 * ms}},
		Seed:  1,
		Match: impair.IsRTP,
		Log:   log,
	})
	sink := listen(t)
	c := im.Wrap(listen(t))
	const n = 100
	sent := map[uint16]time.Time{}
	for i := range n {
		sent[uint16(i)] = time.Now()
		if k, err := c.WriteTo(rtpish(uint16(i)), sink.LocalAddr()); err != nil || k != 172 {
			t.Fatalf("WriteTo = %d, %v", k, err)
		}
		time.Sleep(ms) // pacing, like a sender; not readiness
	}
	// Not RTP: passes untouched and unlogged.
	if _, err := c.WriteTo([]byte("hello"), sink.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	recs := log.Records()
	dropped := 0
	for _, r := range recs {
		if r.Dropped != "" {
			dropped++
		}
	}
	got := collect(t, sink, n-dropped+1)
	if len(got) != n-dropped+1 || len(recs) != n {
		t.Fatalf("received %d, log has %d records with %d drops", len(got), len(recs), dropped)
	}
	if dropped < 10 || dropped > 30 {
		t.Errorf("%d of %d dropped at 20%%", dropped, n)
	}
	recs = log.Records()
	bySeq := map[uint16]impair.Record{}
	for _, r := range recs {
		bySeq[r.Seq] = r
		if !r.RTP || r.SSRC != 0xfeed || r.Dir != impair.Out || r.Size != 172 {
			t.Fatalf("record %+v", r)
		}
	}
	for _, a := range got {
		if a.seq == uint16('l')<<8|'l' { // "hello": bytes 2 and 3
			continue
		}
		r := bySeq[a.seq]
		if r.Dropped != "" || !r.Delivered() {
			t.Fatalf("seq %d arrived but the log says %+v", a.seq, r)
		}
		// Releases aim early by how late timers fire (1 ms at most); a
		// loaded machine may release late.
		if d := r.Released.Sub(r.Offered); d < 29*ms || d > time.Second {
			t.Errorf("seq %d released after %v, want 30 ms", a.seq, d)
		}
		if d := a.at.Sub(sent[a.seq]); d < 29*ms {
			t.Errorf("seq %d arrived after %v, before its delay", a.seq, d)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo(rtpish(1), sink.LocalAddr()); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestIncomingDelayAndDeadline(t *testing.T) {
	log := impair.NewLog()
	im := newImpairer(t, impair.Config{In: impair.Schedule{Base: impair.Profile{Delay: 40 * ms}}, Log: log})
	c := im.Wrap(listen(t))
	defer c.Close()
	src := listen(t)

	// Nothing arrives: the deadline still holds.
	if err := c.SetReadDeadline(time.Now().Add(50 * ms)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := c.ReadFrom(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom = %v, want a deadline error", err)
	}
	if d := time.Since(start); d < 45*ms || d > 500*ms {
		t.Fatalf("deadline hit after %v", d)
	}

	const n = 10
	for i := range n {
		if _, err := src.WriteTo(rtpish(uint16(i)), c.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for i := range n {
		k, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint16(buf[2:k]); got != uint16(i) || from.String() != src.LocalAddr().String() {
			t.Fatalf("read seq %d from %v, want %d from %v", got, from, i, src.LocalAddr())
		}
	}
	if d := time.Since(sent); d < 35*ms {
		t.Fatalf("all read %v after sending, before the 40 ms delay", d)
	}
	for _, r := range log.Records() {
		if r.Dir != impair.In || !r.Delivered() || r.Released.Sub(r.Offered) < 39*ms {
			t.Fatalf("record %+v", r)
		}
	}
}

func TestConnectedSocketKeepsReadWrite(t *testing.T) {
	sink := listen(t)
	raw, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	log := impair.NewLog()
	im := newImpairer(t, impair.Config{
		Out: impair.Schedule{Base: impair.Profile{Delay: 10 * ms, Duplicate: 1}},
		In:  impair.Schedule{Base: impair.Profile{Delay: 5 * ms}},
		Log: log,
	})
	w := im.Wrap(raw)
	defer w.Close()
	c, ok := w.(interface {
		Read([]byte) (int, error)
		Write([]byte) (int, error)
		RemoteAddr() net.Addr
	})
	if !ok || c.RemoteAddr().String() != sink.LocalAddr().String() {
		t.Fatalf("a connected socket lost Read/Write/RemoteAddr: %T", w)
	}
	if _, err := c.Write(rtpish(7)); err != nil {
		t.Fatal(err)
	}
	got := collect(t, sink, 2)
	if len(got) != 2 || got[0].seq != 7 || got[1].seq != 7 {
		t.Fatalf("got %+v, want seq 7 twice (duplicated)", got)
	}
	if _, err := sink.WriteTo(rtpish(9), raw.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	k, err := c.Read(buf)
	if err != nil || binary.BigEndian.Uint16(buf[2:k]) != 9 {
		t.Fatalf("Read = %d, %v", k, err)
	}
	copies := 0
	for _, r := range log.Records() {
		if r.Copy {
			copies++
		}
	}
	if len(log.Records()) != 3 || copies != 1 {
		t.Fatalf("log %+v", log.Records())
	}
}

func TestScheduledStepDropsOnlyInItsWindow(t *testing.T) {
	log := impair.NewLog()
	origin := time.Now()
	im := newImpairer(t, impair.Config{
		Out:    impair.Schedule{Steps: []impair.Step{{At: 100 * ms, For: 100 * ms, Profile: impair.Profile{Loss: 1}}}},
		Origin: origin,
		Log:    log,
	})
	sink := listen(t)
	c := im.Wrap(listen(t))
	defer c.Close()
	for i := 0; time.Since(origin) < 300*ms; i++ {
		if _, err := c.WriteTo(rtpish(uint16(i)), sink.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * ms) // pacing across the window
	}
	inWindow, outside := 0, 0
	for _, r := range log.Records() {
		at := r.Offered.Sub(origin)
		want := at >= 100*ms && at < 200*ms
		if (r.Dropped != "") != want {
			t.Fatalf("packet at %v: dropped %q", at, r.Dropped)
		}
		if want {
			inWindow++
		} else {
			outside++
		}
	}
	if inWindow == 0 || outside == 0 {
		t.Fatalf("%d packets in the window, %d outside: the test proves nothing", inWindow, outside)
	}
}

func TestCloseReleasesTheScheduler(t *testing.T) {
	log := impair.NewLog()
	im := newImpairer(t, impair.Config{Out: impair.Schedule{Base: impair.Profile{Delay: time.Hour}}, Log: log})
	sink := listen(t)
	c := im.Wrap(listen(t))
	for i := range 5 {
		if _, err := c.WriteTo(rtpish(uint16(i)), sink.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range log.Records() {
		if r.Delivered() || r.Dropped != "" || r.Due.Sub(r.Offered) != time.Hour {
			t.Fatalf("held datagram %+v", r)
		}
	}
	// goleak (TestMain) checks that the scheduler goroutine is gone.
}

func TestNewRejectsBadProfiles(t *testing.T) {
	_, err := impair.New(impair.Config{In: impair.Schedule{Base: impair.Profile{Loss: 2}}})
	if !errors.Is(err, impair.ErrProfile) {
		t.Fatalf("New = %v", err)
	}
}

func TestLogUnimpaired(t *testing.T) {
	log := impair.NewLog()
	im := newImpairer(t, impair.Config{Match: impair.IsRTP, Log: log, LogUnimpaired: true})
	a, b := im.Wrap(listen(t)), im.Wrap(listen(t))
	defer a.Close()
	defer b.Close()
	if _, err := a.WriteTo(rtpish(3), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo([]byte("not rtp"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for range 2 {
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}
	recs := log.Records()
	if len(recs) != 2 || recs[0].Dir != impair.Out || recs[1].Dir != impair.In || recs[0].Conn == recs[1].Conn {
		t.Fatalf("records %+v", recs)
	}
	for _, r := range recs {
		if r.Seq != 3 || !r.Delivered() || r.Dropped != "" || r.Released.Before(r.Offered) {
			t.Fatalf("record %+v", r)
		}
	}
	if !recs[1].Released.After(recs[0].Released) {
		t.Fatalf("arrived %v before it left %v", recs[1].Released, recs[0].Released)
	}
}

// The reader's arrival stamp is the release the log records, for the
// datagrams the layer held and for those it let straight through, so a
// receiver's timings are the layer's however late the reader runs.
func TestReadStampIsTheRelease(t *testing.T) {
	for _, p := range []impair.Profile{{Delay: 20 * ms}, {Loss: 0.3}} {
		log := impair.NewLog()
		im := newImpairer(t, impair.Config{In: impair.Schedule{Base: p}, Seed: 3, Log: log})
		c := im.Wrap(listen(t))
		src := listen(t)
		const n = 20
		for i := range n {
			if _, err := src.WriteTo(rtpish(uint16(i)), c.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
		stamps := map[uint16]time.Time{}
		buf := make([]byte, 1500)
		for {
			if err := c.SetReadDeadline(time.Now().Add(300 * ms)); err != nil {
				t.Fatal(err)
			}
			k, _, at, err := c.(interface {
				ReadFromStamped([]byte) (int, net.Addr, time.Time, error)
			}).ReadFromStamped(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			stamps[binary.BigEndian.Uint16(buf[2:k])] = at
		}
		_ = c.Close()
		delivered := 0
		for _, r := range log.Records() {
			if !r.Delivered() {
				continue
			}
			delivered++
			if at, ok := stamps[r.Seq]; !ok || !at.Equal(r.Released) {
				t.Fatalf("%+v: seq %d stamped %v, released %v", p, r.Seq, at, r.Released)
			}
		}
		if delivered == 0 || delivered != len(stamps) {
			t.Fatalf("%+v: %d delivered, %d read", p, delivered, len(stamps))
		}
	}
}
