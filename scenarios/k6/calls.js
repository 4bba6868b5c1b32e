// Gauntlet calls from k6, for load one machine cannot give: build the k6
// binary with the extension (go build -o k6-gauntlet ./cmd/k6), point it at
// a target file, and run it:
//
//   TARGET=target.yaml ./k6-gauntlet run scenarios/k6/calls.js
//
// Spread over machines as one test (k6-operator's TestRun, or k6 run
// --execution-segment on each machine), k6 numbers the VUs across the
// test and no two machines log in as the same users. Machines started as
// separate tests need an OFFSET each instead:
//
//   OFFSET=0   ./k6-gauntlet run scenarios/k6/calls.js
//   OFFSET=500 ./k6-gauntlet run scenarios/k6/calls.js   (on the second machine)
//
// Each VU is a browser-like agent and a desk phone (users OFFSET+n-1 of
// the target's webrtc and sip entries, n the VU's number in the test)
// placing real DTLS-SRTP calls through the target; every call feeds the
// gauntlet_* metrics below.
import gauntlet from "k6/x/gauntlet";

const target = gauntlet.open(__ENV.TARGET || "target.yaml", { offset: Number(__ENV.OFFSET || 0) });

export const options = {
  scenarios: {
    calls: { executor: "constant-vus", vus: 20, duration: "1m" },
  },
  thresholds: {
    gauntlet_call_failed: ["rate<0.01"],
    gauntlet_ice_failed: ["rate<0.01"],
    gauntlet_one_way_audio: ["rate==0"],
    gauntlet_mos: ["p(5)>3.8"],
    gauntlet_setup_ms: ["p(95)<1500"],
  },
};

export default function () {
  const r = target.call({ hold: "10s" });
  if (r.outcome !== "ok") {
    console.warn(`${r.id}: ${r.cause}: ${r.error}`);
  }
}

export function teardown() {
  target.close();
}
