package reports

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func fullRecord() Result {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	return Result{
		Kind: KindCall, ID: "call-1", Population: "browsers", From: "alice", To: "1001",
		Start: t0, End: t0.Add(1500 * time.Millisecond), Outcome: OutcomeFailed, Cause: CauseMedia,
		Error: "no audio", SIPStatus: 200,
		Phases:   Phases{SignalingMS: 1.5, ICEMS: 2.25, DTLSMS: 3, FirstMediaMS: 4, TotalMS: 10.75},
		ICE:      ICE{SDPExchanged: true, Connected: true, Policy: "relay", LocalCandidate: "relay", RemoteCandidate: "host", Relay: true},
		Security: Security{DTLSVersion: "DTLS 1.2", CipherSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", SRTPProfile: "SRTP_AES128_CM_HMAC_SHA1_80", FingerprintHash: "sha-256", ExtendedMasterSecret: true, DTLSRole: "client", ObservedBy: "wire"},
		Codec:    "opus/48000/2",
		Media: []Direction{
			{Name: "caller->callee", Sent: 50, Received: 49, Lost: 1, LossPct: 2, JitterMS: 1.5, DelayMS: 10, MOS: 4.3, LongestGapMS: 40, Audio: true, Method: "rtp-marks"},
			{Name: "callee->caller", Sent: 50},
		},
		OneWayAudio: true,
		Attack:      &Finding{Name: "x", Verdict: VerdictResisted, Severity: "low", Evidence: []string{"e1", "e2"}, Remediation: "r"},
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	recs := []Result{fullRecord(), {Kind: KindRegister, ID: "reg-1", Outcome: OutcomeOK}, call("c", 4.1, 4.2)}
	var buf bytes.Buffer
	w := NewJSONLWriter(&buf)
	for _, r := range recs {
		w.Add(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(recs) {
		t.Fatalf("%d lines, want %d", n, len(recs))
	}
	var got []Result
	if err := ReadJSONL(&buf, func(r Result) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, recs)
	}
}

func TestJSONLWriterRedacts(t *testing.T) {
	r := fullRecord()
	r.Error = "401 after Authorization: Digest response=\"deadbeef\""
	r.From = "sip:alice:pw1@127.0.0.1"
	r.Attack.Evidence = []string{"token=zzz accepted"}
	var buf bytes.Buffer
	w := NewJSONLWriter(&buf)
	w.Add(r)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"deadbeef", "pw1", "zzz"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("results line holds %q: %s", secret, buf.String())
		}
	}
	if r.Attack.Evidence[0] != "token=zzz accepted" {
		t.Error("the writer modified the caller's record")
	}
}

func TestReadJSONL(t *testing.T) {
	good := `{"kind":"call","id":"a","outcome":"ok","start":"2026-03-02T10:00:00Z","end":"2026-03-02T10:00:01Z","phases":{},"ice":{"sdp_exchanged":true,"connected":true,"relay":false},"security":{"extended_master_secret":false},"one_way_audio":false,"future_field":1}`
	tests := []struct {
		name    string
		in      string
		wantIDs string
		wantErr error
		errLine string
	}{
		{"empty input", "", "", nil, ""},
		{"blank lines skipped", "\n" + good + "\n\n" + good + "\r\n", "a,a", nil, ""},
		{"last line without newline", good + "\n" + good, "a,a", nil, ""},
		{"bad line in the middle", good + "\nnot json\n" + good + "\n", "a", ErrBadRecord, "line 2"},
		{"truncated last line", good + "\n" + good[:40], "a", ErrTruncatedRecord, "line 2"},
		{"wrong type", `{"kind":"call","id":7}` + "\n", "", ErrBadRecord, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			err := ReadJSONL(strings.NewReader(tt.in), func(r Result) error { ids = append(ids, r.ID); return nil })
			if strings.Join(ids, ",") != tt.wantIDs {
				t.Errorf("delivered %q, want %q", ids, tt.wantIDs)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errLine) {
				t.Fatalf("err = %v, want %v at %s", err, tt.wantErr, tt.errLine)
			}
		})
	}
}

func TestReadJSONLCallbackError(t *testing.T) {
	stop := errors.New("stop")
	in := "{\"kind\":\"call\",\"id\":\"a\"}\n{\"kind\":\"call\",\"id\":\"b\"}\n"
	n := 0
	err := ReadJSONL(strings.NewReader(in), func(Result) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d calls, want stop after 1", err, n)
	}
}

// lockedBuffer is a bytes.Buffer safe to read while the flush timer writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), "\n")
}

func TestJSONLWriterFlushesByCount(t *testing.T) {
	var out lockedBuffer
	w := NewJSONLWriter(&out, FlushEvery(3, 0))
	for i := range 5 {
		w.Add(call(fmt.Sprint(i)))
	}
	if got := out.lines(); got != 3 {
		t.Fatalf("%d lines out after 5 adds with flush every 3, want 3", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.lines(); got != 5 {
		t.Fatalf("%d lines after Close, want 5", got)
	}
}

func TestJSONLWriterFlushesByTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		w := NewJSONLWriter(&out, FlushEvery(1000, time.Second))
		w.Add(call("a"))
		time.Sleep(999 * time.Millisecond) // fake clock inside the bubble
		synctest.Wait()
		if got := out.lines(); got != 0 {
			t.Fatalf("%d lines before the interval, want 0", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := out.lines(); got != 1 {
			t.Fatalf("%d lines after the interval, want 1", got)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestJSONLWriterKeepsWriteError(t *testing.T) {
	disk := errors.New("disk full")
	w := NewJSONLWriter(failingWriter{disk}, FlushEvery(1, 0))
	w.Add(call("a"))
	w.Add(call("b"))
	if err := w.Err(); !errors.Is(err, disk) {
		t.Fatalf("Err = %v, want disk full", err)
	}
	if err := w.Close(); !errors.Is(err, disk) {
		t.Fatalf("Close = %v, want disk full", err)
	}
}

func TestJSONLWriterAddAfterClose(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSONLWriter(&buf)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Add(call("late"))
	if err := w.Close(); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("Close after a late Add = %v, want ErrWriterClosed", err)
	}
	if buf.Len() != 0 {
		t.Fatal("a record was written after Close")
	}
}

func TestCreateJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), ResultsFile)
	w, err := CreateJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Add(call("a"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("file = %q, %v", b, err)
	}
	if _, err := CreateJSONL(filepath.Join(t.TempDir(), "missing", "x.jsonl")); err == nil {
		t.Fatal("CreateJSONL in a missing directory succeeded")
	}
}

func TestTee(t *testing.T) {
	var buf bytes.Buffer
	z := NewSummarizer(RunMeta{})
	bad := NewJSONLWriter(failingWriter{errors.New("boom")}, FlushEvery(1, 0))
	r := Tee(z, NewJSONLWriter(&buf), bad)
	r.Add(call("a"))
	err := r.Close()
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Tee.Close = %v, want the failing writer's error", err)
	}
	if z.Summary().Calls.Attempted != 1 || strings.Count(buf.String(), "\n") != 1 {
		t.Fatal("Tee did not hand the record to every reporter")
	}
}
