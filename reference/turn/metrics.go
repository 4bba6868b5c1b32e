package turn

import (
	"fmt"
	"io"
	"sync/atomic"
)

type metrics struct {
	allocationsTotal atomic.Int64
	authFailures     atomic.Int64
	peerDenied       atomic.Int64
	quotaRejected    atomic.Int64
	capDroppedBytes  atomic.Int64
	relayedToPeers   atomic.Int64
	relayedFromPeers atomic.Int64
	malformed        atomic.Int64
}

// Stats are the relay's counters since Start.
type Stats struct {
	AllocationsActive     int   // allocations alive now
	AllocationsTotal      int64 // relayed addresses handed out
	AuthFailures          int64 // requests whose credentials were refused (401)
	PeerDenied            int64 // CreatePermission/ChannelBind refused (403) and Send indications dropped by the peer policy
	QuotaRejected         int64 // Allocate refused for the per-user quota (486)
	BandwidthDroppedBytes int64 // relayed payload discarded over the per-allocation cap
	RelayedToPeersBytes   int64 // payload sent from relay addresses to peers
	RelayedFromPeersBytes int64 // payload received from peers and relayed to clients
	MalformedDropped      int64 // datagrams dropped as malformed STUN or with a bad FINGERPRINT
}

// Stats returns the relay's counters.
func (s *Server) Stats() Stats {
	m := s.metrics
	return Stats{
		AllocationsActive:     s.allocs.active(),
		AllocationsTotal:      m.allocationsTotal.Load(),
		AuthFailures:          m.authFailures.Load(),
		PeerDenied:            m.peerDenied.Load(),
		QuotaRejected:         m.quotaRejected.Load(),
		BandwidthDroppedBytes: m.capDroppedBytes.Load(),
		RelayedToPeersBytes:   m.relayedToPeers.Load(),
		RelayedFromPeersBytes: m.relayedFromPeers.Load(),
		MalformedDropped:      m.malformed.Load(),
	}
}

// WritePrometheus writes the counters in the Prometheus text exposition
// format (version 0.0.4), for a /metrics handler.
func (s *Server) WritePrometheus(w io.Writer) error {
	st := s.Stats()
	for _, m := range []struct {
		name, typ, help string
		v               int64
	}{
		{"gauntlet_turn_allocations_active", "gauge", "Allocations alive now.", int64(st.AllocationsActive)},
		{"gauntlet_turn_allocations_total", "counter", "Relayed transport addresses handed out.", st.AllocationsTotal},
		{"gauntlet_turn_auth_failures_total", "counter", "Requests whose credentials were refused.", st.AuthFailures},
		{"gauntlet_turn_peer_denied_total", "counter", "Peers refused by the peer policy.", st.PeerDenied},
		{"gauntlet_turn_quota_rejected_total", "counter", "Allocate requests refused for the per-user quota.", st.QuotaRejected},
		{"gauntlet_turn_bandwidth_dropped_bytes_total", "counter", "Relayed payload discarded over the per-allocation cap.", st.BandwidthDroppedBytes},
		{"gauntlet_turn_relayed_to_peers_bytes_total", "counter", "Payload relayed from clients to peers.", st.RelayedToPeersBytes},
		{"gauntlet_turn_relayed_from_peers_bytes_total", "counter", "Payload relayed from peers to clients.", st.RelayedFromPeersBytes},
		{"gauntlet_turn_malformed_dropped_total", "counter", "Datagrams dropped as malformed STUN.", st.MalformedDropped},
	} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.typ, m.name, m.v); err != nil {
			return err
		}
	}
	return nil
}
