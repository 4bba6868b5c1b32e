package suites_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gauntlet-rtc/gauntlet"

// pkg is what the layering rules need to know of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// area is the top-level part of the tree a package belongs to.
func area(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

func ours(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// allowed says which of our areas each area may import (DESIGN.md "Layering").
var allowed = map[string][]string{
	"reports":   {"reports"},
	"agents":    {"agents", "reports"},
	"reference": {"reference"},
	"scenarios": {"scenarios", "agents", "reports"},
	"suites":    {"suites", "agents", "reports", "reference", "scenarios"},
	"cmd":       {"cmd", "agents", "reports", "reference", "scenarios"},
}

func isGinkgo(p string) bool {
	return strings.HasPrefix(p, "github.com/onsi/ginkgo") || strings.HasPrefix(p, "github.com/onsi/gomega")
}

func isK6(p string) bool { return p == "go.k6.io/k6" || strings.HasPrefix(p, "go.k6.io/k6/") }

// k6Allowed lists where k6 may be imported: the k6 binary and its binding.
func k6Allowed(path string) bool {
	return strings.HasPrefix(path, module+"/cmd/k6") || strings.HasPrefix(path, module+"/agents/k6")
}

// violations applies DESIGN.md's layering rules to a package graph.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		a := area(p.ImportPath)
		for _, imp := range p.Imports {
			if ours(imp) {
				if !slices.Contains(allowed[a], area(imp)) {
					out = append(out, fmt.Sprintf("%s imports %s (%s may import only %v)", p.ImportPath, imp, a, allowed[a]))
				}
			}
			if imp == "testing" {
				out = append(out, fmt.Sprintf("%s is not a test package but imports testing", p.ImportPath))
			}
		}
		all := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		for _, imp := range all {
			if isGinkgo(imp) && a != "suites" {
				out = append(out, fmt.Sprintf("%s imports %s: only suites/ may use ginkgo/gomega", p.ImportPath, imp))
			}
			if isK6(imp) && !k6Allowed(p.ImportPath) {
				out = append(out, fmt.Sprintf("%s imports %s: only the k6 binary and its binding may", p.ImportPath, imp))
			}
		}
		// Test files of reference/ may use agents (DESIGN.md), but nothing else of the harness.
		if a == "reference" {
			for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
				if ours(imp) && !slices.Contains([]string{"reference", "agents", "reports"}, area(imp)) {
					out = append(out, fmt.Sprintf("%s tests import %s (reference tests may use agents only)", p.ImportPath, imp))
				}
			}
		}
	}
	return out
}

func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(outb))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages; is the module path right?", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// The rules must catch each kind of violation, or TestLayering proves nothing.
func TestLayeringRulesCatchViolations(t *testing.T) {
	cases := []struct {
		name string
		p    pkg
	}{
		{"reports imports agents", pkg{ImportPath: module + "/reports", Imports: []string{module + "/agents/media"}}},
		{"agents import scenarios", pkg{ImportPath: module + "/agents/browser", Imports: []string{module + "/scenarios"}}},
		{"reference imports agents", pkg{ImportPath: module + "/reference/gateway", Imports: []string{module + "/agents/sipua"}}},
		{"reference tests import scenarios", pkg{ImportPath: module + "/reference/gateway", TestImports: []string{module + "/scenarios"}}},
		{"scenarios import reference", pkg{ImportPath: module + "/scenarios", Imports: []string{module + "/reference"}}},
		{"ginkgo outside suites", pkg{ImportPath: module + "/agents/media", TestImports: []string{"github.com/onsi/gomega"}}},
		{"k6 outside its binding", pkg{ImportPath: module + "/scenarios", Imports: []string{"go.k6.io/k6/js/modules"}}},
		{"testing in a library", pkg{ImportPath: module + "/reports", Imports: []string{"testing"}}},
	}
	for _, tc := range cases {
		if v := violations([]pkg{tc.p}); len(v) == 0 {
			t.Errorf("%s: not caught", tc.name)
		}
	}
	good := []pkg{
		{ImportPath: module + "/agents/browser", Imports: []string{module + "/reports", module + "/agents/media"}},
		{ImportPath: module + "/reference/gateway", TestImports: []string{module + "/agents/sipua"}},
		{ImportPath: module + "/suites/gateway", XTestImports: []string{"github.com/onsi/ginkgo/v2", module + "/reference"}},
	}
	if v := violations(good); len(v) != 0 {
		t.Errorf("allowed imports flagged: %v", v)
	}
}
