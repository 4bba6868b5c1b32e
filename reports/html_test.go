package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestVendoredChartJS(t *testing.T) {
	sum := sha256.Sum256([]byte(chartJS))
	if got := hex.EncodeToString(sum[:]); got != chartJSSHA256 {
		t.Fatalf("templates/vendor/chart.umd.min.js has sha256 %s, want %s (templates/vendor/README.md)", got, chartJSSHA256)
	}
	if !strings.HasPrefix(chartJS, "/*!\n * Chart.js v"+chartJSVersion+"\n") {
		t.Fatalf("the vendored file is not Chart.js %s: %q", chartJSVersion, chartJS[:60])
	}
	readme, err := os.ReadFile("templates/vendor/README.md")
	if err != nil || !bytes.Contains(readme, []byte(chartJSSHA256)) || !bytes.Contains(readme, []byte("| version | "+chartJSVersion+" |")) {
		t.Fatalf("templates/vendor/README.md does not record version %s and sha256 %s (%v)", chartJSVersion, chartJSSHA256, err)
	}
	if lic, err := os.ReadFile("templates/vendor/chart.js.LICENSE.md"); err != nil || !bytes.Contains(lic, []byte("The MIT License")) {
		t.Fatalf("the Chart.js licence is missing: %v", err)
	}
	// Inlined in <script>, these would end the element or change how the
	// HTML parser reads it.
	for _, s := range []string{chartJS, chartsJS} {
		for _, bad := range []string{"</script", "<!--", "<script"} {
			if strings.Contains(strings.ToLower(s), bad) {
				t.Errorf("an inlined script contains %q", bad)
			}
		}
	}
}

// TestCSPPinsTheInlinedAssets checks the page's Content-Security-Policy
// lists the hash of each script and style exactly as the page holds them
// (the browser test shows the browser agrees: a mismatch would block the
// charts).
func TestCSPPinsTheInlinedAssets(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, goldenSummary(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSP meta tag")
	}
	csp := html.UnescapeString(m[1])
	if !strings.HasPrefix(csp, "default-src 'none'; ") {
		t.Errorf("CSP %q does not forbid loading by default", csp)
	}
	var hashes []string
	for _, el := range regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`).FindAllStringSubmatch(page, -1) {
		hashes = append(hashes, el[1]+" "+cspHash(el[2]))
	}
	want := []string{"style " + cspHash(reportCSS), "script " + cspHash(chartJS), "script " + cspHash(chartsJS)}
	if !reflect.DeepEqual(hashes, want) {
		t.Fatalf("inline elements hash to %q, want %q: the page does not hold the assets as they are", hashes, want)
	}
	for _, h := range hashes {
		if !strings.Contains(csp, strings.SplitN(h, " ", 2)[1]) {
			t.Errorf("CSP %q lacks %s", csp, h)
		}
	}
}

func TestHTMLMatrix(t *testing.T) {
	m := newHTMLMatrix(map[string]int{"host/host": 6, "relay/srflx": 3, "srflx/?": 1})
	if want := []string{"host", "srflx", "prflx", "relay", "?"}; !reflect.DeepEqual(m.Cols, want) {
		t.Fatalf("columns = %q, want %q", m.Cols, want)
	}
	var got []string
	for _, r := range m.Rows {
		for i, c := range r.Cells {
			if c.Count > 0 {
				got = append(got, r.Local+"/"+m.Cols[i]+" "+c.Share+" heat"+string(rune('0'+c.Heat)))
			}
		}
	}
	want := []string{"host/host 60.0% heat3", "srflx/? 10.0% heat1", "relay/srflx 30.0% heat2"}
	if m.Total != 10 || !reflect.DeepEqual(got, want) {
		t.Fatalf("total %d, cells %q, want 10 and %q", m.Total, got, want)
	}
}

func TestChartData(t *testing.T) {
	s := goldenSummary(t)
	d := newChartData(s)
	if n := len(d.Timeline.Labels); n != len(s.Timeline.Points) || n == 0 || d.Timeline.Labels[n-1] != clock(s.Timeline.Points[n-1].T) {
		t.Errorf("timeline labels %q for %d points", d.Timeline.Labels, len(s.Timeline.Points))
	}
	if got := strings.Join(d.ICE.Labels, "|"); got != "connected direct · 4|connected via relay · 1|ICE failed · 1|no SDP exchanged · 1" {
		t.Errorf("ICE slices = %q", got)
	}
	for _, tt := range []struct {
		sec  int
		want string
	}{{0, "0:00"}, {59, "0:59"}, {61, "1:01"}, {3599, "59:59"}, {3661, "1:01:01"}} {
		if got := clock(tt.sec); got != tt.want {
			t.Errorf("clock(%d) = %q, want %q", tt.sec, got, tt.want)
		}
	}
	// An empty summary draws nothing and says why, chart by chart.
	empty := newHTMLCharts(&Summary{})
	if ids := empty.drawn(); len(ids) != 0 || empty.MOS.Empty == "" {
		t.Errorf("empty summary draws %q", ids)
	}
}
