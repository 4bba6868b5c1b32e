package scenarios

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors a FieldError wraps, so callers can tell mistakes apart
// with errors.Is without parsing messages.
var (
	ErrSyntax       = errors.New("syntax error")      // not YAML, or a value that does not parse (duration, rate, threshold, URL)
	ErrType         = errors.New("wrong type")        // e.g. a string where an integer belongs
	ErrUnknownField = errors.New("unknown field")     // a key the schema does not have
	ErrRequired     = errors.New("required")          // a required field is missing or empty
	ErrRange        = errors.New("out of range")      // a number or duration outside what the field accepts
	ErrUnknownName  = errors.New("unknown name")      // a codec, SRTP profile, kind or population that does not exist
	ErrDuplicate    = errors.New("duplicate")         // a name or key given twice
	ErrUnsupported  = errors.New("not supported yet") // valid YAML and schema, but something Gauntlet cannot run (yet)
	ErrConflict     = errors.New("conflict")          // two fields that cannot hold together
)

// Pos is where something was written in a file: 1-based line and column.
// The zero Pos means "not from a file" (built in code).
type Pos struct {
	Line   int
	Column int
}

// FieldError is one mistake in a scenario or target: where it is, which
// field, and what is wrong. Its message reads
//
//	scenarios/bad.yaml:12:5: populations[1].count: must be >= 1, got -3
//
// File, Line and Column are empty when the value was not loaded from a file.
type FieldError struct {
	File   string
	Line   int
	Column int
	Path   string // field path, e.g. "populations[1].count"; empty for the whole file
	Msg    string
	Err    error // one of the sentinels above, possibly wrapping a cause
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every mistake found in one file, in file order. Load, Parse and
// Validate return it (as *Errors); match it with errors.As, or match a
// single kind of mistake with errors.Is (e.g. ErrUnknownField).
type Errors struct {
	List []*FieldError
}

func (e *Errors) Error() string {
	msgs := make([]string, len(e.List))
	for i, fe := range e.List {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is and errors.As look at each FieldError.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.List))
	for i, fe := range e.List {
		errs[i] = fe
	}
	return errs
}

// errorList gathers FieldErrors for one file. It knows where each field
// path was written, and which paths already failed to decode so that
// validation does not report them a second time.
type errorList struct {
	src  *source
	list []*FieldError
}

func (l *errorList) add(path string, err error, format string, args ...any) {
	if l.src.failed(path) {
		return
	}
	p := l.src.lookup(path)
	l.list = append(l.list, &FieldError{
		File:   l.src.fileName(),
		Line:   p.Line,
		Column: p.Column,
		Path:   path,
		Msg:    fmt.Sprintf(format, args...),
		Err:    err,
	})
}

// at records an error at an explicit position, and marks path as failed.
func (l *errorList) at(p Pos, path string, err error, format string, args ...any) {
	l.list = append(l.list, &FieldError{
		File:   l.src.fileName(),
		Line:   p.Line,
		Column: p.Column,
		Path:   path,
		Msg:    fmt.Sprintf(format, args...),
		Err:    err,
	})
	l.src.markFailed(path)
}

func (l *errorList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	sortByPos(l.list)
	return &Errors{List: l.list}
}

// sortByPos orders errors by line then column (stable, so errors on one
// spot keep the order they were found in). Errors without a position go last.
func sortByPos(list []*FieldError) {
	less := func(a, b *FieldError) bool {
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	}
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && less(list[j], list[j-1]); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}

// source remembers, for a value loaded from a file, the file name and where
// each field path was written. A value built in code has an empty source.
type source struct {
	file string
	pos  map[string]Pos
	bad  map[string]bool
}

func newSource(file string) *source {
	return &source{file: file, pos: map[string]Pos{}, bad: map[string]bool{}}
}

func (s *source) fileName() string {
	if s == nil {
		return ""
	}
	return s.file
}

func (s *source) set(path string, p Pos) {
	if s != nil && s.pos != nil {
		s.pos[path] = p
	}
}

func (s *source) markFailed(path string) {
	if s != nil && s.bad != nil {
		s.bad[path] = true
	}
}

// failed reports whether path, or a field that contains it, already failed.
func (s *source) failed(path string) bool {
	if s == nil {
		return false
	}
	for p := path; ; p = parentPath(p) {
		if s.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// lookup returns where path was written, or where its nearest written
// ancestor was (a missing field is reported at the mapping that lacks it).
func (s *source) lookup(path string) Pos {
	if s == nil {
		return Pos{}
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{}
		}
	}
}

// parentPath strips the last element of a field path:
// "flows[0].hold.min" -> "flows[0].hold" -> "flows[0]" -> "flows" -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

func indexPath(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}

// valueError is a bad value whose message stands alone (no sentinel text
// in it) and which still matches its sentinel with errors.Is.
type valueError struct {
	kind error
	msg  string
}

func valueErrorf(kind error, format string, args ...any) error {
	return &valueError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return e.kind }

// joinQuoted renders names as a list for messages: "a", "b", "c".
func joinQuoted[T ~string](names []T) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// has reports whether the file wrote path itself.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.pos[path]
	return ok
}
