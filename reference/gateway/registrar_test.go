package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestGrantExpiry(t *testing.T) {
	const def, minimum, maximum = time.Hour, time.Minute, 2 * time.Hour
	type in struct {
		param     string
		hasParam  bool
		header    string
		hasHeader bool
	}
	for _, tc := range []struct {
		name string
		in   in
		want int
		err  error
	}{
		{"nothing given", in{}, 3600, nil},
		{"header", in{header: "600", hasHeader: true}, 600, nil},
		{"param wins over header", in{param: "120", hasParam: true, header: "600", hasHeader: true}, 120, nil},
		{"zero removes", in{header: "0", hasHeader: true}, 0, nil},
		{"param zero removes despite header", in{param: "0", hasParam: true, header: "600", hasHeader: true}, 0, nil},
		{"too brief", in{header: "59", hasHeader: true}, 0, errExpiryTooBrief},
		{"at minimum", in{header: "60", hasHeader: true}, 60, nil},
		{"above maximum is shortened", in{header: "86400", hasHeader: true}, 7200, nil},
		{"huge is shortened", in{header: "4294967295", hasHeader: true}, 7200, nil},
		{"too long to be a number", in{header: "99999999999", hasHeader: true}, 0, errExpirySyntax},
		{"negative", in{header: "-1", hasHeader: true}, 0, errExpirySyntax},
		{"not a number", in{param: "soon", hasParam: true}, 0, errExpirySyntax},
		{"empty param", in{param: "", hasParam: true}, 0, errExpirySyntax},
		{"spaces around", in{header: " 600 ", hasHeader: true}, 600, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := grantExpiry(tc.in.param, tc.in.hasParam, tc.in.header, tc.in.hasHeader, def, minimum, maximum)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("got %d s, want %d s", got, tc.want)
			}
		})
	}
}

func TestRegistrar(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRegistrar(2, func() time.Time { return now })
	a := sip.Uri{Scheme: "sip", User: "desk2000", Host: "127.0.0.1", Port: 5062}
	b := sip.Uri{Scheme: "sip", User: "x", Host: "abc.invalid"}
	c := sip.Uri{Scheme: "sip", User: "desk2000", Host: "127.0.0.1", Port: 5064}

	if _, err := r.update("desk2000", []contactUpdate{{a, 60}}, false, "UDP", "127.0.0.1:5062", "call-1", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.update("desk2000", []contactUpdate{{b, 600}}, false, "WS", "127.0.0.1:40000", "call-2", 1); err != nil {
		t.Fatal(err)
	}
	if got := r.bindings("desk2000"); len(got) != 2 || got[0].Contact.String() != a.String() || r.count() != 2 {
		t.Fatalf("bindings = %v (count %d), want %v first of two", got, r.count(), a.String())
	}
	if _, err := r.update("desk2000", []contactUpdate{{a, 60}}, false, "UDP", "127.0.0.1:5062", "call-1", 1); !errors.Is(err, errOutOfOrder) {
		t.Fatalf("same CSeq again: %v, want errOutOfOrder", err)
	}
	if _, err := r.update("desk2000", []contactUpdate{{c, 60}}, false, "UDP", "127.0.0.1:5064", "call-3", 1); !errors.Is(err, errTooMany) {
		t.Fatalf("third binding: %v, want errTooMany", err)
	}

	now = now.Add(61 * time.Second)
	if got := r.bindings("desk2000"); len(got) != 1 || got[0].Transport != "WS" {
		t.Fatalf("bindings after expiry = %v, want the WS one", got)
	}

	r.dropWebSocket("127.0.0.1:40000")
	if got := r.bindings("desk2000"); len(got) != 0 {
		t.Fatalf("bindings after the WebSocket closed = %v, want none", got)
	}

	if _, err := r.update("desk2000", []contactUpdate{{a, 60}, {c, 60}}, false, "UDP", "127.0.0.1:5062", "call-4", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := r.update("desk2000", nil, true, "UDP", "127.0.0.1:5062", "call-4", 8); err != nil {
		t.Fatal(err)
	}
	if got := r.bindings("desk2000"); len(got) != 0 {
		t.Fatalf("bindings after Contact: * = %v, want none", got)
	}
}
