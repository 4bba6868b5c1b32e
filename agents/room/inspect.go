package room

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Kinds of leak the inspector reports.
const (
	LeakHost       = "host-candidate"     // a typ host candidate
	LeakSrflx      = "srflx-candidate"    // a typ srflx candidate
	LeakPrflx      = "prflx-candidate"    // a typ prflx candidate
	LeakRaddr      = "raddr"              // a related address other than 0.0.0.0 (or ::)
	LeakConnection = "connection-address" // a c= line not holding a relay candidate's address
	LeakRTCP       = "rtcp-address"       // an a=rtcp address not a relay candidate's
	LeakOrigin     = "origin-address"     // an o= address other than 127.0.0.1, 0.0.0.0 or a relay's
	LeakField      = "message-field"      // a JSON field holding an address
	LeakCandidate  = "candidate-address"  // a candidate whose address is a name or unreadable
)

// LeakKinds lists every kind, in a stable order.
var LeakKinds = []string{LeakHost, LeakSrflx, LeakPrflx, LeakRaddr, LeakConnection, LeakRTCP, LeakOrigin, LeakField, LeakCandidate}

// InspectCandidate checks one candidate (the attribute value, with or
// without "a=" and "candidate:"): only a relay candidate with raddr
// 0.0.0.0 (or none) passes.
func InspectCandidate(v, where string) []reports.Leak {
	text := strings.TrimSpace(v)
	v = strings.TrimPrefix(strings.TrimPrefix(text, "a="), "candidate:")
	f := strings.Fields(v)
	if len(f) < 8 || !strings.EqualFold(f[6], "typ") {
		return []reports.Leak{{Kind: LeakCandidate, Where: where, Text: text}}
	}
	var out []reports.Leak
	switch strings.ToLower(f[7]) {
	case "host":
		out = append(out, reports.Leak{Kind: LeakHost, Where: where, Text: text})
	case "srflx":
		out = append(out, reports.Leak{Kind: LeakSrflx, Where: where, Text: text})
	case "prflx":
		out = append(out, reports.Leak{Kind: LeakPrflx, Where: where, Text: text})
	case "relay":
		if _, err := netip.ParseAddr(f[4]); err != nil {
			out = append(out, reports.Leak{Kind: LeakCandidate, Where: where, Text: text})
		}
	default:
		out = append(out, reports.Leak{Kind: LeakCandidate, Where: where, Text: text})
	}
	for i := 8; i+1 < len(f); i += 2 {
		if strings.EqualFold(f[i], "raddr") && !unspecified(f[i+1]) {
			out = append(out, reports.Leak{Kind: LeakRaddr, Where: where, Text: text})
		}
	}
	return out
}

func unspecified(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.IsUnspecified()
}

// relayAddrs are the addresses of the relay candidates in an SDP.
func relayAddrs(lines []string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, l := range lines {
		v, ok := strings.CutPrefix(l, "a=candidate:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) >= 8 && strings.EqualFold(f[7], "relay") {
			if a, err := netip.ParseAddr(f[4]); err == nil {
				out[a.Unmap()] = true
			}
		}
	}
	return out
}

// InspectSDP checks every candidate and every address of an SDP: c=
// lines, a=rtcp and o= may only hold a relay candidate's address (of this
// SDP, or one of relays: the TURN relays' own addresses), or the
// placeholders browsers write (0.0.0.0, and 127.0.0.1 in o=).
func InspectSDP(sdp, where string, relays ...netip.Addr) []reports.Leak {
	lines := strings.FieldsFunc(sdp, func(r rune) bool { return r == '\r' || r == '\n' })
	known := relayAddrs(lines)
	for _, a := range relays {
		known[a.Unmap()] = true
	}
	var out []reports.Leak
	addrLeak := func(kind, line, field string, placeholder bool) {
		a, err := netip.ParseAddr(strings.Split(field, "/")[0])
		if err == nil && (a.IsUnspecified() || known[a.Unmap()] || placeholder && a == netip.AddrFrom4([4]byte{127, 0, 0, 1})) {
			return
		}
		out = append(out, reports.Leak{Kind: kind, Where: where, Text: line})
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "a=candidate:"):
			out = append(out, InspectCandidate(l, where)...)
		case strings.HasPrefix(l, "c="):
			if f := strings.Fields(l[2:]); len(f) >= 3 {
				addrLeak(LeakConnection, l, f[2], false)
			}
		case strings.HasPrefix(l, "a=rtcp:"):
			if f := strings.Fields(l[7:]); len(f) >= 4 {
				addrLeak(LeakRTCP, l, f[3], false)
			}
		case strings.HasPrefix(l, "o="):
			if f := strings.Fields(l[2:]); len(f) >= 6 {
				addrLeak(LeakOrigin, l, f[5], true)
			}
		case strings.HasPrefix(l, "a=remote-candidates:"):
			out = append(out, reports.Leak{Kind: LeakCandidate, Where: where, Text: l})
		}
	}
	return out
}

// InspectMessage checks one signaling message as it arrived: its sdp and
// candidate fields as such, and every other string anywhere in it that
// reads as an IP address (or address and port) other than one of relays
// (the TURN relays' own addresses). Each leak's From is the message's from.
func InspectMessage(raw []byte, relays ...netip.Addr) []reports.Leak {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	obj, _ := v.(map[string]any)
	typ, _ := obj["type"].(string)
	from, _ := obj["from"].(string)
	var out []reports.Leak
	known := map[netip.Addr]bool{}
	for _, a := range relays {
		known[a.Unmap()] = true
	}
	w := walker{typ: typ, relays: relays, known: known, out: &out}
	w.walk(v, "")
	for i := range out {
		out[i].From = from
	}
	return out
}

type walker struct {
	typ    string
	relays []netip.Addr
	known  map[netip.Addr]bool
	out    *[]reports.Leak
}

func (w walker) walk(v any, path string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			s, isString := x[k].(string)
			switch {
			case isString && k == "sdp" && path == "":
				*w.out = append(*w.out, InspectSDP(s, w.typ+" sdp", w.relays...)...)
			case isString && k == "candidate" && path == "":
				if s != "" {
					*w.out = append(*w.out, InspectCandidate(s, w.typ+" message")...)
				}
			default:
				w.walk(x[k], p)
			}
		}
	case []any:
		for i, e := range x {
			w.walk(e, path+"["+strconv.Itoa(i)+"]")
		}
	case string:
		if a, ok := address(x); ok && !w.known[a] {
			*w.out = append(*w.out, reports.Leak{Kind: LeakField, Where: "field " + path, Text: x})
		}
	}
}

// address reads s as an IP address, or address and port, other than an
// unspecified one.
func address(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap(), !a.IsUnspecified()
}
