package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// Reporter consumes the stream of records. Add must not block for long;
// Close writes what remains and reports the first error met, including a
// write error Add could not return.
type Reporter interface {
	Add(Result)
	Close() error
}

// Tee returns a Reporter that hands every record to each of rs, in order,
// and closes them all.
func Tee(rs ...Reporter) Reporter { return tee(slices.Clone(rs)) }

type tee []Reporter

func (t tee) Add(r Result) {
	for _, x := range t {
		x.Add(r)
	}
}

func (t tee) Close() error {
	var errs []error
	for _, x := range t {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// Errors of the JSON lines reader and writer.
var (
	ErrBadRecord       = errors.New("bad result record")
	ErrTruncatedRecord = errors.New("truncated last result record") // a crash cut the last line short
	ErrWriterClosed    = errors.New("results writer closed")
)

// Default flush policy of a JSONLWriter: a crash loses at most this much.
const (
	DefaultFlushRecords  = 100
	DefaultFlushInterval = time.Second
)

// JSONLWriter writes results.jsonl: one redacted record per line. It
// buffers, and flushes after FlushRecords records or FlushInterval after the
// oldest unflushed one, whichever comes first, so a crash loses little. It
// is safe for concurrent use. A write error is kept: later Adds do nothing,
// and Flush, Err and Close return it.
type JSONLWriter struct {
	mu       sync.Mutex
	bw       *bufio.Writer
	enc      *json.Encoder
	file     *os.File // set when the writer owns the file (CreateJSONL)
	records  int
	interval time.Duration
	pending  int
	timer    *time.Timer
	err      error
	closed   bool
}

// JSONLOption configures a JSONLWriter.
type JSONLOption func(*JSONLWriter)

// FlushEvery sets the flush policy: after n records or d after the oldest
// unflushed record. n <= 0 or d <= 0 disables that trigger; with both
// disabled the writer flushes only on Flush and Close.
func FlushEvery(n int, d time.Duration) JSONLOption {
	return func(j *JSONLWriter) { j.records, j.interval = n, d }
}

// NewJSONLWriter writes records to w. Close flushes but does not close w.
func NewJSONLWriter(w io.Writer, opts ...JSONLOption) *JSONLWriter {
	j := &JSONLWriter{records: DefaultFlushRecords, interval: DefaultFlushInterval}
	for _, o := range opts {
		o(j)
	}
	j.bw = bufio.NewWriterSize(w, 64<<10)
	j.enc = json.NewEncoder(j.bw)
	j.enc.SetEscapeHTML(false)
	return j
}

// CreateJSONL creates (or truncates) the file at path and writes records to
// it. Close flushes, syncs and closes the file.
func CreateJSONL(path string, opts ...JSONLOption) (*JSONLWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	j := NewJSONLWriter(f, opts...)
	j.file = f
	return j, nil
}

// Add writes r, redacted, as one line.
func (j *JSONLWriter) Add(r Result) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return
	}
	if j.closed {
		j.err = ErrWriterClosed
		return
	}
	if err := j.enc.Encode(redactResult(r)); err != nil {
		j.err = fmt.Errorf("write result %q: %w", r.ID, err)
		return
	}
	j.pending++
	switch {
	case j.records > 0 && j.pending >= j.records:
		j.flushLocked()
	case j.interval > 0 && j.timer == nil:
		j.timer = time.AfterFunc(j.interval, j.timedFlush)
	}
}

func (j *JSONLWriter) timedFlush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.timer = nil
	if !j.closed && j.err == nil {
		j.flushLocked()
	}
}

func (j *JSONLWriter) flushLocked() {
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	j.pending = 0
	if err := j.bw.Flush(); err != nil && j.err == nil {
		j.err = fmt.Errorf("flush results: %w", err)
	}
}

// Flush writes buffered records out now.
func (j *JSONLWriter) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil && !j.closed {
		j.flushLocked()
	}
	return j.err
}

// Err returns the first write error, if any.
func (j *JSONLWriter) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Close flushes, stops the flush timer and, for CreateJSONL, syncs and
// closes the file. It returns the first error met. Closing twice is a no-op
// that returns the same error.
func (j *JSONLWriter) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return j.err
	}
	if j.err == nil {
		j.flushLocked()
	} else if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	j.closed = true
	if j.file != nil {
		if err := j.file.Sync(); err != nil && j.err == nil {
			j.err = fmt.Errorf("sync results file: %w", err)
		}
		if err := j.file.Close(); err != nil && j.err == nil {
			j.err = fmt.Errorf("close results file: %w", err)
		}
	}
	return j.err
}

// redactResult returns r with its free text redacted, sharing nothing
// mutable with r.
func redactResult(r Result) Result {
	r.Error = Redact(r.Error)
	r.From = Redact(r.From)
	r.To = Redact(r.To)
	r.Media = slices.Clone(r.Media)
	if r.Attack != nil {
		f := *r.Attack
		if r.Attack.Evidence != nil {
			f.Evidence = make([]string, len(r.Attack.Evidence))
			for i, e := range r.Attack.Evidence {
				f.Evidence[i] = Redact(e)
			}
		}
		f.Remediation = Redact(f.Remediation)
		r.Attack = &f
	}
	return r
}

// ReadJSONL reads results.jsonl from r and calls fn for each record in
// order. Blank lines are skipped and unknown fields ignored (newer writers).
// A line that does not decode stops the read with an error naming the line
// and wrapping ErrBadRecord, or ErrTruncatedRecord when it is the last line
// and has no newline (a crash cut it short): every record before it has
// been delivered, so a caller may report the rest with a warning. An error
// from fn stops the read and is returned wrapped.
func ReadJSONL(r io.Reader, fn func(Result) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("read results line %d: %w", n, rerr)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			var res Result
			if err := json.Unmarshal(trimmed, &res); err != nil {
				sentinel := ErrBadRecord
				if rerr != nil {
					sentinel = ErrTruncatedRecord
				}
				return fmt.Errorf("results line %d: %w: %w", n, sentinel, err)
			}
			if err := fn(res); err != nil {
				return fmt.Errorf("results line %d: %w", n, err)
			}
		}
		if rerr != nil {
			return nil
		}
	}
}
