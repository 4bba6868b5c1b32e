// Package xgauntlet is Gauntlet's k6 extension, the JavaScript module
// k6/x/gauntlet: each k6 VU becomes a pair of Gauntlet virtual users (a
// browser-like agent and a desk phone, on their own loopback or host
// source addresses behind the target file's guard) that places real
// DTLS-SRTP calls through the target, and every call is reported as k6
// metrics (gauntlet_calls, gauntlet_setup_ms, gauntlet_mos, ...) that k6's
// thresholds, summaries and outputs take as any other.
//
//	import gauntlet from "k6/x/gauntlet";
//	const target = gauntlet.open("target.yaml");   // init context: the target file
//	export default function () {
//	  const r = target.call({ hold: "3s" });        // one call from this VU's browser to its phone
//	  if (r.outcome !== "ok") console.log(r.cause, r.error);
//	}
//	export function teardown() { target.close(); }
//
// VU n of the test takes user n-1 of the target's webrtc and sip users
// entries. k6 numbers VUs across the whole test when it is split into
// execution segments (k6-operator does that), so the machines of one run
// never share users; machines started as separate tests are kept apart
// with gauntlet.open("target.yaml", {offset: 1000}): user 1000+n-1.
package xgauntlet

import (
	"fmt"
	"sync"

	"go.k6.io/k6/js/modules"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

func init() { modules.Register("k6/x/gauntlet", newRoot()) }

// root is the module, once per k6 process: the targets opened, shared by
// every VU (a target's clock, guard and agents serve them all).
type root struct {
	mu      sync.Mutex
	targets map[string]*Target
}

func newRoot() *root { return &root{targets: map[string]*Target{}} }

// NewModuleInstance is called once per VU, in its init context.
func (r *root) NewModuleInstance(vu modules.VU) modules.Instance {
	return &instance{root: r, vu: vu, metrics: registerMetrics(vu)}
}

// instance is the module as one VU sees it.
type instance struct {
	root    *root
	vu      modules.VU
	metrics *callMetrics
}

// Exports are open, as the default export and by name.
func (i *instance) Exports() modules.Exports {
	api := map[string]any{"open": i.open}
	return modules.Exports{Default: api, Named: api}
}

// OpenOptions are open's options.
type OpenOptions struct {
	// Offset is added to every VU's user index, so that several k6
	// processes (machines) against one deployment take different users:
	// VU n takes user offset+n-1 of the target's webrtc and sip entries.
	Offset int `js:"offset"`
}

// open loads a target file (relative to the script, in the init context)
// and returns this VU's handle on it. Every VU opening the same file
// shares one target.
func (i *instance) open(path string, opts *OpenOptions) (*Handle, error) {
	if opts == nil {
		opts = &OpenOptions{}
	}
	if opts.Offset < 0 {
		return nil, fmt.Errorf("gauntlet.open: offset %d is negative", opts.Offset)
	}
	env := i.vu.InitEnv()
	if env == nil {
		return nil, fmt.Errorf("gauntlet.open must be called in the init context (outside functions)")
	}
	abs := env.GetAbsFilePath(path)
	i.root.mu.Lock()
	defer i.root.mu.Unlock()
	t, ok := i.root.targets[abs]
	if !ok {
		loaded, err := scenarios.LoadTarget(abs)
		if err != nil {
			return nil, err
		}
		t = newTarget(loaded)
		i.root.targets[abs] = t
	}
	return &Handle{t: t, vu: i.vu, metrics: i.metrics, offset: opts.Offset}, nil
}
