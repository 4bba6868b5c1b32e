package rooms

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/time/rate"
)

// Signaling message types (docs/rooms.md).
const (
	TypeOffer      = "offer"
	TypeAnswer     = "answer"
	TypeCandidate  = "candidate"
	TypeLeave      = "leave"
	TypeJoined     = "joined"
	TypePeerJoined = "peer-joined"
	TypePeerLeft   = "peer-left"
	TypeError      = "error"
)

// Message is one signaling message, either way.
type Message struct {
	Type       string   `json:"type"`
	From       string   `json:"from,omitempty"` // set by the server on what it forwards
	To         string   `json:"to,omitempty"`   // set by the client on offer, answer, candidate
	ID         string   `json:"id,omitempty"`   // joined: ours; peer-joined, peer-left: theirs
	Room       string   `json:"room,omitempty"`
	Peers      []string `json:"peers,omitempty"`
	SDP        string   `json:"sdp,omitempty"`
	Candidate  string   `json:"candidate,omitempty"` // "candidate:..." as in RTCIceCandidate.candidate
	Mid        string   `json:"mid,omitempty"`
	Code       int      `json:"code,omitempty"`
	Error      string   `json:"error,omitempty"`
	RetryAfter int      `json:"retry_after,omitempty"`
}

// WebSocket close codes the service uses.
const (
	closeNormal     = 1000
	closeGoingAway  = 1001
	closePolicy     = 1008
	closeTooBig     = 1009
	sendQueue       = 256
	writeTimeout    = 5 * time.Second
	idleReadTimeout = 5 * time.Minute
)

// session is one participant's signaling connection.
type session struct {
	srv  *Server
	id   string // the token's sub
	room string
	jti  string
	exp  time.Time
	conn net.Conn
	rd   io.Reader // conn, or the HTTP server's buffered reader over it
	lim  *rate.Limiter

	wmu sync.Mutex // serialises frames: the writer's and the reader's control answers
	out chan []byte

	closeOnce sync.Once
	done      chan struct{}
	closeCode ws.StatusCode
	closeWhy  string
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if s.limited(w, s.lim.upgrade, sourceIP(r), "ws") {
		return
	}
	room := r.PathValue("room")
	c := s.authorize(w, r, room)
	if c == nil {
		return
	}
	ss := &session{
		srv: s, id: c.Subject, room: room, jti: c.ID, exp: c.ExpiresAt.Time,
		out: make(chan []byte, sendQueue), done: make(chan struct{}),
	}
	if !s.cfg.weakened(WeakenRateLimit) {
		ss.lim = rate.NewLimiter(rate.Limit(s.cfg.RateLimit.WSMessages.PerSecond), s.cfg.RateLimit.WSMessages.Burst)
	}
	others, err := s.reg.enter(ss)
	switch {
	case errors.Is(err, errFull):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "room full"})
		return
	case err != nil:
		// A second connection on one token, or the room went meanwhile.
		s.notFound(w)
		return
	}
	conn, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		s.reg.leave(ss, s.cfg.now())
		return
	}
	// What the client sent right behind its upgrade request may already
	// sit in the HTTP server's buffer: read through it.
	ss.conn, ss.rd = conn, io.Reader(conn)
	if rw != nil && rw.Reader.Buffered() > 0 {
		ss.rd = rw.Reader
	}
	if !s.addSession(ss) {
		s.reg.leave(ss, s.cfg.now())
		_ = conn.Close()
		return
	}
	s.log.Debug("rooms: joined", "room", room, "session", ss.id, "others", len(others))
	writerDone := make(chan struct{})
	go func() { // ended by ss.close, which the reader below always reaches
		defer close(writerDone)
		ss.writeLoop()
	}()
	peers := make([]string, len(others))
	for i, o := range others {
		peers[i] = o.id
	}
	ss.send(Message{Type: TypeJoined, ID: ss.id, Room: room, Peers: peers})
	for _, o := range others {
		o.send(Message{Type: TypePeerJoined, ID: ss.id})
	}
	ss.readLoop()
	// Revoked on leave, and out of the room, before the client hears the
	// close: the token cannot open the room again.
	s.tok.revoke(ss.jti, ss.exp)
	for _, o := range s.reg.leave(ss, s.cfg.now()) {
		o.send(Message{Type: TypePeerLeft, ID: ss.id})
	}
	s.removeSession(ss)
	ss.close(closeNormal, "left")
	<-writerDone
	lingeringClose(conn, ss.rd)
	s.log.Debug("rooms: left", "room", room, "session", ss.id)
}

// lingerTimeout bounds how long a closed connection's input is drained.
const lingerTimeout = 500 * time.Millisecond

// lingeringClose shuts our side down and drains what the client still
// sends for a moment before closing: closing with unread input would
// reset the connection, and the client would lose the messages (the
// close frame and the errors before it) not yet read.
func lingeringClose(conn net.Conn, rd io.Reader) {
	if tc, ok := conn.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(lingerTimeout))
		_, _ = io.Copy(io.Discard, rd)
	}
	_ = conn.Close()
}

// send queues m; a participant too slow to take its messages is closed.
func (ss *session) send(m Message) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	ss.sendRaw(b)
}

func (ss *session) sendRaw(b []byte) {
	select {
	case <-ss.done:
	case ss.out <- b:
	default:
		ss.close(closePolicy, "too slow to read")
	}
}

// close ends the session once: a close frame is written by the writer,
// and the reader is unblocked.
func (ss *session) close(code ws.StatusCode, why string) {
	ss.closeOnce.Do(func() {
		ss.closeCode, ss.closeWhy = code, why
		close(ss.done)
		if ss.conn != nil {
			_ = ss.conn.SetReadDeadline(time.Now())
		}
	})
}

func (ss *session) writeFrame(f ws.Frame) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return ws.WriteFrame(ss.conn, f)
}

func (ss *session) writeLoop() {
	for {
		select {
		case b := <-ss.out:
			if err := ss.writeFrame(ws.NewTextFrame(b)); err != nil {
				ss.close(closeGoingAway, "")
				return
			}
		case <-ss.done:
			// What was queued before the close goes out before it.
			for len(ss.out) > 0 {
				if ss.writeFrame(ws.NewTextFrame(<-ss.out)) != nil {
					return
				}
			}
			_ = ss.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ss.closeCode, ss.closeWhy)))
			return
		}
	}
}

// lockedWriter lets the reader's control answers (pong, close) share the
// connection with the writer.
type lockedWriter struct{ ss *session }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.ss.wmu.Lock()
	defer w.ss.wmu.Unlock()
	return w.ss.conn.Write(p)
}

func (ss *session) readLoop() {
	limit := int64(ss.srv.cfg.MaxMessageBytes)
	control := wsutil.ControlFrameHandler(lockedWriter{ss}, ws.StateServerSide)
	rd := &wsutil.Reader{
		Source: ss.rd, State: ws.StateServerSide, CheckUTF8: true,
		MaxFrameSize: limit, OnIntermediate: control,
	}
	strikes := 0
	for {
		_ = ss.conn.SetReadDeadline(time.Now().Add(idleReadTimeout))
		select {
		case <-ss.done:
			return
		default:
		}
		hdr, err := rd.NextFrame()
		if err != nil {
			if errors.Is(err, wsutil.ErrFrameTooLarge) {
				ss.close(closeTooBig, "message too big")
			}
			return
		}
		if hdr.OpCode.IsControl() {
			if err := control(hdr, rd); err != nil {
				return
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rd, limit+1))
		if err != nil {
			return
		}
		if int64(len(data)) > limit {
			ss.close(closeTooBig, "message too big")
			return
		}
		if ss.lim != nil && !ss.lim.Allow() {
			strikes++
			ra := retryAfter(time.Duration(float64(time.Second)/float64(ss.lim.Limit())), ss.srv.cfg.RateLimit.RetryAfter)
			ss.send(Message{Type: TypeError, Code: http.StatusTooManyRequests, Error: "rate limited", RetryAfter: ra})
			if strikes >= ss.srv.cfg.RateLimit.MaxStrikes {
				ss.close(closePolicy, "rate limited")
				return
			}
			continue
		}
		strikes = 0
		if !ss.handle(data) {
			return
		}
	}
}

// handle acts on one client message; false ends the session.
func (ss *session) handle(data []byte) bool {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		ss.send(Message{Type: TypeError, Code: http.StatusBadRequest, Error: "not a JSON message"})
		return true
	}
	switch m.Type {
	case TypeLeave:
		return false
	case TypeOffer, TypeAnswer, TypeCandidate:
	default:
		ss.send(Message{Type: TypeError, Code: http.StatusBadRequest, Error: "unknown message type"})
		return true
	}
	to := ss.srv.reg.member(ss.room, m.To)
	if to == nil || to == ss {
		ss.send(Message{Type: TypeError, Code: http.StatusNotFound, Error: "no such peer"})
		return true
	}
	if ss.srv.cfg.weakened(WeakenCandidateFilter) {
		// Forwarded as written, whatever fields it carries.
		var raw map[string]any
		if json.Unmarshal(data, &raw) == nil {
			raw["from"] = ss.id
			delete(raw, "to")
			if b, err := json.Marshal(raw); err == nil {
				to.sendRaw(b)
			}
		}
		return true
	}
	fwd := Message{Type: m.Type, From: ss.id}
	switch m.Type {
	case TypeOffer, TypeAnswer:
		fwd.SDP = filterSDP(m.SDP)
	case TypeCandidate:
		c, ok := filterCandidate(trimCandidate(m.Candidate))
		if !ok {
			return true // only relay candidates travel
		}
		fwd.Candidate, fwd.Mid = "candidate:"+c, m.Mid
	}
	to.send(fwd)
	return true
}

func trimCandidate(v string) string {
	if len(v) > 2 && v[:2] == "a=" {
		v = v[2:]
	}
	if len(v) > 10 && v[:10] == "candidate:" {
		v = v[10:]
	}
	return v
}
