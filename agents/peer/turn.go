package peer

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v4"
)

// tlsHandshakeTimeout bounds the TLS handshake with a turns: server.
const tlsHandshakeTimeout = 10 * time.Second

// turnOptions are the ICE options that make TCP and TLS relays work
// through the agent's socket layer: pion ICE dials TURN over TCP with the
// agent's Net, but verifies turns: only against the system roots; with a
// proxy dialer it takes the connection as given, so the leg dials TCP
// itself and wraps TLS with Config.TURNTLS (RootCAs, ServerName).
func turnOptions(cfg Config) []ice.AgentOption {
	d := turnDialer{net: cfg.Net, tls: cfg.TURNTLS, tlsAddrs: map[string]bool{}}
	stream := false
	for _, u := range cfg.TURN {
		if u.Scheme != stun.SchemeTypeTURN && u.Scheme != stun.SchemeTypeTURNS {
			continue
		}
		tcp := u.Proto == stun.ProtoTypeTCP || (u.Proto == stun.ProtoTypeUnknown && u.Scheme == stun.SchemeTypeTURNS)
		if !tcp {
			continue
		}
		stream = true
		if u.Scheme == stun.SchemeTypeTURNS {
			d.tlsAddrs[net.JoinHostPort(u.Host, strconv.Itoa(u.Port))] = true
		}
	}
	if !stream {
		return nil
	}
	return []ice.AgentOption{ice.WithProxyDialer(d)}
}

// turnDialer dials TURN servers over TCP from the agent's socket layer,
// with TLS for the turns: ones.
type turnDialer struct {
	net      transport.Net
	tls      *tls.Config
	tlsAddrs map[string]bool
}

func (d turnDialer) Dial(network, addr string) (net.Conn, error) {
	c, err := d.net.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	if !d.tlsAddrs[addr] {
		return c, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.tls != nil {
		cfg = d.tls.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("peer: TLS with TURN server %s: %w", addr, err)
	}
	return tc, nil
}

// forSDP returns the candidates as they go into our SDP. Under policy
// relay, each relay candidate's related address (our own address toward
// the TURN server) is replaced by 0.0.0.0 port 0, as browsers do, so that
// no address of ours leaks.
func forSDP(cands []ice.Candidate, policy string) []ice.Candidate {
	if policy != PolicyRelay {
		return cands
	}
	out := make([]ice.Candidate, 0, len(cands))
	for _, c := range cands {
		r, ok := c.(*ice.CandidateRelay)
		if !ok {
			continue // cannot happen under policy relay; never let it out
		}
		hidden, err := ice.NewCandidateRelay(&ice.CandidateRelayConfig{
			CandidateID:   r.ID(),
			Network:       r.NetworkType().NetworkShort(),
			Address:       r.Address(),
			Port:          r.Port(),
			Component:     r.Component(),
			Priority:      r.Priority(),
			Foundation:    r.Foundation(),
			RelAddr:       "0.0.0.0",
			RelPort:       0,
			RelayProtocol: r.RelayProtocol(),
		})
		if err != nil {
			continue
		}
		out = append(out, hidden)
	}
	return out
}

// RelayProtocol is how the leg reaches its relay on the selected pair:
// "udp", "tcp", "tls" or "dtls"; "" when the pair's local candidate is not
// a relay (or ICE has not connected).
func (p *Peer) RelayProtocol() string {
	p.mu.Lock()
	connected := p.iceConn != nil
	p.mu.Unlock()
	if !connected {
		return ""
	}
	pair, err := p.agent.GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return ""
	}
	if r, ok := pair.Local.(*ice.CandidateRelay); ok {
		return r.RelayProtocol()
	}
	return ""
}
