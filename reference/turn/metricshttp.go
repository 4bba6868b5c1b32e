package turn

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveMetrics starts the /metrics endpoint on cfg.MetricsAddr; the caller
// holds s.mu.
func (s *Server) serveMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	l, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("turn: metrics %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if err := s.WritePrometheus(w); err != nil {
			s.log.Debug("metrics not written", "err", err)
		}
	})
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.metricsAddr = l.Addr().String()
	done := s.track.add()
	go func() {
		defer done()
		if err := s.metricsSrv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics endpoint stopped", "err", err)
		}
	}()
	return nil
}

// MetricsURL is the /metrics endpoint's URL, "" without one.
func (s *Server) MetricsURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricsAddr == "" {
		return ""
	}
	return "http://" + s.metricsAddr + "/metrics"
}
