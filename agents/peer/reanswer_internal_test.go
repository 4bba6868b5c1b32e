package peer

import (
	"strings"
	"testing"
)

func TestAnswerDirection(t *testing.T) {
	for offered, want := range map[string]string{
		DirSendRecv: DirSendRecv,
		DirSendOnly: DirRecvOnly,
		DirRecvOnly: DirSendOnly,
		DirInactive: DirInactive,
	} {
		if got := answerDirection(offered); got != want {
			t.Errorf("answerDirection(%s) = %s, want %s", offered, got, want)
		}
	}
}

func TestOfferDirection(t *testing.T) {
	for _, tc := range []struct {
		name          string
		session, line []string
		want          string
	}{
		{"none: sendrecv", nil, nil, DirSendRecv},
		{"media level", nil, []string{"a=sendonly"}, DirSendOnly},
		{"session level", []string{"a=inactive"}, nil, DirInactive},
		{"media level wins", []string{"a=inactive"}, []string{"a=recvonly"}, DirRecvOnly},
	} {
		got, err := offerDirection(remoteSDP("UDP/TLS/RTP/SAVPF", tc.session, tc.line))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := offerDirection([]byte("not sdp")); err == nil {
		t.Error("an unreadable offer has a direction")
	}
}

func TestRedescribe(t *testing.T) {
	for _, tc := range []struct {
		name          string
		session, line []string
		setup, dir    string
		want          []string // lines the result has
		not           []string // lines it must not have
	}{
		{"actpass offer becomes passive, sendrecv becomes recvonly",
			nil, []string{"a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux"}, SetupPassive, DirRecvOnly,
			[]string{"a=setup:passive", "a=recvonly", "a=mid:0", "a=rtcp-mux", "o=- 1 3 IN IP4 127.0.0.1"},
			[]string{"a=setup:actpass", "a=sendrecv"}},
		{"session-level direction dropped, one at media level",
			[]string{"a=sendonly"}, []string{"a=setup:active", "a=inactive", "a=sendrecv"}, SetupActive, DirInactive,
			[]string{"a=setup:active", "a=inactive"},
			[]string{"a=sendonly", "a=sendrecv"}},
		{"setup and direction added when missing",
			nil, []string{"a=mid:0"}, SetupActive, DirSendRecv,
			[]string{"a=setup:active", "a=sendrecv"}, nil},
	} {
		got, err := redescribe(remoteSDP("UDP/TLS/RTP/SAVPF", tc.session, tc.line), tc.setup, tc.dir)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		lines := strings.Split(string(got), "\r\n")
		has := func(l string) bool {
			for _, g := range lines {
				if g == l {
					return true
				}
			}
			return false
		}
		for _, l := range tc.want {
			if !has(l) {
				t.Errorf("%s: no %q in\n%s", tc.name, l, got)
			}
		}
		for _, l := range tc.not {
			if has(l) {
				t.Errorf("%s: %q left in\n%s", tc.name, l, got)
			}
		}
		if n := strings.Count(string(got), "a=inactive") + strings.Count(string(got), "a=sendrecv") +
			strings.Count(string(got), "a=sendonly") + strings.Count(string(got), "a=recvonly"); n != 1 {
			t.Errorf("%s: %d direction lines in\n%s", tc.name, n, got)
		}
	}
	if _, err := redescribe([]byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"), SetupActive, DirSendRecv); err == nil {
		t.Error("a description without audio was redescribed")
	}
}
