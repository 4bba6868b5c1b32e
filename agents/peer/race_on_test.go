//go:build race

package peer_test

// concurrentCalls bounds the calls TestNATPairings runs at once: the race
// detector slows ICE checks enough that more would starve them.
const concurrentCalls = 2
