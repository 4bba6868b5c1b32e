package turncred_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/turncred"
)

func TestFetchAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
		wantTTL time.Duration
	}{
		{"ok", 200, `{"username":"1700000000:alice","password":"p","ttl":600,"uris":["turn:127.0.0.1:3478"]}`, nil, 10 * time.Minute},
		{"fractional ttl", 200, `{"username":"u","password":"p","ttl":1.5}`, nil, 1500 * time.Millisecond},
		{"unauthorized", 401, `unauthorized`, turncred.ErrRefused, 0},
		{"rate limited", 429, `slow down`, turncred.ErrRefused, 0},
		{"not json", 200, `<html>`, turncred.ErrFormat, 0},
		{"no username", 200, `{"password":"p","ttl":600}`, turncred.ErrFormat, 0},
		{"no password", 200, `{"username":"u","ttl":600}`, turncred.ErrFormat, 0},
		{"no ttl", 200, `{"username":"u","password":"p"}`, turncred.ErrFormat, 0},
		{"negative ttl", 200, `{"username":"u","password":"p","ttl":-1}`, turncred.ErrFormat, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			now := time.Unix(1_700_000_000, 0)
			c, err := turncred.Fetch(context.Background(), turncred.Request{URL: srv.URL}, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Fetch = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.TTL != tt.wantTTL || !c.Expires.Equal(now.Add(tt.wantTTL))) {
				t.Errorf("TTL %s expires %s, want %s", c.TTL, c.Expires, tt.wantTTL)
			}
		})
	}
}

func TestFetchAuthenticates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"username":"u","password":"p","ttl":60}`)
	}))
	defer srv.Close()
	basic := func(_ context.Context, r *http.Request) error { r.SetBasicAuth("alice", "secret"); return nil }
	if _, err := turncred.Fetch(context.Background(), turncred.Request{URL: srv.URL, Auth: basic}, time.Now()); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	if _, err := turncred.Fetch(context.Background(), turncred.Request{URL: srv.URL}, time.Now()); !errors.Is(err, turncred.ErrRefused) {
		t.Fatalf("without credentials: %v, want ErrRefused", err)
	}
}

func TestSourceRefreshesAtHalfLife(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := fetches.Add(1)
		fmt.Fprintf(w, `{"username":"grant%d","password":"p","ttl":600}`, n)
	}))
	defer srv.Close()
	now := time.Unix(1_700_000_000, 0)
	s := turncred.NewSource(turncred.Request{URL: srv.URL}, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, "grant1"},
		{4 * time.Minute, "grant1"},  // 6 of 10 minutes left
		{61 * time.Second, "grant2"}, // under half left: fetched again
		{time.Minute, "grant2"},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		c, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.Username != st.want {
			t.Errorf("after +%s: %s, want %s", st.advance, c.Username, st.want)
		}
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}
