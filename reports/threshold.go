package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Errors ParseThreshold returns, wrapped with the expression.
var (
	ErrThresholdSyntax = errors.New("threshold must read METRIC OP NUMBER, OP one of < <= > >= == !=")
	ErrUnknownMetric   = errors.New("unknown metric")
)

// Threshold is a parsed expression `METRIC OP NUMBER`, e.g.
// `ice.success_rate >= 0.99`.
type Threshold struct {
	Expr   string  // the expression as written, trimmed
	Metric string  // a name KnownMetrics lists
	Op     string  // one of < <= > >= == !=
	Value  float64 // finite
	// Default marks a threshold the run applied because the scenario named
	// none (DefaultThresholds); reports show it as such.
	Default bool
}

// ThresholdResult is a threshold evaluated against a Summary.
type ThresholdResult struct {
	Name    string  // the expression
	OK      bool    // the threshold held
	Actual  float64 // the metric's value; meaningless when NoData
	NoData  bool    // the metric had no samples, so the threshold failed
	Default bool    // from DefaultThresholds
	Note    string  // why it failed when that is not plain from Actual
}

// ops are tried longest first so that "<=" is not read as "<".
var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses `METRIC OP NUMBER`. Spaces around OP are optional.
// An unknown metric is an error wrapping ErrUnknownMetric that lists the
// known ones; anything else malformed wraps ErrThresholdSyntax.
func ParseThreshold(expr string) (Threshold, error) {
	e := strings.TrimSpace(expr)
	i := strings.IndexFunc(e, func(r rune) bool {
		return !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if i <= 0 {
		return Threshold{}, fmt.Errorf("threshold %q: %w", expr, ErrThresholdSyntax)
	}
	name, rest := e[:i], strings.TrimLeft(e[i:], " \t")
	op := ""
	for _, o := range ops {
		if strings.HasPrefix(rest, o) {
			op = o
			break
		}
	}
	if op == "" {
		return Threshold{}, fmt.Errorf("threshold %q: no comparison after %q: %w", expr, name, ErrThresholdSyntax)
	}
	num := strings.TrimSpace(rest[len(op):])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Threshold{}, fmt.Errorf("threshold %q: %q is not a finite number: %w", expr, num, ErrThresholdSyntax)
	}
	if _, ok := lookupMetric(name); !ok {
		return Threshold{}, fmt.Errorf("threshold %q: %w %q; known metrics: %s",
			expr, ErrUnknownMetric, name, strings.Join(KnownMetrics(), ", "))
	}
	return Threshold{Expr: e, Metric: name, Op: op, Value: v}, nil
}

// DefaultThresholds are what a scenario with no thresholds gets
// (DESIGN.md), marked Default. They are on call figures; EvalThresholds
// fits them to a run of rooms (see DefaultRoomThresholds).
func DefaultThresholds() []Threshold {
	return defaults("ice.success_rate >= 0.99", "media.one_way_audio == 0")
}

// DefaultRoomThresholds are the defaults on the room figures: the call
// defaults' counterparts, and no address leaked (the promise of a
// relay-only room). Marked Default.
func DefaultRoomThresholds() []Threshold {
	return defaults("rooms.ice.success_rate >= 0.99", "rooms.media.one_way_audio == 0", "rooms.leaks == 0")
}

func defaults(exprs ...string) []Threshold {
	ts := make([]Threshold, len(exprs))
	for i, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			panic("reports: bad default threshold: " + err.Error())
		}
		t.Default = true
		ts[i] = t
	}
	return ts
}

// String returns the expression.
func (t Threshold) String() string { return t.Expr }

// Eval evaluates t against s. A metric with no data fails the threshold
// with a note: a threshold never passes for want of samples.
func (t Threshold) Eval(s *Summary) ThresholdResult {
	r := ThresholdResult{Name: t.Expr, Default: t.Default}
	if r.Name == "" {
		r.Name = t.Metric + " " + t.Op + " " + strconv.FormatFloat(t.Value, 'g', -1, 64)
	}
	m, known := lookupMetric(t.Metric)
	if !known {
		r.NoData = true
		r.Note = "unknown metric " + strconv.Quote(t.Metric)
		return r
	}
	p := m.get(s)
	if p == nil {
		r.NoData = true
		r.Note = "no data: " + t.Metric + " had no samples in this run"
		return r
	}
	r.Actual = *p
	r.OK = compare(r.Actual, t.Op, t.Value)
	if !r.OK {
		r.Note = fmt.Sprintf("%s was %s", t.Metric, strconv.FormatFloat(r.Actual, 'g', 6, 64))
	}
	return r
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	return false
}

// thresholdJSON is ThresholdResult as summary.json holds it: actual is null
// when the metric had no data.
type thresholdJSON struct {
	Name    string   `json:"name"`
	OK      bool     `json:"ok"`
	Actual  *float64 `json:"actual"`
	Default bool     `json:"default"`
	Note    string   `json:"note,omitempty"`
}

// MarshalJSON encodes Actual as null when the metric had no data.
func (r ThresholdResult) MarshalJSON() ([]byte, error) {
	j := thresholdJSON{Name: r.Name, OK: r.OK, Default: r.Default, Note: r.Note}
	if !r.NoData {
		a := r.Actual
		j.Actual = &a
	}
	// Expressions hold < and >: keep them readable rather than \u003c.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads what MarshalJSON writes, so summary.json round-trips
// (gauntlet compare reads it back).
func (r *ThresholdResult) UnmarshalJSON(b []byte) error {
	var j thresholdJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = ThresholdResult{Name: j.Name, OK: j.OK, Default: j.Default, Note: j.Note, NoData: j.Actual == nil}
	if j.Actual != nil {
		r.Actual = *j.Actual
	}
	return nil
}

// EvalThresholds evaluates ts against s, or the defaults when ts is empty
// or holds only Default thresholds (a scenario that named none): those
// fit the records the run had (FitDefaults).
func EvalThresholds(s *Summary, ts []Threshold) []ThresholdResult {
	ts = FitDefaults(s, ts)
	out := make([]ThresholdResult, len(ts))
	for i, t := range ts {
		out[i] = t.Eval(s)
	}
	return out
}

// FitDefaults returns ts, unless ts is empty or every threshold in it is
// Default (the scenario named none): then the defaults for what s
// measured. DefaultThresholds are on call records, so a run with room
// records gets DefaultRoomThresholds as well, and a run of rooms alone
// gets only those (the call defaults would fail it for want of calls).
// A run of attacks alone gets none: its verdicts decide its status. The
// thresholds a scenario names are never changed.
func FitDefaults(s *Summary, ts []Threshold) []Threshold {
	if len(ts) == 0 {
		ts = DefaultThresholds()
	}
	if slices.ContainsFunc(ts, func(t Threshold) bool { return !t.Default }) {
		return ts
	}
	if s.Calls.Attempted == 0 && s.Rooms == nil && len(s.Attacks) > 0 {
		return nil // an attack run: its verdicts decide, no call figures to hold
	}
	if s.Rooms == nil {
		return ts
	}
	var out []Threshold
	if s.Calls.Attempted > 0 {
		out = append(out, ts...)
	}
	return append(out, DefaultRoomThresholds()...)
}
