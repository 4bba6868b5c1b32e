package gateway

import (
	"errors"
	"testing"
)

func TestUserRangeContains(t *testing.T) {
	web := UserRange{Pattern: "web{n}", Start: 1000, Count: 3}
	ext := UserRange{Pattern: "x{n}-ext", Start: 0, Count: 10}
	for _, tc := range []struct {
		r    UserRange
		user string
		want bool
	}{
		{web, "web1000", true},
		{web, "web1002", true},
		{web, "web1003", false},
		{web, "web999", false},
		{web, "web01000", false},
		{web, "web+1000", false},
		{web, "web", false},
		{web, "Web1000", false},
		{web, "desk1000", false},
		{ext, "x0-ext", true},
		{ext, "x9-ext", true},
		{ext, "x00-ext", false},
		{ext, "x1", false},
	} {
		if got := tc.r.contains(tc.user); got != tc.want {
			t.Errorf("%q contains %q = %v, want %v", tc.r.Pattern, tc.user, got, tc.want)
		}
	}
}

func TestUserRangeOverlaps(t *testing.T) {
	for _, tc := range []struct {
		a, b UserRange
		want bool
	}{
		{UserRange{Pattern: "web{n}", Start: 1000, Count: 1000}, UserRange{Pattern: "desk{n}", Start: 2000, Count: 1000}, false},
		{UserRange{Pattern: "u{n}", Start: 0, Count: 10}, UserRange{Pattern: "u{n}", Start: 10, Count: 10}, false},
		{UserRange{Pattern: "u{n}", Start: 0, Count: 11}, UserRange{Pattern: "u{n}", Start: 10, Count: 10}, true},
		{UserRange{Pattern: "a{n}", Start: 0, Count: 1}, UserRange{Pattern: "a1{n}", Start: 0, Count: 1}, true},
		{UserRange{Pattern: "{n}a", Start: 0, Count: 1}, UserRange{Pattern: "{n}b", Start: 0, Count: 1}, false},
	} {
		if got := tc.a.overlaps(tc.b); got != tc.want {
			t.Errorf("%v overlaps %v = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDirectoryKind(t *testing.T) {
	cfg := DefaultConfig()
	d := directory{webrtc: cfg.WebRTCUsers, sip: cfg.SIPUsers}
	for user, want := range map[string]string{"web1000": KindWebRTC, "desk2999": KindSIP} {
		if got, err := d.kind(user); err != nil || got != want {
			t.Errorf("kind(%q) = %q, %v; want %q", user, got, err, want)
		}
	}
	if _, err := d.kind("desk3000"); !errors.Is(err, errUnknownUser) {
		t.Errorf("kind(desk3000): %v, want errUnknownUser", err)
	}
	if got := cfg.SIPUsers.Name(5); got != "desk2005" {
		t.Errorf("Name(5) = %q, want desk2005", got)
	}
}
