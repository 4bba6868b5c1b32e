package rooms

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The uniform "no" of every endpoint that names a room: a missing room, a
// malformed room ID, a bad, expired, revoked or other-room token all get
// exactly this, so a prober learns nothing from status, size or headers.
var notFoundBody = map[string]string{"error": "not found"}

// API paths (docs/rooms.md).
const (
	PathRooms = "/v1/rooms"
	pathJoin  = "/v1/rooms/{room}/join"
	pathTURN  = "/v1/rooms/{room}/turn"
	pathWS    = "/v1/rooms/{room}/ws"
)

// Created is the answer to POST /v1/rooms.
type Created struct {
	Room string `json:"room"`
}

// Joined is the answer to POST /v1/rooms/{room}/join.
type Joined struct {
	Room      string `json:"room"`
	Session   string `json:"session"` // the participant ID others see
	Token     string `json:"token"`   // room-scoped, short-lived
	ExpiresIn int    `json:"expires_in"`
	WS        string `json:"ws"` // path of the signaling WebSocket
}

// Credentials is the answer to POST /v1/rooms/{room}/turn: an RTCIceServer.
type Credentials struct {
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
	TTL        int      `json:"ttl"`
	URLs       []string `json:"urls"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathRooms, s.handleCreate)
	mux.HandleFunc("POST "+pathJoin, s.handleJoin)
	mux.HandleFunc("POST "+pathTURN, s.handleTURN)
	mux.HandleFunc("GET "+pathWS, s.handleWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { s.notFound(w) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down"})
			return
		}
		defer s.exit()
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) notFound(w http.ResponseWriter) { writeJSON(w, http.StatusNotFound, notFoundBody) }

// limited answers 429 with Retry-After when src is over lim.
func (s *Server) limited(w http.ResponseWriter, lim *limiter, src, what string) bool {
	ok, wait := lim.allow(src, s.cfg.now())
	if ok {
		return false
	}
	ra := retryAfter(wait, s.cfg.RateLimit.RetryAfter)
	s.log.Debug("rooms: rate limited", "source", src, "endpoint", what)
	w.Header().Set("Retry-After", strconv.Itoa(ra))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate limited", "retry_after": ra})
	return true
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if s.limited(w, s.lim.create, sourceIP(r), "create") {
		return
	}
	id, err := s.reg.create(s.cfg.now())
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(s.cfg.RateLimit.RetryAfter))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many rooms"})
		return
	}
	s.log.Debug("rooms: created", "room", id)
	writeJSON(w, http.StatusCreated, Created{Room: id})
}

// weakUniform is the answer of a service with uniform-missing-room
// weakened: status and body tell a malformed ID, a missing room and a bad
// token apart.
func (s *Server) weakUniform(w http.ResponseWriter, room string, tokenErr error) bool {
	if !s.cfg.weakened(WeakenUniformMissingRoom) {
		return false
	}
	switch {
	case !roomIDPattern.MatchString(room):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed room id: want 32 hex digits"})
	case !s.reg.exists(room):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "room " + room + " does not exist"})
	case tokenErr != nil:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid token: " + tokenErr.Error()})
	default:
		return false
	}
	return true
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	if s.limited(w, s.lim.join, sourceIP(r), "join") {
		return
	}
	room := r.PathValue("room")
	now := s.cfg.now()
	if s.cfg.weakened(WeakenUniformMissingRoom) && roomIDPattern.MatchString(room) {
		s.reg.ensure(room, now, true) // a join creates the room it names
	}
	if s.weakUniform(w, room, nil) {
		return
	}
	// Both checks, always: a malformed ID costs what a missing room costs.
	wellFormed := roomIDPattern.MatchString(room)
	exists := s.reg.exists(room)
	if !wellFormed || !exists {
		s.notFound(w)
		return
	}
	if err := s.reg.admit(room); err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "room full"})
		return
	}
	session := randomHex(8)
	tok, exp, err := s.tok.mint(room, session)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	writeJSON(w, http.StatusOK, Joined{
		Room: room, Session: session, Token: tok,
		ExpiresIn: int(exp.Sub(now).Round(time.Second) / time.Second),
		WS:        strings.Replace(pathWS, "{room}", room, 1),
	})
}

// authorize checks the request's token for room; nil claims means the
// answer has been written.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, room string) *claims {
	c, err := s.tok.verify(bearer(r), room)
	if s.weakUniform(w, room, err) {
		return nil
	}
	exists := roomIDPattern.MatchString(room) && s.reg.exists(room)
	if err != nil || !exists {
		s.log.Debug("rooms: refused", "room_exists", exists, "error", err)
		s.notFound(w)
		return nil
	}
	return c
}

func (s *Server) handleTURN(w http.ResponseWriter, r *http.Request) {
	if s.limited(w, s.lim.credentials, sourceIP(r), "credentials") {
		return
	}
	c := s.authorize(w, r, r.PathValue("room"))
	if c == nil {
		return
	}
	user, pass := turnCredentials(s.cfg.TURNSecret, c.Subject, s.cfg.now().Add(s.cfg.CredentialTTL))
	writeJSON(w, http.StatusOK, Credentials{
		Username: user, Credential: pass, TTL: int(s.cfg.CredentialTTL / time.Second),
		URLs: append([]string(nil), s.cfg.TURNURLs...),
	})
}

// bearer finds a request's token: an Authorization: Bearer header, else
// the access_token query parameter (a browser cannot set headers on a
// WebSocket).
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}
