package xgauntlet

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.k6.io/k6/js/modulestest"
	"go.k6.io/k6/lib"
	"go.k6.io/k6/metrics"

	"github.com/gauntlet-rtc/gauntlet/reference"
)

// startReference runs the gateway alone and writes its target file.
func startReference(t *testing.T) string {
	t.Helper()
	cfg := reference.DefaultConfig()
	cfg.TURN, cfg.Rooms = nil, nil
	ref, err := reference.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ref.Close() })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "target.yaml"), ref.TargetYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A VU opens the target in its init context and places a real call
// through the reference from its script: the call's record comes back to
// JavaScript and its figures reach k6 as samples of the gauntlet metrics.
func TestCallFromAScript(t *testing.T) {
	dir := startReference(t)
	rt := modulestest.NewRuntime(t)
	rt.VU.InitEnvField.CWD = &url.URL{Scheme: "file", Path: dir + "/"}
	inst, ok := newRoot().NewModuleInstance(rt.VU).(*instance)
	if !ok {
		t.Fatal("not an instance")
	}
	api, ok := inst.Exports().Default.(map[string]any)
	if !ok {
		t.Fatal("default export is not the API")
	}
	if err := rt.VU.Runtime().Set("gauntlet", api); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.VU.Runtime().RunString(`var target = gauntlet.open("target.yaml", {offset: 10});`); err != nil {
		t.Fatalf("open in the init context: %v", err)
	}
	if _, err := rt.VU.Runtime().RunString(`target.call({hold: "300ms"})`); err == nil {
		t.Fatal("a call in the init context was placed")
	}

	samples := make(chan metrics.SampleContainer, 64)
	registry := metrics.NewRegistry()
	// VU 1 of this instance, VU 3 of the test (a second execution segment).
	rt.MoveToVUContext(&lib.State{VUID: 1, VUIDGlobal: 3, Samples: samples, Tags: lib.NewVUStateTags(registry.RootTagSet())})
	v, err := rt.VU.Runtime().RunString(`var r = target.call({hold: "500ms"}); [r.outcome, r.from, r.media.length].join(" ")`)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := v.String(); got != "ok web1012 2" {
		t.Fatalf("record: %q, want an ok call from web1012 (offset 10, VU 3 of the test) with two directions", got)
	}
	if _, err := rt.VU.Runtime().RunString(`gauntlet.open("target.yaml")`); err == nil {
		t.Fatal("open outside the init context worked")
	}

	got := map[string]float64{}
	for len(samples) > 0 {
		for _, s := range (<-samples).GetSamples() {
			got[s.Metric.Name] = s.Value
		}
	}
	if got["gauntlet_calls"] != 1 || got["gauntlet_call_failed"] != 0 || got["gauntlet_mos"] < 4 || got["gauntlet_setup_ms"] <= 0 {
		t.Fatalf("samples %v, want one ok call with MOS > 4 and a setup time", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := inst.root.targets[filepath.Join(dir, "target.yaml")]
	if h == nil {
		t.Fatal("the target is not shared at the module")
	}
	if err := h.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := rt.VU.Runtime().RunString(`target.call({hold: "300ms"})`); err == nil {
		t.Fatal("a call after close was placed")
	}
}
