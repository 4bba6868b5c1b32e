package reports

import (
	"regexp"
	"strings"
)

// Redacted replaces every secret Redact finds.
const Redacted = "[REDACTED]"

var (
	// secretKey finds a key naming a secret, followed by ':' or '='. The key
	// may be double-quoted (JSON). Only spaces and tabs may surround the
	// separator, so a YAML key with an empty value does not swallow the
	// next line.
	secretKey = regexp.MustCompile(`(?i)("?)([a-z0-9_.\-]*(?:password|passwd|pwd|secret|token|credential|authorization)[a-z0-9_.\-]*)("?)([ \t]*[:=][ \t]*)`)
	// urlUserinfo is scheme://user:password@ (the password part).
	urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@`)
	// sipUserinfo is sip:user:password@ (RFC 3261 allows it, deprecated).
	sipUserinfo = regexp.MustCompile(`(?i)\b(sips?:[^:@\s;<>"/]+:)[^@\s;<>"]+@`)
	bearer      = regexp.MustCompile(`(?i)\b(bearer)[ \t]+[a-z0-9\-._~+/]+=*`)
	jwt         = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// sdesKey is an SDES master key in SDP (a=crypto:... inline:KEY|...).
	sdesKey = regexp.MustCompile(`(?i)\b(inline:)[a-z0-9+/]+={0,2}(\|[^\s]*)?`)
	// authScheme is the scheme word of an Authorization value, kept because
	// it says what was sent without saying the secret.
	authScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[ \t]+\S`)
)

// Redact masks secrets in free text: Authorization and
// Proxy-Authorization values (keeping the scheme word), values of keys
// naming a password, secret, token, credential or pwd (YAML `key: v`, JSON
// `"key": "v"`, query and logfmt `key=v`), Bearer tokens, JWT-shaped
// strings, passwords in URL and SIP URI userinfo, and SDES keys. Each
// becomes Redacted. It errs on the side of masking too much: an unquoted
// `key: value` is masked to the end of the line. Redact is idempotent.
func Redact(s string) string {
	if s == "" {
		return s
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = sipUserinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = redactKeyValues(s)
	s = bearer.ReplaceAllString(s, "${1} "+Redacted)
	s = jwt.ReplaceAllString(s, Redacted)
	s = sdesKey.ReplaceAllString(s, "${1}"+Redacted)
	return s
}

// redactKeyValues masks the value after every secretKey match.
func redactKeyValues(s string) string {
	var b strings.Builder
	pos := 0
	for pos < len(s) {
		m := secretKey.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		keyQuoted := m[3] > m[2] && m[7] > m[6]
		key := s[pos+m[4] : pos+m[5]]
		sep := s[pos+m[8] : pos+m[9]]
		start := pos + m[1] // first byte of the value
		b.WriteString(s[pos:start])
		end, inner0, inner1 := valueSpan(s, start, keyQuoted, strings.Contains(sep, ":"))
		if inner1 > inner0 {
			v := s[inner0:inner1]
			masked := Redacted
			if strings.HasSuffix(strings.ToLower(key), "authorization") {
				if sc := authScheme.FindString(v); sc != "" {
					masked = strings.TrimRight(sc[:len(sc)-1], " \t") + " " + Redacted
				}
			}
			b.WriteString(s[start:inner0])
			b.WriteString(masked)
			b.WriteString(s[inner1:end])
		} else {
			b.WriteString(s[start:end])
		}
		pos = end // > the previous pos: a secretKey match is never empty
	}
	b.WriteString(s[pos:])
	return b.String()
}

// valueSpan returns where the value starting at i ends, and the span of its
// content (inside quotes when quoted).
func valueSpan(s string, i int, keyQuoted, colon bool) (end, inner0, inner1 int) {
	if i >= len(s) {
		return i, i, i
	}
	if strings.HasPrefix(s[i:], Redacted) {
		return i + len(Redacted), i, i // already masked
	}
	if q := s[i]; q == '"' || q == '\'' {
		j := i + 1
		for j < len(s) && s[j] != q {
			if s[j] == '\\' && q == '"' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return len(s), i + 1, len(s)
		}
		return j + 1, i + 1, j
	}
	stop := "\r\n"
	switch {
	case keyQuoted:
		stop = " \t\r\n,}]"
	case !colon:
		stop = " \t\r\n&;,\"'<>"
	}
	j := i
	for j < len(s) && !strings.ContainsRune(stop, rune(s[j])) {
		j++
	}
	return j, i, j
}
