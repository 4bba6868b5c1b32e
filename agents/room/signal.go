package room

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Message is one signaling message (docs/rooms.md).
type Message struct {
	Type       string   `json:"type"`
	From       string   `json:"from,omitempty"`
	To         string   `json:"to,omitempty"`
	ID         string   `json:"id,omitempty"`
	Room       string   `json:"room,omitempty"`
	Peers      []string `json:"peers,omitempty"`
	SDP        string   `json:"sdp,omitempty"`
	Candidate  string   `json:"candidate,omitempty"`
	Mid        string   `json:"mid,omitempty"`
	Code       int      `json:"code,omitempty"`
	Error      string   `json:"error,omitempty"`
	RetryAfter int      `json:"retry_after,omitempty"`
}

// Signaling message types.
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

// Signal is a signaling WebSocket. Its reader is the caller's: Read
// blocks for the next message.
type Signal struct {
	conn net.Conn
	rd   io.Reader // conn, or the dialer's buffered reader over it
	wmu  sync.Mutex
}

// DialSignal opens the signaling WebSocket at wsURL with token as a
// bearer. A refused upgrade returns a *StatusError (op "ws").
func DialSignal(ctx context.Context, n *socket.Net, wsURL, token string) (*Signal, error) {
	var status *StatusError
	d := ws.Dialer{
		NetDial: n.DialContext,
		Timeout: 10 * time.Second,
		Header:  ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + token}}),
		OnStatusError: func(code int, _ []byte, resp io.Reader) {
			status = &StatusError{Op: "ws", Status: code}
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				status.RetryAfter = r.Header.Get("Retry-After")
				b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
				status.Body = string(b)
				_ = r.Body.Close()
			}
		},
	}
	conn, br, _, err := d.Dial(ctx, wsURL)
	if err != nil {
		if status != nil {
			return nil, status
		}
		return nil, fmt.Errorf("%w: signaling: %w", ErrUnreachable, err)
	}
	sig := &Signal{conn: conn, rd: conn}
	if br != nil {
		sig.rd = br
	}
	return sig, nil
}

// Send writes one message.
func (s *Signal) Send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.SendRaw(b)
}

// SendRaw writes one text frame as given.
func (s *Signal) SendRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return wsutil.WriteClientText(s.conn, b)
}

// ErrSignalClosed is returned by Read once the server closed the connection.
var ErrSignalClosed = errors.New("room: signaling closed")

// Read returns the next message's bytes, answering pings on the way.
func (s *Signal) Read() ([]byte, error) {
	b, _, err := wsutil.ReadServerData(struct {
		io.Reader
		io.Writer
	}{s.rd, lockedWriter{s}})
	if err != nil {
		var closed wsutil.ClosedError
		if errors.As(err, &closed) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrSignalClosed, err)
		}
		return nil, err
	}
	return b, nil
}

type lockedWriter struct{ s *Signal }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.wmu.Lock()
	defer w.s.wmu.Unlock()
	return w.s.conn.Write(p)
}

// Close closes the connection (a leave message should go first).
func (s *Signal) Close() error { return s.conn.Close() }
