// Package rooms is the reference rooms service: browser-to-browser voice
// rooms relayed only through TURN (the anonymous-voice model). Rooms get
// IDs of 128 random bits; a join returns a short-lived token scoped to the
// room (JWT, HS256 pinned, audience the room, a jti revoked on leave); the
// token opens the WebSocket signaling connection and buys TURN REST
// credentials for the session. The service forwards offers, answers and
// candidates between participants after candidate filtering (only relay
// candidates, no address other than a relay's), limits every endpoint per
// source address (HTTP 429 + Retry-After) and every connection's
// messages, and answers a missing room, a malformed room ID and a bad
// token alike without ever creating a room. docs/rooms.md is the protocol.
//
// It imports nothing of Gauntlet's harness: it is a system under test.
package rooms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// closeWait bounds how long Close waits for handlers and sessions.
const closeWait = 5 * time.Second

// Server is a running rooms service.
type Server struct {
	cfg Config
	log *slog.Logger
	tok *tokens
	reg *registry
	lim limits

	ln   net.Listener
	http *http.Server
	stop chan struct{}

	mu       sync.Mutex
	started  bool
	closed   bool
	active   int
	idle     chan struct{} // closed once closed && active == 0
	sessions map[*session]struct{}
}

// New checks cfg and returns a service that is not yet listening.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.logger(),
		tok:      newTokens(secret, cfg.Issuer, cfg.TokenTTL, cfg.weakened(WeakenTokenAudience), cfg.now),
		reg:      newRegistry(cfg.weakened(WeakenRandomRoomIDs), cfg.MaxRooms, cfg.MaxParticipants),
		lim:      newLimits(cfg.RateLimit, cfg.weakened(WeakenRateLimit)),
		stop:     make(chan struct{}),
		idle:     make(chan struct{}),
		sessions: map[*session]struct{}{},
	}
	return s, nil
}

// Start listens and serves until Close. ctx bounds the start only.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return errors.New("rooms: Start called twice or after Close")
	}
	s.started = true
	s.mu.Unlock()
	ln := s.cfg.Listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("rooms: listen: %w", err)
		}
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if !s.track(func() { _ = s.http.Serve(ln) }) || !s.track(s.janitor) {
		return errors.New("rooms: closed while starting")
	}
	s.log.Info("rooms: listening", "url", s.URL(), "weaken", s.cfg.Weaken)
	return nil
}

// track runs f in a goroutine Close waits for; false after Close.
func (s *Server) track(f func()) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.exit()
		f()
	}()
	return true
}

func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active++
	return true
}

func (s *Server) exit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.closed && s.active == 0 {
		close(s.idle)
	}
}

// janitor removes rooms nobody is in and forgets expired revocations.
func (s *Server) janitor() {
	every := min(s.cfg.RoomTTL/2, 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.cfg.now()
			if n := s.reg.expire(now, s.cfg.RoomTTL); n > 0 {
				s.log.Debug("rooms: removed idle rooms", "rooms", n)
			}
			s.tok.prune(now)
		}
	}
}

// Close stops listening, ends every session and returns once every
// goroutine of the service has exited.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	if s.active == 0 {
		close(s.idle)
	}
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	close(s.stop)
	var err error
	if started && s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		err = s.http.Shutdown(ctx)
		cancel()
		if err != nil {
			err = errors.Join(err, s.http.Close())
		}
	}
	for _, ss := range sessions {
		ss.close(closeGoingAway, "server closing")
	}
	select {
	case <-s.idle:
	case <-time.After(closeWait):
		err = errors.Join(err, errors.New("rooms: close: handlers did not stop"))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// URL is the service's base URL, http://IP:PORT ("" before Start).
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Addr is the bound listen address.
func (s *Server) Addr() netip.AddrPort {
	if s.ln == nil {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s.ln.Addr().String())
}

// Config returns the configuration the service runs with.
func (s *Server) Config() Config { return s.cfg }

// HasRoom reports whether id is a live room (for tests of the service).
func (s *Server) HasRoom(id string) bool { return s.reg.exists(id) }

// Rooms is how many rooms are alive.
func (s *Server) Rooms() int { return s.reg.count() }

func (s *Server) addSession(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[ss] = struct{}{}
	return true
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, ss)
}

// sourceIP is the key of the per-source limits: the peer's IP.
func sourceIP(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	host, _, _ := strings.Cut(r.RemoteAddr, ":")
	return host
}

// writeJSON answers with v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
