package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		expr    string
		want    Threshold
		wantErr error
	}{
		{expr: "ice.success_rate >= 0.99", want: Threshold{Expr: "ice.success_rate >= 0.99", Metric: "ice.success_rate", Op: ">=", Value: 0.99}},
		{expr: "  mos.p5>3.5 ", want: Threshold{Expr: "mos.p5>3.5", Metric: "mos.p5", Op: ">", Value: 3.5}},
		{expr: "setup_ms.p95 < 1500", want: Threshold{Expr: "setup_ms.p95 < 1500", Metric: "setup_ms.p95", Op: "<", Value: 1500}},
		{expr: "setup_ms.p95 <= 1e3", want: Threshold{Expr: "setup_ms.p95 <= 1e3", Metric: "setup_ms.p95", Op: "<=", Value: 1000}},
		{expr: "media.one_way_audio == 0", want: Threshold{Expr: "media.one_way_audio == 0", Metric: "media.one_way_audio", Op: "==", Value: 0}},
		{expr: "calls.failed != -1", want: Threshold{Expr: "calls.failed != -1", Metric: "calls.failed", Op: "!=", Value: -1}},
		{expr: "mos.p99 > 4", wantErr: ErrUnknownMetric},
		{expr: "ice.success_rate = 1", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate =< 1", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate >=", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate >= high", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate >= NaN", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate >= +Inf", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate >= 0.9 0.8", wantErr: ErrThresholdSyntax},
		{expr: ">= 0.9", wantErr: ErrThresholdSyntax},
		{expr: "", wantErr: ErrThresholdSyntax},
		{expr: "ice.success_rate", wantErr: ErrThresholdSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseThreshold(tt.expr)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseThresholdUnknownMetricListsKnown(t *testing.T) {
	_, err := ParseThreshold("mos.p99 > 4")
	for _, name := range []string{"mos.p5", "ice.success_rate", "media.one_way_audio"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func TestThresholdEval(t *testing.T) {
	s := &Summary{
		Calls: Calls{Attempted: 10, Failed: 1},
		ICE:   ICESummary{SuccessRate: ptr(0.95)},
		Media: MediaSummary{OneWayAudio: 0},
		// MOS has no samples.
	}
	tests := []struct {
		expr       string
		ok, noData bool
		actual     float64
	}{
		{"ice.success_rate >= 0.99", false, false, 0.95},
		{"ice.success_rate > 0.9", true, false, 0.95},
		{"ice.success_rate < 0.95", false, false, 0.95},
		{"ice.success_rate <= 0.95", true, false, 0.95},
		{"calls.failed == 1", true, false, 1},
		{"calls.failed != 1", false, false, 1},
		{"media.one_way_audio == 0", true, false, 0},
		{"mos.p5 >= 0", false, true, 0},
		{"ice.relay_ratio <= 1", false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := ParseThreshold(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := th.Eval(s)
			if r.OK != tt.ok || r.NoData != tt.noData || r.Actual != tt.actual || r.Name != tt.expr {
				t.Fatalf("Eval = %+v, want ok=%v noData=%v actual=%v", r, tt.ok, tt.noData, tt.actual)
			}
			if !r.OK && r.Note == "" {
				t.Errorf("failed threshold has no note")
			}
		})
	}
}

func TestThresholdEvalUnknownMetricFails(t *testing.T) {
	r := Threshold{Metric: "nope", Op: ">", Value: 1}.Eval(&Summary{})
	if r.OK || !r.NoData || r.Name != "nope > 1" {
		t.Fatalf("Eval = %+v", r)
	}
}

func TestDefaultThresholds(t *testing.T) {
	ts := DefaultThresholds()
	var got []string
	for _, th := range ts {
		if !th.Default {
			t.Errorf("%s not marked Default", th.Expr)
		}
		got = append(got, th.Expr)
	}
	if want := "ice.success_rate >= 0.99|media.one_way_audio == 0"; strings.Join(got, "|") != want {
		t.Fatalf("defaults = %q, want %q", got, want)
	}
	rs := EvalThresholds(&Summary{}, nil)
	if len(rs) != 2 || rs[0].OK || !rs[0].Default || !rs[1].OK {
		t.Fatalf("EvalThresholds(empty summary, nil) = %+v", rs)
	}
}

func TestThresholdResultJSON(t *testing.T) {
	tests := []struct {
		r    ThresholdResult
		want string
	}{
		{ThresholdResult{Name: "mos.p5 > 3", NoData: true, Note: "no data"}, `{"name":"mos.p5 > 3","ok":false,"actual":null,"default":false,"note":"no data"}`},
		{ThresholdResult{Name: "calls.failed == 0", OK: true, Default: true}, `{"name":"calls.failed == 0","ok":true,"actual":0,"default":true}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as WriteSummaryJSON does
		if err := enc.Encode(tt.r); err != nil {
			t.Fatal(err)
		}
		b := bytes.TrimSpace(buf.Bytes())
		if string(b) != tt.want {
			t.Errorf("Marshal = %s, want %s", b, tt.want)
		}
		var back ThresholdResult
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != tt.r {
			t.Errorf("round trip = %+v, want %+v", back, tt.r)
		}
	}
}

func TestKnownMetricsAllResolve(t *testing.T) {
	s := &Summary{}
	for _, name := range KnownMetrics() {
		if _, err := ParseThreshold(name + " > 0"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		_, _ = s.Metric(name)
	}
	if _, ok := s.Metric("calls.attempted"); !ok {
		t.Error("counts always have data")
	}
	if _, ok := s.Metric("mos.p50"); ok {
		t.Error("mos.p50 with no samples reported data")
	}
	if _, ok := s.Metric("nope"); ok {
		t.Error("unknown metric reported data")
	}
}

func ptr(f float64) *float64 { return &f }
