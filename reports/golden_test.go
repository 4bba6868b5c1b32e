package reports

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*")

// goldenMeta is fixed so that golden output does not depend on the machine.
var goldenMeta = RunMeta{
	Scenario:    "golden-mixed",
	Seed:        42,
	Target:      "wss://127.0.0.1:8443/ws?token=abc123",
	Interrupted: true,
	Version:     "v0.0.0-golden",
	GoVersion:   "go1.26-golden",
	OS:          "linux",
	Arch:        "amd64",
	Hostname:    "golden-host",
	MOSModel:    "E-model (G.107 defaults, Cole-Rosenbluth delay term, G.113 constants)",
	Warnings:    []string{"target echo: turn secret: s3cr3t", "one call canceled by SIGINT"},
}

var goldenThresholds = []string{
	"ice.success_rate >= 0.99",
	"mos.p5 >= 3.5",
	"setup_ms.p95 < 2000",
	"media.one_way_audio == 0",
	"media.loss_pct.p50 <= 1",
	"rooms.ice.relay_ratio == 1",
	"rooms.leaks == 0",
}

func goldenSummary(t *testing.T) *Summary {
	t.Helper()
	var ts []Threshold
	for _, e := range goldenThresholds {
		th, err := ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, th)
	}
	f, err := os.Open("testdata/results.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := NewSummarizer(goldenMeta, WithThresholds(ts...))
	if err := ReadJSONL(f, func(r Result) error { z.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	return z.Summary()
}

func TestGolden(t *testing.T) {
	s := goldenSummary(t)
	for _, tt := range []struct {
		file  string
		write func(io.Writer, *Summary) error
	}{
		{SummaryFile, WriteSummaryJSON},
		{JUnitFile, WriteJUnit},
		{HTMLFile, WriteHTML},
		{"console.txt", writeConsole},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf, s); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", tt.file), withoutVendored(t, buf.Bytes()))
		})
	}
}

// writeConsole writes ConsoleLines, one per line.
func writeConsole(w io.Writer, s *Summary) error {
	_, err := io.WriteString(w, strings.Join(ConsoleLines(s), "\n")+"\n")
	return err
}

// withoutVendored replaces the inlined Chart.js (200 kB on one line, and
// checked on its own by TestVendoredChartJS) with a marker, so that the
// golden report shows our page and its diffs stay readable.
func withoutVendored(t *testing.T, page []byte) []byte {
	t.Helper()
	if !bytes.Contains(page, []byte("<script>"+chartJS+"</script>")) {
		if bytes.Contains(page, []byte("<html")) {
			t.Fatal("the page does not inline the vendored Chart.js")
		}
		return page
	}
	return bytes.Replace(page, []byte(chartJS), []byte("/* Chart.js "+chartJSVersion+": templates/vendor/chart.umd.min.js, inlined here */"), 1)
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs at line %d (go test ./reports -update rewrites it)\n got: %s\nwant: %s", path, i+1, gl, wl)
		}
	}
}

// TestGoldenHasNoSecrets checks every secret planted in the fixture and
// the metadata is gone from every report.
func TestGoldenHasNoSecrets(t *testing.T) {
	s := goldenSummary(t)
	secrets := []string{"abc123", "s3cr3t", "c2VjcmV0LWh1bnRlcjI", "9f1c0b2e", "eyJhbGciOiJIUzI1NiJ9"}
	for name, write := range map[string]func(io.Writer, *Summary) error{
		SummaryFile: WriteSummaryJSON, JUnitFile: WriteJUnit, HTMLFile: WriteHTML, "console": writeConsole,
	} {
		var buf bytes.Buffer
		if err := write(&buf, s); err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if bytes.Contains(buf.Bytes(), []byte(sec)) {
				t.Errorf("%s contains secret %q", name, sec)
			}
		}
		if !bytes.Contains(buf.Bytes(), []byte(Redacted)) {
			t.Errorf("%s shows no redaction at all", name)
		}
	}
}
