// Package turn_test is the conformance suite for STUN (RFC 8489, RFC 5769
// vectors) and TURN (RFC 8656, TURN REST credentials) servers. It runs
// every spec against the reference relay started in-process and against
// coturn (Debian package coturn, binary turnserver), which the suite starts
// itself on loopback-only ports with a generated configuration and stops at
// the end. Without turnserver the coturn specs skip, or fail under
// GAUNTLET_INTEROP=require.
//
//	go test ./suites/turn
//	ginkgo --label-filter=rfc8656 ./suites/turn
//
// Denied-peer specs send requests naming forbidden peers to the server
// only; no datagram is ever sent toward those addresses.
package turn_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

func TestTURN(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "STUN/TURN conformance")
}

// targets are the servers every spec runs against, in order.
var targets = []string{"reference", "coturn"}

var (
	servers = map[string]*server{}
	missing = map[string]string{} // why a server is not running
)

func suiteLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var _ = BeforeSuite(func(ctx SpecContext) {
	ref, err := startReference(ctx)
	Expect(err).NotTo(HaveOccurred())
	servers["reference"] = ref
	DeferCleanup(ref.stop)

	bin, err := fixture.LookTool("turnserver", "coturn")
	if err != nil {
		if fixture.InteropRequired() {
			Fail(err.Error())
		}
		missing["coturn"] = err.Error()
		return
	}
	ct, err := startCoturn(ctx, bin)
	Expect(err).NotTo(HaveOccurred())
	servers["coturn"] = ct
	DeferCleanup(ct.stop)
}, NodeTimeout(30*time.Second))

// forEachServer declares body's specs once per target, each under a
// Describe named for the server; current returns the server of the
// running spec.
func forEachServer(body func(current func() *server)) {
	for _, name := range targets {
		Describe(name, func() {
			var s *server
			BeforeEach(func() {
				s = servers[name]
				if s == nil {
					Skip(missing[name])
				}
			})
			body(func() *server { return s })
		})
	}
}

// within bounds a spec's network work.
func within(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	DeferCleanup(cancel)
	return c
}
