package reports

// metric reads one named figure of a Summary. It returns nil when the figure
// has no data.
type metric struct {
	name string
	get  func(s *Summary) *float64
}

// metrics is every name Metric, thresholds and compare accept: the dotted
// path of the figure in summary.json.
var metrics = []metric{
	{"calls.attempted", func(s *Summary) *float64 { return count(s.Calls.Attempted) }},
	{"calls.connected", func(s *Summary) *float64 { return count(s.Calls.Connected) }},
	{"calls.failed", func(s *Summary) *float64 { return count(s.Calls.Failed) }},
	{"calls.canceled", func(s *Summary) *float64 { return count(s.Calls.Canceled) }},
	{"registrations.attempted", func(s *Summary) *float64 { return count(s.Registrations.Attempted) }},
	{"registrations.ok", func(s *Summary) *float64 { return count(s.Registrations.OK) }},
	{"registrations.failed", func(s *Summary) *float64 { return count(s.Registrations.Failed) }},
	{"ice.success_rate", func(s *Summary) *float64 { return s.ICE.SuccessRate }},
	{"ice.relay_ratio", func(s *Summary) *float64 { return s.ICE.RelayRatio }},
	{"ice.unexpected", func(s *Summary) *float64 { return count(s.ICE.Unexpected) }},
	{"mos.p50", func(s *Summary) *float64 { return s.MOS.P50 }},
	{"mos.p5", func(s *Summary) *float64 { return s.MOS.P5 }},
	{"setup_ms.p50", func(s *Summary) *float64 { return s.SetupMS.P50 }},
	{"setup_ms.p95", func(s *Summary) *float64 { return s.SetupMS.P95 }},
	{"setup_phases.signaling_ms.p50", func(s *Summary) *float64 { return s.SetupPhases.SignalingMS.P50 }},
	{"setup_phases.signaling_ms.p95", func(s *Summary) *float64 { return s.SetupPhases.SignalingMS.P95 }},
	{"setup_phases.ice_ms.p50", func(s *Summary) *float64 { return s.SetupPhases.ICEMS.P50 }},
	{"setup_phases.ice_ms.p95", func(s *Summary) *float64 { return s.SetupPhases.ICEMS.P95 }},
	{"setup_phases.dtls_ms.p50", func(s *Summary) *float64 { return s.SetupPhases.DTLSMS.P50 }},
	{"setup_phases.dtls_ms.p95", func(s *Summary) *float64 { return s.SetupPhases.DTLSMS.P95 }},
	{"setup_phases.first_media_ms.p50", func(s *Summary) *float64 { return s.SetupPhases.FirstMediaMS.P50 }},
	{"setup_phases.first_media_ms.p95", func(s *Summary) *float64 { return s.SetupPhases.FirstMediaMS.P95 }},
	{"media.loss_pct.p50", func(s *Summary) *float64 { return s.Media.LossPct.P50 }},
	{"media.loss_pct.p95", func(s *Summary) *float64 { return s.Media.LossPct.P95 }},
	{"media.jitter_ms.p50", func(s *Summary) *float64 { return s.Media.JitterMS.P50 }},
	{"media.jitter_ms.p95", func(s *Summary) *float64 { return s.Media.JitterMS.P95 }},
	{"media.delay_ms.p50", func(s *Summary) *float64 { return s.Media.DelayMS.P50 }},
	{"media.delay_ms.p95", func(s *Summary) *float64 { return s.Media.DelayMS.P95 }},
	{"media.one_way_audio", func(s *Summary) *float64 { return count(s.Media.OneWayAudio) }},
	{"media.no_audio", func(s *Summary) *float64 { return count(s.Media.NoAudio) }},
	{"attacks.vulnerable", func(s *Summary) *float64 { return count(s.attackCount(VerdictVulnerable)) }},
	{"attacks.inconclusive", func(s *Summary) *float64 { return count(s.attackCount(VerdictInconclusive)) }},
}

func count(n int) *float64 {
	f := float64(n)
	return &f
}

func lookupMetric(name string) (metric, bool) {
	for _, m := range metrics {
		if m.name == name {
			return m, true
		}
	}
	return metric{}, false
}

// KnownMetrics returns the metric names thresholds and Metric accept, in
// the order summary.json lists them.
func KnownMetrics() []string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.name
	}
	return names
}

// Metric returns the named figure of s. ok is false when the name is unknown
// or the figure has no data (for example mos.p50 when no call connected).
func (s *Summary) Metric(name string) (v float64, ok bool) {
	m, known := lookupMetric(name)
	if !known {
		return 0, false
	}
	p := m.get(s)
	if p == nil {
		return 0, false
	}
	return *p, true
}

func (s *Summary) attackCount(verdict string) int {
	n := 0
	for _, a := range s.Attacks {
		if a.Verdict == verdict {
			n++
		}
	}
	return n
}
