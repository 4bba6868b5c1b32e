package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own
// (so several gateways in one process do not collide), served on
// HTTPAddr at /metrics.
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	registrations prometheus.Counter
	setups        prometheus.Counter
	connected     prometheus.Counter
	ended         prometheus.Counter
	failures      *prometheus.CounterVec
	dtls          prometheus.Counter
	auth          *prometheus.CounterVec
	limitedTotal  *prometheus.CounterVec
	upgrades      *prometheus.CounterVec
	rtcpPackets   *prometheus.CounterVec
	rtcpRTT       prometheus.Histogram
}

func newMetrics(bindings, calls func() int) *metrics {
	const ns = "gauntlet_gateway"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sip_requests_total",
			Help: "SIP requests received, by method."}, []string{"method"}),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "registrations_total",
			Help: "REGISTER requests accepted."}),
		setups: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "call_setups_total",
			Help: "Calls admitted for setup."}),
		connected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "calls_connected_total",
			Help: "Calls answered and bridged."}),
		ended: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "calls_ended_total",
			Help: "Calls torn down, whatever the reason."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "call_failures_total",
			Help: "Calls that failed before they connected, by cause (the SIP status sent, or sdp)."}, []string{"cause"}),
		dtls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "dtls_failures_total",
			Help: "DTLS handshakes that failed (bad certificate, no common suite, ...)."}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "auth_challenges_total",
			Help: "Requests answered with a digest challenge or 403, by method."}, []string{"method"}),
		limitedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
			Help: "Requests refused with 503 (SIP) or 429 (WebSocket upgrade), by method and limit."}, []string{"method", "limit"}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ws_upgrades_total",
			Help: "WebSocket upgrade requests, by HTTP status answered."}, []string{"status"}),
		rtcpPackets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "phone_rtcp_packets_total",
			Help: "Compound RTCP packets on phone legs: sent, received, or unreadable (undecryptable or malformed)."}, []string{"direction"}),
		rtcpRTT: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "phone_rtcp_rtt_seconds",
			Help:    "Round trips to phones, from their RTCP reception reports (RFC 3550 6.4.1).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	m.reg.MustRegister(m.requests, m.registrations, m.setups, m.connected, m.ended, m.failures, m.dtls, m.auth, m.limitedTotal, m.upgrades, m.rtcpPackets, m.rtcpRTT,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "bindings",
			Help: "Registered contacts."}, func() float64 { return float64(bindings()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "active_calls",
			Help: "Calls being set up or connected."}, func() float64 { return float64(calls()) }),
	)
	return m
}

func (m *metrics) request(method string)      { m.requests.WithLabelValues(method).Inc() }
func (m *metrics) registered()                { m.registrations.Inc() }
func (m *metrics) callStarted()               { m.setups.Inc() }
func (m *metrics) callConnected()             { m.connected.Inc() }
func (m *metrics) callEnded()                 { m.ended.Inc() }
func (m *metrics) callFailed(cause string)    { m.failures.WithLabelValues(cause).Inc() }
func (m *metrics) dtlsFailed()                { m.dtls.Inc() }
func (m *metrics) authRefused(method string)  { m.auth.WithLabelValues(method).Inc() }
func (m *metrics) limited(method, why string) { m.limitedTotal.WithLabelValues(method, why).Inc() }
func (m *metrics) upgrade(status int)         { m.upgrades.WithLabelValues(statusLabel(status)).Inc() }
func (m *metrics) rtcp(direction string)      { m.rtcpPackets.WithLabelValues(direction).Inc() }
func (m *metrics) phoneRTT(d time.Duration)   { m.rtcpRTT.Observe(d.Seconds()) }

func statusLabel(status int) string {
	switch status {
	case 101:
		return "101"
	case 400:
		return "400"
	case 401:
		return "401"
	case 429:
		return "429"
	}
	return "other"
}
