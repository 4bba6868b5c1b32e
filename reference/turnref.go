package reference

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

// restTTL is the lifetime the target file asks TURN REST credentials for.
const restTTL = "24h"

func (r *Reference) startTURN(ctx context.Context) error {
	cfg := *r.cfg.TURN
	if cfg.Logger == nil {
		cfg.Logger = r.cfg.Logger
	}
	srv, err := turn.New(cfg)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	r.turn = srv
	return nil
}

// TURN returns the running TURN relay, nil when not configured.
func (r *Reference) TURN() *turn.Server { return r.turn }

// writeTURN renders the target file's turn section:
//
//	turn:
//	  servers:
//	    - urls: ["turn:127.0.0.1:P?transport=udp", ..., "turns:127.0.0.1:P?transport=tcp", "stun:127.0.0.1:P"]
//	      tls_ca: |            # PEM the turns: listeners' certificate chains to
//	        -----BEGIN CERTIFICATE-----
//	  credentials:
//	    rest: {secret: "...", ttl: 24h}              # TURN REST shared secret, or
//	    static: {username: "...", password: "..."}   # a long-term user
func (r *Reference) writeTURN(b *strings.Builder) {
	if r.turn == nil {
		return
	}
	cfg := r.turn.Config()
	b.WriteString("turn:\n  servers:\n")
	urls := r.turn.URLs()
	// A TURN server is a STUN server too: listed as such, agents without
	// TURN (or a scenario's turn: false) still learn their reflexive address.
	for _, a := range r.turn.UDPAddrs() {
		urls = append(urls, "stun:"+net.JoinHostPort(a.Addr().String(), strconv.Itoa(int(a.Port()))))
	}
	quoted := make([]string, len(urls))
	for i, u := range urls {
		quoted[i] = strconv.Quote(u)
	}
	fmt.Fprintf(b, "    - urls: [%s]\n", strings.Join(quoted, ", "))
	if pem := strings.TrimSpace(string(r.turn.CertificatePEM())); pem != "" {
		b.WriteString("      tls_ca: |\n")
		for _, line := range strings.Split(pem, "\n") {
			b.WriteString("        " + line + "\n")
		}
	}
	if cfg.AllowLoopbackPeers {
		b.WriteString("  loopback_peers: true\n")
	}
	b.WriteString("  credentials:\n")
	if len(cfg.Secrets) > 0 {
		fmt.Fprintf(b, "    rest: {secret: %s, ttl: %s}\n", strconv.Quote(cfg.Secrets[0]), restTTL)
		return
	}
	users := make([]string, 0, len(cfg.Users))
	for u := range cfg.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	fmt.Fprintf(b, "    static: {username: %s, password: %s}\n", strconv.Quote(users[0]), strconv.Quote(cfg.Users[users[0]]))
}

// linkTURN points the gateway's TURN credential endpoint at the running
// relay, unless the config names a relay of its own: the shared secret,
// and the relay's URIs for the answer.
func (r *Reference) linkTURN() {
	g := &r.cfg.Gateway.TURN
	secrets := r.turn.Config().Secrets
	if g.Secret != "" || len(secrets) == 0 {
		return
	}
	g.Secret, g.URIs = secrets[0], r.turn.URLs()
	if g.TTL == 0 {
		g.TTL = linkedTURNTTL
	}
}

// linkedTURNTTL is the lifetime of the credentials the gateway hands out
// for the linked relay.
const linkedTURNTTL = 10 * time.Minute
