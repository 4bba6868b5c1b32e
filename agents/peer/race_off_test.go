//go:build !race

package peer_test

// concurrentCalls bounds the calls TestNATPairings runs at once.
const concurrentCalls = 8
