package reports

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Flags of TestReportInChromium, for `task screenshot`:
//
//	go test ./reports -run TestReportInChromium -args -screenshot=$PWD/report.png [-report=DIR/report.html] [-dark]
var (
	screenshotPath = flag.String("screenshot", "", "TestReportInChromium: also write a full-page PNG of the report to this absolute path")
	reportPath     = flag.String("report", "", "TestReportInChromium: open this report.html instead of one written from the golden fixture")
	darkMode       = flag.Bool("dark", false, "TestReportInChromium: render with prefers-color-scheme: dark")
)

// pageState is what the page says about itself once loaded.
type pageState struct {
	Charts int         `json:"charts"` // -1: the chart script did not finish
	Drawn  int         `json:"drawn"`
	Items  []chartItem `json:"items"`
	Banner string      `json:"banner"`
}

type chartItem struct {
	ID     string `json:"id"`
	Drawn  string `json:"drawn"`
	Error  string `json:"error"`
	Pixels int    `json:"pixels"`
	W      int    `json:"w"`
	H      int    `json:"h"`
}

const pageStateJS = `(() => {
  const b = document.body;
  return {
    charts: b.dataset.charts === undefined ? -1 : +b.dataset.charts, drawn: +(b.dataset.chartsDrawn || 0),
    items: [...document.querySelectorAll("canvas[data-chart]")].map(c => ({
      id: c.dataset.chart, drawn: c.dataset.drawn || "", error: c.dataset.error || "",
      pixels: +(c.dataset.paintedPixels || 0), w: c.width, h: c.height })),
    banner: (document.querySelector(".banner") || {}).innerText || "",
  };
})()`

// visit opens target in a new tab and returns the page's state and every
// problem the browser's own logs show: a request for anything but target
// itself (from the page or any frame or worker it started), a script
// error or a console error (a CSP violation is one), or a chart that did
// not draw.
func (b *browser) visit(ctx context.Context, target string) (pageState, []string, error) {
	var st pageState
	session, err := b.newPage(ctx)
	if err != nil {
		return st, nil, err
	}
	if *darkMode {
		dark := map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": "dark"}}}
		if err := b.call(ctx, session, "Emulation.setEmulatedMedia", dark, nil); err != nil {
			return st, nil, err
		}
	}
	if err := b.navigate(ctx, session, target); err != nil {
		return st, nil, err
	}
	if err := b.eval(ctx, session, pageStateJS, &st); err != nil {
		return st, nil, err
	}

	sessions := map[string]bool{session: true}
	var problems []string
	for _, e := range b.eventsOf("Target.attachedToTarget") {
		var p struct {
			SessionID  string `json:"sessionId"`
			TargetInfo struct {
				Type, URL string
			} `json:"targetInfo"`
		}
		if e.SessionID == session && json.Unmarshal(e.Params, &p) == nil {
			sessions[p.SessionID] = true
			problems = append(problems, fmt.Sprintf("the page started a %s target %q", p.TargetInfo.Type, p.TargetInfo.URL))
		}
	}
	requests := 0
	for _, e := range b.eventsOf("") {
		if !sessions[e.SessionID] {
			continue
		}
		switch e.Method {
		case "Network.requestWillBeSent":
			var p struct {
				Request struct{ URL string } `json:"request"`
			}
			_ = json.Unmarshal(e.Params, &p)
			requests++
			if p.Request.URL != target {
				problems = append(problems, "the page loaded "+p.Request.URL)
			}
		case "Runtime.exceptionThrown":
			problems = append(problems, "script error: "+string(e.Params))
		case "Runtime.consoleAPICalled":
			var p struct{ Type string }
			if json.Unmarshal(e.Params, &p) == nil && p.Type == "error" {
				problems = append(problems, "console error: "+string(e.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Source, Text string } `json:"entry"`
			}
			if json.Unmarshal(e.Params, &p) == nil && p.Entry.Level == "error" {
				problems = append(problems, fmt.Sprintf("browser error (%s): %s", p.Entry.Source, p.Entry.Text))
			}
		}
	}
	if requests == 0 {
		problems = append(problems, "the request log shows no request at all, not even for the page: is it being recorded?")
	}
	switch {
	case st.Charts < 0:
		problems = append(problems, "the chart script did not run to its end")
	case st.Drawn != st.Charts || st.Charts != len(st.Items):
		problems = append(problems, fmt.Sprintf("%d of %d charts drawn", st.Drawn, st.Charts))
	}
	for _, c := range st.Items {
		if c.Drawn != "true" || c.Pixels == 0 {
			problems = append(problems, fmt.Sprintf("chart %q not drawn (%s%s, %d painted pixels)", c.ID, c.Drawn, c.Error, c.Pixels))
		}
	}
	if *screenshotPath != "" && target != "" {
		if err := b.screenshot(ctx, session, *screenshotPath); err != nil {
			return st, problems, err
		}
	}
	return st, problems, nil
}

// screenshot writes a PNG of the whole page, 1280 CSS pixels wide.
func (b *browser) screenshot(ctx context.Context, session, path string) error {
	var m struct {
		Content struct{ Height float64 } `json:"cssContentSize"`
	}
	if err := b.call(ctx, session, "Page.getLayoutMetrics", nil, &m); err != nil {
		return err
	}
	size := map[string]any{"width": 1280, "height": int(math.Ceil(m.Content.Height)), "deviceScaleFactor": 1, "mobile": false}
	if err := b.call(ctx, session, "Emulation.setDeviceMetricsOverride", size, nil); err != nil {
		return err
	}
	var painted bool
	if err := b.eval(ctx, session, "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", &painted); err != nil {
		return err
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	if err := b.call(ctx, session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return err
	}
	return os.WriteFile(path, shot.Data, 0o644)
}

func fileURL(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: abs}).String()
}

// TestReportInChromium opens report.html, written from the golden fixture,
// in headless Chromium and shows from the browser's own request log (the
// DevTools protocol's Network events for the page and anything it starts)
// that nothing but the file itself was loaded, and that every chart was
// drawn: each canvas has painted pixels, as the page reads them back.
func TestReportInChromium(t *testing.T) {
	bin := os.Getenv("GAUNTLET_CHROMIUM")
	if bin == "" {
		bin = requireTool(t, "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	path, wantCharts := *reportPath, []string(nil)
	s := goldenSummary(t)
	if path == "" {
		path = filepath.Join(t.TempDir(), HTMLFile)
		if err := WriteFileAtomic(path, func(w io.Writer) error { return WriteHTML(w, s) }); err != nil {
			t.Fatal(err)
		}
		wantCharts = newHTMLCharts(s.redacted()).drawn()
	}
	b := startBrowser(t, bin)

	t.Run("report", func(t *testing.T) {
		st, problems, err := b.visit(ctx, fileURL(t, path))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
		var ids []string
		for _, c := range st.Items {
			ids = append(ids, c.ID)
		}
		if wantCharts != nil && !reflect.DeepEqual(ids, wantCharts) {
			t.Errorf("charts on the page = %q, want %q", ids, wantCharts)
		}
		if *reportPath == "" {
			for _, want := range []string{"FAIL", "ice.success_rate >= 0.99", "actual 0.833333", "media.one_way_audio == 0", "rooms.leaks == 0", "attack srtp-replay"} {
				if !strings.Contains(st.Banner, want) {
					t.Errorf("the verdict banner does not show %q:\n%s", want, st.Banner)
				}
			}
		}
		t.Logf("%d charts drawn; painted pixels: %v", st.Drawn, st.Items)
	})

	// The check must be able to fail: a page that loads an image from a
	// loopback server, throws, and leaves a chart blank is caught on every
	// count, and the server confirms the request the log reported.
	t.Run("the check can fail", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		bad := filepath.Join(t.TempDir(), "bad.html")
		page := `<!DOCTYPE html><html><body><img src="` + srv.URL + `/pixel.png">` +
			`<canvas data-chart="blank" width="10" height="10"></canvas>` +
			`<script>document.body.dataset.charts = "1"; throw new Error("boom")</script></body></html>`
		if err := os.WriteFile(bad, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		saved := *screenshotPath
		*screenshotPath = ""
		defer func() { *screenshotPath = saved }()
		_, problems, err := b.visit(ctx, fileURL(t, bad))
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(problems, "\n")
		for _, want := range []string{"the page loaded " + srv.URL + "/pixel.png", "script error", `chart "blank" not drawn`} {
			if !strings.Contains(all, want) {
				t.Errorf("problems lack %q:\n%s", want, all)
			}
		}
		if hits.Load() == 0 {
			t.Error("the loopback server saw no request, so the log's report of one is unconfirmed")
		}
	})
}
