// Package turncred gets TURN credentials the way a web application does:
// from an HTTP endpoint of the deployment that answers with the JSON of the
// TURN REST API draft (draft-uberti-behave-turn-rest):
//
//	{"username": "1700000000:alice", "password": "...", "ttl": 86400, "uris": ["turn:..."]}
//
// A Source caches what it got until half its lifetime has passed, so a
// virtual user placing a call every few seconds asks once in a while, and
// a long run never offers expired credentials.
package turncred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Errors Fetch returns, wrapped with detail.
var (
	ErrRefused = errors.New("turncred: the credential endpoint refused")
	ErrFormat  = errors.New("turncred: the credential endpoint's answer is not TURN REST JSON")
)

// maxBody bounds what is read of an answer.
const maxBody = 64 << 10

// Credentials are one grant: a TURN username and password, how long they
// last, and the TURN URIs the endpoint named (may be empty).
type Credentials struct {
	Username string
	Password string
	TTL      time.Duration
	URIs     []string
	Expires  time.Time // the fetch time plus TTL
}

// Request is one credential request: URL and how it authenticates (Auth
// adds e.g. Basic credentials or a bearer token; nil sends none).
type Request struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
	Auth   func(ctx context.Context, r *http.Request) error
}

// Fetch asks the endpoint once.
func Fetch(ctx context.Context, req Request, now time.Time) (Credentials, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return Credentials{}, fmt.Errorf("turncred: %w", err)
	}
	r.Header.Set("Accept", "application/json")
	if req.Auth != nil {
		if err := req.Auth(ctx, r); err != nil {
			return Credentials{}, fmt.Errorf("turncred: authenticating to %s: %w", req.URL, err)
		}
	}
	client := req.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(r)
	if err != nil {
		return Credentials{}, fmt.Errorf("turncred: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return Credentials{}, fmt.Errorf("turncred: reading %s: %w", req.URL, err)
	}
	if res.StatusCode != http.StatusOK {
		return Credentials{}, fmt.Errorf("%w: %s answered %s", ErrRefused, req.URL, res.Status)
	}
	return parse(body, now)
}

// parse reads a TURN REST answer.
func parse(body []byte, now time.Time) (Credentials, error) {
	var a struct {
		Username *string  `json:"username"`
		Password *string  `json:"password"`
		TTL      *float64 `json:"ttl"`
		URIs     []string `json:"uris"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return Credentials{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	switch {
	case a.Username == nil || *a.Username == "":
		return Credentials{}, fmt.Errorf("%w: no username", ErrFormat)
	case a.Password == nil || *a.Password == "":
		return Credentials{}, fmt.Errorf("%w: no password", ErrFormat)
	case a.TTL == nil || *a.TTL <= 0:
		return Credentials{}, fmt.Errorf("%w: no positive ttl", ErrFormat)
	}
	ttl := time.Duration(*a.TTL * float64(time.Second))
	return Credentials{Username: *a.Username, Password: *a.Password, TTL: ttl, URIs: a.URIs, Expires: now.Add(ttl)}, nil
}

// Source fetches credentials and keeps them until half their lifetime
// has passed. It is safe for concurrent use; concurrent callers share one
// fetch.
type Source struct {
	req Request
	now func() time.Time

	mu     sync.Mutex
	cached Credentials
	fresh  time.Time // when cached stops being handed out
}

// NewSource returns a Source for req; now is the clock (nil: time.Now).
func NewSource(req Request, now func() time.Time) *Source {
	if now == nil {
		now = time.Now
	}
	return &Source{req: req, now: now}
}

// Get returns credentials at least half of whose lifetime is left.
func (s *Source) Get(ctx context.Context) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cached.Username != "" && now.Before(s.fresh) {
		return s.cached, nil
	}
	c, err := Fetch(ctx, s.req, now)
	if err != nil {
		return Credentials{}, err
	}
	s.cached, s.fresh = c, now.Add(c.TTL/2)
	return c, nil
}
