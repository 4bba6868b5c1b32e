package reports

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"strings"
)

// The page's style, its chart script and the charting library are
// embedded and inlined, so report.html is one file that fetches nothing.
var (
	//go:embed templates/report.css
	reportCSS string
	//go:embed templates/charts.js
	chartsJS string
	// chartJS is Chart.js, vendored unmodified (templates/vendor/README.md).
	//go:embed templates/vendor/chart.umd.min.js
	chartJS string
)

// The vendored Chart.js, as templates/vendor/README.md records it; a test
// checks the embedded file against both.
const (
	chartJSVersion = "4.6.1"
	chartJSSHA256  = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
)

// pageCSP is report.html's Content-Security-Policy: nothing may load from
// anywhere (default-src 'none'), and only the page's own style sheet and
// its two scripts, pinned by hash, may run. A report whose text somehow
// carried markup could neither run script nor fetch anything.
var pageCSP = contentSecurityPolicy(reportCSS, chartJS, chartsJS)

func contentSecurityPolicy(css string, scripts ...string) string {
	hashes := make([]string, len(scripts))
	for i, s := range scripts {
		hashes[i] = cspHash(s)
	}
	return "default-src 'none'; script-src " + strings.Join(hashes, " ") +
		"; style-src " + cspHash(css) + "; base-uri 'none'; form-action 'none'"
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
