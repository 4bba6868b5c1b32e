package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestLocalSetup(t *testing.T) {
	for _, tc := range []struct {
		remote, role, want string
	}{
		{setupPassive, DTLSRoleServer, setupActive},
		{setupPassive, DTLSRoleClient, setupActive},
		{setupActive, DTLSRoleServer, setupPassive},
		{setupActive, DTLSRoleClient, setupPassive},
		{"", DTLSRoleServer, setupPassive}, // actpass or none: the configured role
		{"", DTLSRoleClient, setupActive},
	} {
		if got := localSetup(tc.remote, tc.role); got != tc.want {
			t.Errorf("localSetup(%q, %q) = %q, want %q", tc.remote, tc.role, got, tc.want)
		}
	}
}

func TestRemoteSetup(t *testing.T) {
	set := func(v string) func(string) string {
		return func(o string) string { return strings.Replace(o, "a=setup:actpass\r\n", v, 1) }
	}
	for _, tc := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"actpass", set("a=setup:actpass\r\n"), ""},
		{"passive", set("a=setup:passive\r\n"), setupPassive},
		{"active", set("a=setup:active\r\n"), setupActive},
		{"holdconn", set("a=setup:holdconn\r\n"), ""},
		{"none", set(""), ""},
		// pion reads the media level only: a session-level role is not
		// one it acts on, so the gateway does not answer it either.
		{"session level", func(o string) string {
			return strings.Replace(set("")(o), "t=0 0\r\n", "t=0 0\r\na=setup:passive\r\n", 1)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := remoteSetup([]byte(tc.edit(browserOffer))); got != tc.want {
				t.Errorf("remoteSetup = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithSetup(t *testing.T) {
	got := withSetup("v=0\r\na=setup:passive\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=setup:passive\r\n", setupActive)
	if want := "v=0\r\na=setup:active\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=setup:active\r\n"; got != want {
		t.Errorf("withSetup = %q, want %q", got, want)
	}
}

// An offer of setup:passive is answered active and one of active passive,
// whatever the gateway's configured role (RFC 4145 4.1, RFC 5763 5), and
// the DTLS handshake runs in the roles the answer states: the browser's
// pion takes the opposite of the answer, so a wrong answer leaves both
// sides in one role and the call never connects. Media then flows both
// ways.
func TestAnswerSetupFollowsTheOffer(t *testing.T) {
	for _, tc := range []struct {
		role, offer, want string
	}{
		{DTLSRoleServer, setupPassive, setupActive},
		{DTLSRoleClient, setupPassive, setupActive},
		{DTLSRoleServer, setupActive, setupPassive},
		{DTLSRoleClient, setupActive, setupPassive},
		{DTLSRoleServer, setupActpass, setupPassive},
	} {
		t.Run(tc.role+"/"+tc.offer, func(t *testing.T) {
			ctx := deadline(t, 10*time.Second)
			cfg := DefaultConfig()
			cfg.DTLSRole = tc.role
			s := newBridgeSetup(ctx, t, cfg)
			peer := newCallingPeer(ctx, t)
			peer.offer = strings.ReplaceAll(peer.offer, "a=setup:actpass", "a=setup:"+tc.offer)
			_, got := placeCall(ctx, t, s.browser, peer)
			answer := string(got[len(got)-1].Body())
			if !strings.Contains(answer, "a=setup:"+tc.want+"\r\n") || strings.Count(answer, "a=setup:") != strings.Count(answer, "a=setup:"+tc.want) {
				t.Errorf("offer setup:%s (role %s): want every a=setup:%s in the answer:\n%s", tc.offer, tc.role, tc.want, answer)
			}
			gwRTP := receive(ctx, t, s.phone.media, "the gateway's RTP address")
			exchangeMedia(ctx, t, peer.track, peer.fromGateway, s.phone.rtp, gwRTP)
		})
	}
}
