package reference

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"gopkg.in/yaml.v3"
)

// ErrConfig wraps every LoadConfig failure; the message names the file,
// the line and the field: "reference.yaml:12: gateway.rate_limit.burst: ...".
var ErrConfig = errors.New("reference: bad config")

// ConfigError is one LoadConfig failure, at a line of a file.
type ConfigError struct {
	File  string
	Line  int    // 0 when the field is not in the file (a default that does not fit)
	Field string // YAML path, e.g. "gateway.listen[1].addr"; "" for a syntax error
	Msg   string
}

func (e *ConfigError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

// LoadConfig reads a reference config: DefaultConfig with what the file
// sets laid over it. Unknown fields, durations without a unit and invalid
// values are refused with the file, line and field.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on bytes; name is the file name in errors.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := DefaultConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, yamlError(name, &root, err)
	}
	if len(root.Content) == 0 {
		return cfg, nil // an empty file: the defaults
	}
	if err := checkDurations(name, root.Content[0], reflect.TypeOf(cfg), ""); err != nil {
		return Config{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, yamlError(name, &root, err)
	}
	if err := cfg.Validate(); err != nil {
		var fe *gateway.FieldError
		if errors.As(err, &fe) {
			path := "gateway." + fe.Field
			return Config{}, &ConfigError{File: name, Line: lineOf(root.Content[0], path), Field: path, Msg: fe.Msg}
		}
		return Config{}, &ConfigError{File: name, Msg: err.Error()}
	}
	return cfg, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns yaml.v3's errors ("line 5: field x not found in type
// ...") into a ConfigError naming the field at that line.
func yamlError(name string, root *yaml.Node, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return &ConfigError{File: name, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	field := ""
	if len(root.Content) > 0 {
		field = pathAt(root.Content[0], line, "")
	}
	return &ConfigError{File: name, Line: line, Field: field, Msg: m[2]}
}

// pathAt returns the path of the key or value at line.
func pathAt(n *yaml.Node, line int, path string) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if k.Line == line {
				return p
			}
			if sub := pathAt(v, line, p); sub != "" {
				return sub
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			if sub := pathAt(v, line, p); sub != "" {
				return sub
			}
			if v.Line == line {
				return p
			}
		}
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var pathPart = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// lineOf returns the line of the node at path, or of its nearest ancestor
// in the file; 0 when not even the top-level key is there.
func lineOf(n *yaml.Node, path string) int {
	line := 0
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkDurations refuses a duration written as a bare number: yaml.v3
// would read "invite_timeout: 60" as 60 nanoseconds.
func checkDurations(name string, n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && n.Tag != "!!str" {
			return &ConfigError{File: name, Line: n.Line, Field: path, Msg: fmt.Sprintf("%q has no unit (write e.g. %ss)", n.Value, n.Value)}
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			f, ok := fieldByTag(t, n.Content[i].Value)
			if !ok {
				continue // KnownFields reports it
			}
			if err := checkDurations(name, n.Content[i+1], f.Type, join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, v := range n.Content {
			if err := checkDurations(name, v, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
