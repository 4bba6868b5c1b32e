// Package gateway_test is the conformance suite for a WebRTC edge: SIP over
// WebSocket toward browsers, DTLS-SRTP media, plain SIP/RTP toward phones.
// It runs against the target file named by GAUNTLET_TARGET, or else against
// the reference gateway started in-process:
//
//	go test ./suites/gateway
//	ginkgo --label-filter=rfc7118 ./suites/gateway
//	GAUNTLET_TARGET=staging.yaml go test ./suites/gateway
package gateway_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var fx *fixture.Fixture

func TestGateway(t *testing.T) {
	fixture.ExclusiveTiming(t) // many real calls: keep other heavy tests off the machine meanwhile
	RegisterFailHandler(Fail)
	RunSpecs(t, "Gateway conformance")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	fx, err = fixture.Start(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
}, NodeTimeout(30*time.Second))

// within bounds a spec's network work.
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
