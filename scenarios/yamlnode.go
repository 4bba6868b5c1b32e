package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree field by field, so that every mistake
// keeps the line and column yaml gives, and every unknown field is caught.
// Errors go to errs; a value that fails to decode is left at its zero value
// and its path is marked failed, so validation stays quiet about it.
type decoder struct {
	src  *source
	errs *errorList
}

func newDecoder(file string) *decoder {
	src := newSource(file)
	return &decoder{src: src, errs: &errorList{src: src}}
}

// field is one key of a mapping and its value.
type field struct {
	key *yaml.Node
	val *yaml.Node
}

func (f field) pos() Pos { return Pos{Line: f.key.Line, Column: f.key.Column} }

func nodePos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// MaxFileSize bounds a scenario or target file: they are written by hand,
// and the YAML walk should stay cheap even on a hostile file.
const MaxFileSize = 1 << 20

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data and returns its root mapping, or nil after
// reporting why there is none.
func (d *decoder) document(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		d.errs.at(Pos{}, "", ErrRange, "file is %d bytes; scenario and target files are at most %d", len(data), MaxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs.at(Pos{}, "", ErrRequired, "file is empty")
			return nil
		}
		d.yamlError(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(data, err)
	default:
		d.errs.at(nodePos(&extra), "", ErrSyntax, "more than one YAML document (---); a file holds one")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = resolve(root)
	d.src.set("", nodePos(root))
	if root.Kind != yaml.MappingNode {
		d.errs.at(nodePos(root), "", ErrType, "want a mapping of fields at the top, got %s", describe(root))
		return nil
	}
	return root
}

func (d *decoder) yamlError(data []byte, err error) {
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		d.errs.at(Pos{}, "", ErrSyntax, "%s", strings.TrimPrefix(msg, "yaml: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	if l := problemLine(data, m[2]); l > 0 {
		line = l
	}
	d.errs.at(Pos{Line: line}, "", ErrSyntax, "%s", m[2])
}

// maxProblemSearch bounds the lines problemLine re-parses (it is
// quadratic; scenario and target files are a few dozen lines).
const maxProblemSearch = 1000

// problemLine finds the line a YAML syntax error is on. For parser errors
// yaml.v3 reports its context mark, 0-based, which points near where the
// enclosing collection began and can be lines away from the mistake. The
// first prefix of the file that fails with the same problem ends on the
// line at fault. It returns 0 when no prefix does.
func problemLine(data []byte, problem string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxProblemSearch {
		return 0
	}
	n := 0
	for i, l := range lines {
		n += len(l)
		var node yaml.Node
		err := yaml.Unmarshal(data[:n], &node)
		if err == nil {
			continue
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[2] == problem {
			return i + 1
		}
	}
	return 0
}

// mapping checks that n is a mapping whose keys are all in known, records
// where each key was written, and returns the fields by key. Unknown and
// duplicate keys are reported with their own line. It returns nil (after
// reporting) when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) map[string]field {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errs.at(d.src.lookup(path), path, ErrType, "want a mapping, got %s", describe(n))
		return nil
	}
	fields := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.errs.at(nodePos(k), path, ErrUnsupported, "YAML merge keys (<<) are not supported; write the fields out")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.errs.at(nodePos(k), path, ErrType, "want a field name, got %s", describe(k))
			continue
		}
		name := k.Value
		p := joinPath(path, name)
		if prev, dup := fields[name]; dup {
			d.errs.at(nodePos(k), p, ErrDuplicate, "given twice (first at line %d)", prev.key.Line)
			continue
		}
		fields[name] = field{key: k, val: v}
		if !slices.Contains(known, name) {
			d.errs.at(nodePos(k), p, ErrUnknownField, "unknown field%s; known: %s", didYouMean(name, known), strings.Join(known, ", "))
			continue
		}
		d.src.set(p, nodePos(k))
	}
	for name := range fields {
		if !slices.Contains(known, name) {
			delete(fields, name)
		}
	}
	return fields
}

// scalar returns n's value if n is a scalar with the wanted tag, else
// reports a type error at path and returns false. Null counts as missing.
func (d *decoder) scalar(n *yaml.Node, path, tag, want string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag {
		d.errs.at(d.src.lookup(path), path, ErrType, "want %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	return d.scalar(n, path, "!!str", "a string")
}

func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	if _, ok := d.scalar(n, path, "!!int", "an integer"); !ok {
		return 0, false
	}
	var v int64
	if err := resolve(n).Decode(&v); err != nil {
		d.errs.at(d.src.lookup(path), path, ErrRange, "integer out of range: %s", resolve(n).Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	v, ok := d.scalar(n, path, "!!bool", "true or false")
	if !ok {
		return false, false
	}
	var b bool
	if err := resolve(n).Decode(&b); err != nil {
		d.errs.at(d.src.lookup(path), path, ErrType, "want true or false, got %q", v)
		return false, false
	}
	return b, true
}

// duration decodes a Go duration string ("3s", "1m30s"). Bare numbers are
// refused: "3" could mean seconds or milliseconds.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	rn := resolve(n)
	if rn.Kind == yaml.ScalarNode && (rn.ShortTag() == "!!int" || rn.ShortTag() == "!!float") {
		d.errs.at(d.src.lookup(path), path, ErrType, "want a duration with a unit (e.g. %ss), got the bare number %s", rn.Value, rn.Value)
		return 0, false
	}
	s, ok := d.scalar(n, path, "!!str", "a duration (e.g. 3s, 1m30s)")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errs.at(d.src.lookup(path), path, fmt.Errorf("%w: %w", ErrSyntax, err), "bad duration %q (want e.g. 3s, 500ms, 1m30s)", s)
		return 0, false
	}
	return v, true
}

// seq checks that n is a sequence, records where each item was written and
// returns the items.
func (d *decoder) seq(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errs.at(d.src.lookup(path), path, ErrType, "want a list, got %s", describe(n))
		return nil, false
	}
	for i, item := range n.Content {
		d.src.set(indexPath(path, i), nodePos(item))
	}
	return n.Content, true
}

// strs decodes a list of strings; items of the wrong type are reported and
// left out.
func (d *decoder) strs(n *yaml.Node, path string) ([]string, bool) {
	items, ok := d.seq(n, path)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if s, ok := d.str(item, indexPath(path, i)); ok {
			out = append(out, s)
		}
	}
	return out, true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null (no value)"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int":
			return "the integer " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		default:
			return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
		}
	}
	return "a YAML document"
}

// didYouMean returns ` (did you mean "x"?)` for the known name closest to
// name when it is close enough to be a typo, else "".
func didYouMean(name string, known []string) string {
	limit := max(len(name)/4, 1)
	best, bestDist := "", limit+1
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" || best == name {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
