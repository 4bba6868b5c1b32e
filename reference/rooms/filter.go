package rooms

import (
	"net/netip"
	"strings"
)

// Candidate filtering: only relay candidates reach other participants,
// with their related address hidden (raddr 0.0.0.0 rport 0), and no
// address other than a relay candidate's stays in the SDP: c= lines and
// a=rtcp become 0.0.0.0 (the m= port 9), o= becomes 127.0.0.1 as browsers
// write it.

// filterCandidate returns the candidate attribute value (with or without
// the "candidate:" prefix, as given) rewritten for forwarding, and false
// when it must not be forwarded at all.
func filterCandidate(v string) (string, bool) {
	f := strings.Fields(v)
	// foundation component transport priority address port "typ" type ...
	if len(f) < 8 || !strings.EqualFold(f[6], "typ") || !strings.EqualFold(f[7], "relay") {
		return "", false
	}
	if _, err := netip.ParseAddr(f[4]); err != nil {
		return "", false // a relay candidate's address is an IP, never a name
	}
	for i := 8; i+1 < len(f); i += 2 {
		switch strings.ToLower(f[i]) {
		case "raddr":
			f[i+1] = "0.0.0.0"
		case "rport":
			f[i+1] = "0"
		}
	}
	return strings.Join(f, " "), true
}

// relayAddress returns the address of a candidate value that is a relay
// candidate.
func relayAddress(v string) (netip.Addr, bool) {
	f := strings.Fields(v)
	if len(f) < 8 || !strings.EqualFold(f[7], "relay") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(f[4])
	return a.Unmap(), err == nil
}

// filterSDP rewrites an SDP for forwarding: candidates filtered, every
// address that is not a kept relay candidate's replaced. Lines are kept
// otherwise as written (CRLF or LF).
func filterSDP(sdp string) string {
	eol := "\r\n"
	if !strings.Contains(sdp, "\r\n") {
		eol = "\n"
	}
	lines := strings.Split(strings.TrimRight(sdp, "\r\n"), eol)
	relays := map[netip.Addr]bool{}
	kept := make([]string, 0, len(lines))
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "a=candidate:"); ok {
			nv, keep := filterCandidate(v)
			if !keep {
				continue
			}
			if a, ok := relayAddress(nv); ok {
				relays[a] = true
			}
			kept = append(kept, "a=candidate:"+nv)
			continue
		}
		if strings.HasPrefix(l, "a=remote-candidates") {
			continue // names the far end's addresses
		}
		kept = append(kept, l)
	}
	hidden := map[int]bool{} // m= line index whose c= was hidden
	lastM := -1
	for i, l := range kept {
		switch {
		case strings.HasPrefix(l, "m="):
			lastM = i
		case strings.HasPrefix(l, "c="):
			if nl, changed := hideAddress(l, "c=", 2, relays); changed {
				kept[i] = nl
				if lastM >= 0 {
					hidden[lastM] = true
				}
			}
		case strings.HasPrefix(l, "a=rtcp:"):
			kept[i], _ = hideAddress(l, "a=rtcp:", 3, relays)
		case strings.HasPrefix(l, "o="):
			kept[i] = hideOrigin(l, relays)
		}
	}
	for i := range hidden {
		f := strings.Fields(strings.TrimPrefix(kept[i], "m="))
		if len(f) > 1 {
			f[1] = "9"
			kept[i] = "m=" + strings.Join(f, " ")
		}
	}
	return strings.Join(kept, eol) + eol
}

// hideAddress replaces the address field at index idx (after prefix) by
// the unspecified address of its family unless it is a relay's.
func hideAddress(l, prefix string, idx int, relays map[netip.Addr]bool) (string, bool) {
	f := strings.Fields(strings.TrimPrefix(l, prefix))
	if len(f) <= idx {
		return l, false
	}
	a, err := netip.ParseAddr(strings.Split(f[idx], "/")[0])
	if err == nil && (a.IsUnspecified() || relays[a.Unmap()]) {
		return l, false
	}
	if strings.EqualFold(f[idx-1], "IP6") {
		f[idx] = "::"
	} else {
		f[idx-1], f[idx] = "IP4", "0.0.0.0"
	}
	return prefix + strings.Join(f, " "), true
}

// hideOrigin writes the o= line's address as 127.0.0.1, what browsers put
// there, unless it already is that, unspecified or a relay's.
func hideOrigin(l string, relays map[netip.Addr]bool) string {
	f := strings.Fields(strings.TrimPrefix(l, "o="))
	if len(f) < 6 {
		return l
	}
	a, err := netip.ParseAddr(f[5])
	if err == nil && (a.IsUnspecified() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || relays[a.Unmap()]) {
		return l
	}
	f[4], f[5] = "IP4", "127.0.0.1"
	return "o=" + strings.Join(f, " ")
}
