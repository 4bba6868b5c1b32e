package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const userPlaceholder = "{n}"

// User kinds in the directory.
const (
	KindWebRTC = "webrtc"
	KindSIP    = "sip"
)

func (r UserRange) split() (prefix, suffix string) {
	prefix, suffix, _ = strings.Cut(r.Pattern, userPlaceholder)
	return prefix, suffix
}

func (r UserRange) validate() error {
	if strings.Count(r.Pattern, userPlaceholder) != 1 {
		return fmt.Errorf("pattern %q must contain %s exactly once", r.Pattern, userPlaceholder)
	}
	prefix, suffix := r.split()
	for _, ch := range prefix + suffix {
		if !isUserChar(ch) {
			return fmt.Errorf("pattern %q: %q is not allowed in a user name here (use letters, digits, . _ -)", r.Pattern, ch)
		}
	}
	if r.Start < 0 {
		return fmt.Errorf("start %d is negative", r.Start)
	}
	if r.Count < 1 {
		return fmt.Errorf("count %d is below 1", r.Count)
	}
	return nil
}

func isUserChar(ch rune) bool {
	return isAlnum(ch) || ch == '.' || ch == '_' || ch == '-'
}

func isAlnum(ch rune) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
}

// overlaps reports whether two valid ranges could name the same user. Only
// identical patterns are compared by number; patterns whose fixed parts nest
// (e.g. "a{n}" and "a1{n}") are treated as overlapping, since "a12" fits both.
func (r UserRange) overlaps(o UserRange) bool {
	rp, rs := r.split()
	op, os := o.split()
	if rp == op && rs == os {
		return r.Start < o.Start+o.Count && o.Start < r.Start+r.Count
	}
	nests := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	nestsSuffix := func(a, b string) bool { return strings.HasSuffix(a, b) || strings.HasSuffix(b, a) }
	return nests(rp, op) && nestsSuffix(rs, os)
}

// contains reports whether user is one of the range's names. Numbers are
// written without leading zeros, so "web01000" is not web1000.
func (r UserRange) contains(user string) bool {
	prefix, suffix := r.split()
	if len(user) <= len(prefix)+len(suffix) || !strings.HasPrefix(user, prefix) || !strings.HasSuffix(user, suffix) {
		return false
	}
	digits := user[len(prefix) : len(user)-len(suffix)]
	if digits != "0" && strings.HasPrefix(digits, "0") {
		return false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || strconv.Itoa(n) != digits {
		return false
	}
	return n >= r.Start && n < r.Start+r.Count
}

// Name returns the i-th user of the range (i from 0).
func (r UserRange) Name(i int) string {
	return strings.Replace(r.Pattern, userPlaceholder, strconv.Itoa(r.Start+i), 1)
}

var errUnknownUser = errors.New("unknown user")

// directory knows which users exist; the registrar and the B2BUA refuse the
// rest. It is immutable.
type directory struct {
	webrtc, sip UserRange
}

// kind returns KindWebRTC or KindSIP for a known user.
func (d directory) kind(user string) (string, error) {
	switch {
	case d.webrtc.contains(user):
		return KindWebRTC, nil
	case d.sip.contains(user):
		return KindSIP, nil
	}
	return "", fmt.Errorf("%w: %q", errUnknownUser, user)
}
