package scenarios

import "log/slog"

// Redacted is what a Secret shows instead of its value.
const Redacted = "[REDACTED]"

// Secret is a password or token. Every way of printing it (fmt verbs,
// %#v, JSON, YAML, text, slog) shows Redacted; only Reveal gives the
// value, so a target echoed into a report or a log cannot leak it.
type Secret string

// Reveal returns the secret itself, for the code that authenticates.
func (s Secret) Reveal() string { return string(s) }

// String returns Redacted, or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString redacts %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText redacts the secret in JSON, YAML and every text encoding.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
