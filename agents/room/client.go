package room

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// Errors of the rooms API, wrapped with detail.
var (
	ErrUnreachable = errors.New("room: rooms service unreachable")
	ErrRefused     = errors.New("room: refused by the rooms service")
	ErrRateLimited = errors.New("room: rate limited by the rooms service")
)

// StatusError is a non-2xx answer of the rooms API.
type StatusError struct {
	Op         string // "create", "join", "credentials", "ws"
	Status     int
	RetryAfter string
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("room: %s: HTTP %d %s", e.Op, e.Status, strings.TrimSpace(e.Body))
}

// Unwrap lets errors.Is match ErrRateLimited or ErrRefused.
func (e *StatusError) Unwrap() error {
	if e.Status == http.StatusTooManyRequests {
		return ErrRateLimited
	}
	return ErrRefused
}

// Joined is the join answer (docs/rooms.md).
type Joined struct {
	Room      string `json:"room"`
	Session   string `json:"session"`
	Token     string `json:"token"`
	ExpiresIn int    `json:"expires_in"`
	WS        string `json:"ws"`
}

// ICEServer is the credentials answer: an RTCIceServer.
type ICEServer struct {
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
	TTL        int      `json:"ttl"`
	URLs       []string `json:"urls"`
}

// Client speaks the rooms HTTP API from one socket layer (one source
// address), as one browser would.
type Client struct {
	base *url.URL
	http *http.Client
}

// NewClient returns a client of the service at base (http:// or https://).
func NewClient(base string, n *socket.Net) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: rooms URL %q: want http:// or https://", ErrConfig, base)
	}
	tr := &http.Transport{
		DialContext:         n.DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     5 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Base is the service's base URL.
func (c *Client) Base() *url.URL { return c.base }

// Response is a raw answer, for probes that compare answers.
type Response struct {
	Status     int
	RetryAfter string
	Body       []byte
	Elapsed    time.Duration
}

// Do sends one request (path below the base; token, if set, as a bearer)
// and returns the raw answer.
func (c *Client) Do(ctx context.Context, method, path, token string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, http.NoBody)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	elapsed := time.Since(start)
	if err != nil {
		return Response{}, fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
	return Response{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: body, Elapsed: elapsed}, nil
}

func (c *Client) call(ctx context.Context, op, path, token string, want int, out any) error {
	r, err := c.Do(ctx, http.MethodPost, path, token)
	if err != nil {
		return err
	}
	if r.Status != want {
		return &StatusError{Op: op, Status: r.Status, RetryAfter: r.RetryAfter, Body: string(bytes.TrimSpace(r.Body))}
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("%w: %s: unreadable answer: %w", ErrRefused, op, err)
	}
	return nil
}

// Create makes a room and returns its ID.
func (c *Client) Create(ctx context.Context) (string, error) {
	var out struct {
		Room string `json:"room"`
	}
	if err := c.call(ctx, "create", "/v1/rooms", "", http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.Room == "" {
		return "", fmt.Errorf("%w: create: no room in the answer", ErrRefused)
	}
	return out.Room, nil
}

// Join asks for a token to room.
func (c *Client) Join(ctx context.Context, room string) (Joined, error) {
	var j Joined
	err := c.call(ctx, "join", "/v1/rooms/"+url.PathEscape(room)+"/join", "", http.StatusOK, &j)
	if err == nil && j.Token == "" {
		err = fmt.Errorf("%w: join: no token in the answer", ErrRefused)
	}
	return j, err
}

// Credentials asks for TURN credentials with a room token.
func (c *Client) Credentials(ctx context.Context, room, token string) (ICEServer, error) {
	var s ICEServer
	err := c.call(ctx, "credentials", "/v1/rooms/"+url.PathEscape(room)+"/turn", token, http.StatusOK, &s)
	return s, err
}

// WSURL is the signaling URL of room (path as the join answer gives it).
func (c *Client) WSURL(room, path string) string {
	u := *c.base
	u.Scheme = "ws"
	if c.base.Scheme == "https" {
		u.Scheme = "wss"
	}
	if path == "" {
		path = "/v1/rooms/" + url.PathEscape(room) + "/ws"
	}
	u.Path = path
	return u.String()
}

// retryAfter reads a Retry-After of whole seconds (0 when absent).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
