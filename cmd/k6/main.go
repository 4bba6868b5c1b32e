// Command k6 is k6 with Gauntlet's extension built in (k6/x/gauntlet), for
// load that one machine cannot give: run it on several machines against
// one deployment, each placing real DTLS-SRTP calls from its own virtual
// users and reporting k6 metrics (see xgauntlet).
//
//	go build -o k6-gauntlet ./cmd/k6
//	./k6-gauntlet run examples/k6/calls.js
package main

import (
	k6cmd "go.k6.io/k6/cmd"

	_ "github.com/gauntlet-rtc/gauntlet/cmd/k6/xgauntlet" // registers k6/x/gauntlet
)

func main() { k6cmd.Execute() }
