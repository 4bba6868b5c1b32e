package xgauntlet

import (
	"context"
	"time"

	"go.k6.io/k6/js/modules"
	"go.k6.io/k6/lib"
	"go.k6.io/k6/metrics"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// callMetrics are the k6 metrics every call feeds, named as summary.json's
// figures are: thresholds such as `gauntlet_mos: ["p(5)>3.8"]` or
// `gauntlet_call_failed: ["rate<0.01"]` work as for any k6 metric.
type callMetrics struct {
	calls     *metrics.Metric // counter, tagged outcome and cause
	failed    *metrics.Metric // rate of calls that failed
	setup     *metrics.Metric // trend, dial to first audio (ms)
	mos       *metrics.Metric // trend, the call's lowest direction MOS
	loss      *metrics.Metric // trend, per direction, %
	jitter    *metrics.Metric // trend, per direction, ms
	oneWay    *metrics.Metric // rate of one-way audio
	relay     *metrics.Metric // rate of connected calls relayed
	iceFailed *metrics.Metric // rate of calls whose ICE did not connect
}

func registerMetrics(vu modules.VU) *callMetrics {
	env := vu.InitEnv()
	if env == nil {
		return nil
	}
	r := env.Registry
	return &callMetrics{
		calls:     r.MustNewMetric("gauntlet_calls", metrics.Counter),
		failed:    r.MustNewMetric("gauntlet_call_failed", metrics.Rate),
		setup:     r.MustNewMetric("gauntlet_setup_ms", metrics.Trend, metrics.Time),
		mos:       r.MustNewMetric("gauntlet_mos", metrics.Trend),
		loss:      r.MustNewMetric("gauntlet_loss_pct", metrics.Trend),
		jitter:    r.MustNewMetric("gauntlet_jitter_ms", metrics.Trend, metrics.Time),
		oneWay:    r.MustNewMetric("gauntlet_one_way_audio", metrics.Rate),
		relay:     r.MustNewMetric("gauntlet_relay", metrics.Rate),
		iceFailed: r.MustNewMetric("gauntlet_ice_failed", metrics.Rate),
	}
}

// push sends the call's figures to k6.
func (m *callMetrics) push(ctx context.Context, state *lib.State, r reports.Result) {
	if m == nil {
		return
	}
	now := time.Now()
	tags := state.Tags.GetCurrentValues().Tags
	var samples metrics.Samples
	add := func(metric *metrics.Metric, t *metrics.TagSet, v float64) {
		samples = append(samples, metrics.Sample{TimeSeries: metrics.TimeSeries{Metric: metric, Tags: t}, Time: now, Value: v})
	}
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	callTags := tags.With("outcome", r.Outcome)
	if r.Cause != "" {
		callTags = callTags.With("cause", r.Cause)
	}
	add(m.calls, callTags, 1)
	add(m.failed, tags, b(r.Outcome != reports.OutcomeOK))
	add(m.oneWay, tags, b(r.OneWayAudio))
	if r.ICE.SDPExchanged {
		add(m.iceFailed, tags, b(!r.ICE.Connected))
	}
	if r.Outcome == reports.OutcomeOK {
		add(m.relay, tags, b(r.ICE.Relay))
		if r.Phases.TotalMS > 0 {
			add(m.setup, tags, r.Phases.TotalMS)
		}
		low := 0.0
		for _, d := range r.Media {
			if d.MOS > 0 && (low == 0 || d.MOS < low) {
				low = d.MOS
			}
		}
		if low > 0 {
			add(m.mos, tags, low)
		}
	}
	for _, d := range r.Media {
		dt := tags.With("direction", d.Name)
		if d.Sent+d.Received+d.Lost > 0 {
			add(m.loss, dt, d.LossPct)
		}
		if d.Received > 0 {
			add(m.jitter, dt, d.JitterMS)
		}
	}
	metrics.PushIfNotDone(ctx, state.Samples, samples)
}
