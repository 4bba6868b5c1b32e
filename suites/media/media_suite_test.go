// Package media_test checks the harness's own media figures against ground
// truth: real calls through the reference gateway, with the impairment
// layer (agents/impair) on the agents' sockets keeping a log of every
// packet it dropped or delayed, and the figures the receivers measured
// compared with what that log says really happened.
//
//	go test ./suites/media
//	ginkgo --label-filter=groundtruth ./suites/media
//
// The figures never read the log: it is the test's alone. The suite needs
// the reference in-process (its latency is negligible next to what is
// injected), so against GAUNTLET_TARGET it skips.
package media_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var fx *fixture.Fixture

func TestMedia(t *testing.T) {
	fixture.ExclusiveTiming(t) // its figures are held to ground truth in milliseconds
	RegisterFailHandler(Fail)
	RunSpecs(t, "Media measurement against ground truth")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	fx, err = fixture.Start(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
}, NodeTimeout(30*time.Second))
