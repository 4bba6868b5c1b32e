package gateway

import "testing"

// The plan records a hit per fault per call hit, fills in the callee's
// Call-ID of that call only, and keeps the latest maxFaultHits hits.
func TestFaultPlanRecordsHits(t *testing.T) {
	p := &faultPlan{faults: []Fault{
		{Name: FaultDropMedia, Direction: DirCallerToCallee, Share: 1},
		{Name: FaultDropMedia, Direction: DirCalleeToCaller, Share: 0},
	}}
	n0, f0 := p.forCall("a", "web1000", "desk2000")
	n1, f1 := p.forCall("a", "web1001", "desk2001") // a Call-ID used again later
	if n0 != 0 || n1 != 1 || len(f0) != 1 || len(f1) != 1 || f0[0].Direction != DirCallerToCallee {
		t.Fatalf("forCall: %d %+v, %d %+v", n0, f0, n1, f1)
	}
	p.answered(n1, "b1")
	want := []FaultHit{
		{Call: 0, Fault: FaultDropMedia, Direction: DirCallerToCallee, Caller: "web1000", Callee: "desk2000", CallerCallID: "a"},
		{Call: 1, Fault: FaultDropMedia, Direction: DirCallerToCallee, Caller: "web1001", Callee: "desk2001", CallerCallID: "a", CalleeCallID: "b1"},
	}
	got := p.hitList()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("hits = %+v, want %+v", got, want)
	}
	for range maxFaultHits {
		p.forCall("c", "web1002", "desk2002")
	}
	got = p.hitList()
	if len(got) != maxFaultHits || got[0].Call != 2 || got[len(got)-1].Call != maxFaultHits+1 {
		t.Errorf("after %d more calls: %d hits, calls %d to %d", maxFaultHits, len(got), got[0].Call, got[len(got)-1].Call)
	}
	if none := (&faultPlan{}); len(none.hitList()) != 0 {
		t.Error("a plan without faults lists hits")
	}
}
