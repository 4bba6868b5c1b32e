package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TURNCredentials is what /turn-credentials returns: RFC-style TURN REST
// time-limited credentials (the "REST API for access to TURN services"
// draft that coturn and pion/turn implement).
type TURNCredentials struct {
	Username string   `json:"username"` // "<unix-expiry>:<user>"
	Password string   `json:"password"` // base64(HMAC-SHA1(secret, username))
	TTL      int      `json:"ttl"`      // seconds
	URIs     []string `json:"uris"`
}

// TURNPassword is the password of a TURN REST username under secret.
func TURNPassword(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (g *Gateway) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	if g.cfg.TURN.Secret != "" {
		mux.HandleFunc("GET /turn-credentials", g.turnCredentials)
	}
	return mux
}

// turnCredentials mints TURN REST credentials for a user of the directory
// who proves it: HTTP Basic with the SIP password, or the bearer token the
// WebSocket upgrade takes (its subject is the user). Beyond the per-source
// rate limit it answers 429 with Retry-After.
func (g *Gateway) turnCredentials(w http.ResponseWriter, r *http.Request) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	if !g.allow(g.limits.turnSource, host) {
		g.metrics.limited("HTTP", "TURN credentials rate limit per source")
		w.Header().Set("Retry-After", strconv.Itoa(g.cfg.RateLimit.retryAfterSeconds()))
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	user, ok := g.httpUser(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+g.realm()+`"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	ttl := g.cfg.TURN.TTL
	name := strconv.FormatInt(g.now().Add(ttl).Unix(), 10) + ":" + user
	creds := TURNCredentials{
		Username: name,
		Password: TURNPassword(g.cfg.TURN.Secret, name),
		TTL:      int(ttl / time.Second),
		URIs:     g.cfg.TURN.URIs,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(creds); err != nil {
		g.log.Debug("TURN credentials not sent", "error", err)
	}
}

func (g *Gateway) httpUser(r *http.Request) (string, bool) {
	if g.tokens != nil && bearer(r) != "" {
		sub, err := g.tokens.verify(bearer(r))
		if err != nil || sub == "" {
			return "", false
		}
		_, err = g.dir.kind(sub)
		return sub, err == nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	want, known := g.password(user)
	if !known || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
		return "", false
	}
	return user, true
}
