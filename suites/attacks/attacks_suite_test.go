// Package attacks_test proves every attack both ways, the verdict matrix
// of issue #8: against the hardened reference each attack must say
// resisted, and against the reference with the matching defence weakened
// it must say VULNERABLE. The verdicts come from what the target did on
// the wire; the suite only chooses the reference's configuration.
//
//	go test ./suites/attacks
//	ginkgo --label-filter=dtls ./suites/attacks
package attacks_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAttacks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Attack verdicts")
}
