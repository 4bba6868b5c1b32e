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
	// Room participants (see RoomsSummary): no data when the run had no
	// room records, counts included.
	{"rooms.count", roomCount(func(r *RoomsSummary) int { return r.Count })},
	{"rooms.complete", roomCount(func(r *RoomsSummary) int { return r.Complete })},
	{"rooms.participants", roomCount(func(r *RoomsSummary) int { return r.Participants })},
	{"rooms.joined", roomCount(func(r *RoomsSummary) int { return r.Joined })},
	{"rooms.ok", roomCount(func(r *RoomsSummary) int { return r.OK })},
	{"rooms.failed", roomCount(func(r *RoomsSummary) int { return r.Failed })},
	{"rooms.canceled", roomCount(func(r *RoomsSummary) int { return r.Canceled })},
	{"rooms.join_ms.p50", roomFigure(func(r *RoomsSummary) *float64 { return r.JoinMS.P50 })},
	{"rooms.join_ms.p95", roomFigure(func(r *RoomsSummary) *float64 { return r.JoinMS.P95 })},
	{"rooms.first_audio_ms.p50", roomFigure(func(r *RoomsSummary) *float64 { return r.FirstAudioMS.P50 })},
	{"rooms.first_audio_ms.p95", roomFigure(func(r *RoomsSummary) *float64 { return r.FirstAudioMS.P95 })},
	{"rooms.ice.success_rate", roomFigure(func(r *RoomsSummary) *float64 { return r.ICE.SuccessRate })},
	{"rooms.ice.relay_ratio", roomFigure(func(r *RoomsSummary) *float64 { return r.ICE.RelayRatio })},
	{"rooms.ice.unexpected", roomCount(func(r *RoomsSummary) int { return r.ICE.Unexpected })},
	{"rooms.mos.p50", roomFigure(func(r *RoomsSummary) *float64 { return r.MOS.P50 })},
	{"rooms.mos.p5", roomFigure(func(r *RoomsSummary) *float64 { return r.MOS.P5 })},
	{"rooms.media.loss_pct.p50", roomFigure(func(r *RoomsSummary) *float64 { return r.Media.LossPct.P50 })},
	{"rooms.media.loss_pct.p95", roomFigure(func(r *RoomsSummary) *float64 { return r.Media.LossPct.P95 })},
	{"rooms.media.jitter_ms.p95", roomFigure(func(r *RoomsSummary) *float64 { return r.Media.JitterMS.P95 })},
	{"rooms.media.one_way_audio", roomCount(func(r *RoomsSummary) int { return r.Media.OneWayAudio })},
	{"rooms.media.no_audio", roomCount(func(r *RoomsSummary) int { return r.Media.NoAudio })},
	{"rooms.leaks", roomCount(func(r *RoomsSummary) int { return r.Leaks })},
}

// roomCount reads a count of the rooms section; nil without one.
func roomCount(get func(*RoomsSummary) int) func(*Summary) *float64 {
	return func(s *Summary) *float64 {
		if s.Rooms == nil {
			return nil
		}
		return count(get(s.Rooms))
	}
}

// roomFigure reads a figure of the rooms section; nil without one.
func roomFigure(get func(*RoomsSummary) *float64) func(*Summary) *float64 {
	return func(s *Summary) *float64 {
		if s.Rooms == nil {
			return nil
		}
		return get(s.Rooms)
	}
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
