package gateway

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func torture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc4475", name+".dat"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestViaPort(t *testing.T) {
	for _, tc := range []struct {
		via  string
		want int
	}{
		{"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1", 5070},
		{"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", 5060},
		{"SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1;rport", 0},
		{"SIP/2.0/UDP 192.0.2.1:5070;rport=1234", 0},
		{"SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw", 5060},
		{"SIP/2.0/UDP [2001:db8::1]:5080;branch=z9hG4bK1", 5080},
		{"SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1", 5060},
		{"SIP/2.0/UDP 192.0.2.15;;,;,,", 5060},
		{"SIP/2.0/UDP host:99999", 5060},
		{"garbage", 5060},
		{"SIP/2.0/UDP a.example.com:5061, SIP/2.0/UDP b.example.com:5062", 5061},
	} {
		if got := viaPort(tc.via); got != tc.want {
			t.Errorf("viaPort(%q) = %d, want %d", tc.via, got, tc.want)
		}
	}
}

func TestMalformedStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		want int
	}{
		{"torture badinv01", string(torture(t, "badinv01")), 400},
		{"torture ltgtruri", string(torture(t, "ltgtruri")), 400},
		{"torture lwsruri", string(torture(t, "lwsruri")), 400},
		{"torture badvers", string(torture(t, "badvers")), 505},
		{"torture novelsc", string(torture(t, "novelsc")), 416},
		{"a response", "SIP/2.0 4294967301 better not break the receiver\r\nVia: SIP/2.0/UDP h\r\n\r\n", 0},
		{"an ACK", "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", 0},
		{"not SIP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0},
		{"no version", "INVITE sip:a@b\r\nVia: SIP/2.0/UDP h\r\n\r\n", 0},
		{"bad method token", "IN(VITE sip:a@b SIP/2.0\r\n\r\n", 0},
	} {
		if got, _ := malformedStatus([]byte(tc.msg)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestStatelessAnswer(t *testing.T) {
	res, port := statelessAnswer(torture(t, "quotbal"), 400, "Bad Request")
	if port != 5050 {
		t.Errorf("port %d, want quotbal's Via port 5050", port)
	}
	text := string(res)
	for _, want := range []string{
		"SIP/2.0 400 Bad Request\r\n",
		"Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\r\n",
		"From: sip:caller@example.net;tag=93334\r\n",
		"To: \"Mr. J. User <sip:j.user@example.com>;tag=",
		"Call-ID: quotbal.aksdj\r\n",
		"CSeq: 8 INVITE\r\n",
		"Content-Length: 0\r\n\r\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("answer lacks %q:\n%s", want, text)
		}
	}
	if res, _ := statelessAnswer([]byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: a\r\nTo: b\r\n\r\n"), 400, "Bad Request"); res != nil {
		t.Errorf("answered a request without Call-ID and CSeq:\n%s", res)
	}
}

func TestRawRefusal(t *testing.T) {
	for _, name := range []string{"regbadct", "baddn"} {
		if got, _ := rawRefusal(torture(t, name)); got != 400 {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	for _, name := range []string{"regescrt", "intmeth", "mismatch01", "novelsc"} {
		if got, _ := rawRefusal(torture(t, name)); got != 0 {
			t.Errorf("%s: %d, want no refusal", name, got)
		}
	}
	for value, ok := range map[string]bool{
		`Bell, Alexander <sip:a.g.bell@example.com>;tag=43`:   false,
		`"Bell, Alexander" <sip:a.g.bell@example.com>;tag=43`: true,
		`Alexander  Graham Bell <sip:a@b>`:                    true,
		`sip:a@b;tag=1`:                                       true,
		`<sip:a@b>`:                                           true,
		`caller<sip:caller@example.com>;tag=323`:              true,
		`A@B <sip:a@b>`:                                       false,
	} {
		if got := tokenDisplayName(value); got != ok {
			t.Errorf("tokenDisplayName(%q) = %v, want %v", value, got, ok)
		}
	}
}

// Requests sipgo cannot parse, or that contradict themselves, are
// answered as RFC 4475 asks, and the listener keeps answering; with
// malformed-input weakened the first one silences SIP over UDP.
func TestWeakenMalformedInput(t *testing.T) {
	cases := []struct {
		name string
		want int
	}{
		{"badinv01", 400}, {"clerr", 400}, {"scalar02", 400}, {"quotbal", 400}, {"ltgtruri", 400},
		{"lwsruri", 400}, {"badaspec", 400}, {"baddn", 400}, {"badvers", 505}, {"novelsc", 416},
		{"mismatch01", 400}, {"multi01", 400}, {"mcl01", 400}, {"regbadct", 400},
	}
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 20*time.Second)
		gw := startGateway(ctx, t, weakenedOr(weak, WeakenMalformedInput))
		server, err := net.ResolveUDPAddr("udp4", gw.UDPAddr())
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range cases {
			msg := torture(t, tc.name)
			// Answers go to the source address at the port the top Via names.
			port := viaPort(readHead(msg).all("via")[0])
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 34, 0, byte(i+1)), Port: port})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.WriteToUDP(msg, server); err != nil {
				t.Fatal(err)
			}
			res, err := readStatus(conn, time.Now().Add(time.Second))
			conn.Close()
			if weak {
				if err == nil {
					t.Errorf("%s answered %d with the listener weakened", tc.name, res)
				}
				break // the listener is gone: one message is enough
			}
			if err != nil || res != tc.want {
				t.Errorf("%s: %d (%v), want %d", tc.name, res, err, tc.want)
			}
		}
		c := newUDPClient(t, gw, net.IPv4(127, 34, 1, 1))
		local := c.conn.LocalAddr().(*net.UDPAddr)
		_, raw := registerBytes(gw.Domain(), "desk2000", local, "")
		if _, err := c.conn.WriteToUDP(raw, c.server); err != nil {
			t.Fatal(err)
		}
		res, err := readResponse(c.conn, time.Now().Add(time.Second))
		switch {
		case weak && err == nil:
			t.Errorf("a REGISTER after the torture got %d with malformed-input weakened, want silence", res.StatusCode)
		case !weak && (err != nil || res.StatusCode != 401):
			t.Errorf("a REGISTER after the torture: %v %v, want 401", res, err)
		}
	})
}

// readStatus reads the status code of the next response, parsing only its
// status line (answers echo the malformed fields of their requests).
func readStatus(conn *net.UDPConn, until time.Time) (int, error) {
	_ = conn.SetReadDeadline(until)
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0, fmt.Errorf("not a response: %q", line)
	}
	return strconv.Atoi(f[1])
}
