package turn

import "sync"

// allocTable mirrors pion's allocations from its events: which 5-tuple has
// one and for whom, and how many each user holds, for 437/441 answers and
// the per-user quota. A quota slot is reserved when pion asks (before it
// creates the allocation), confirmed by the creation event, and given back
// by settle if the creation failed.
type allocTable struct {
	max       int
	unlimited bool

	mu      sync.Mutex
	byTuple map[string]string // tuple key -> user id
	perUser map[string]int    // live and reserved allocations
	pending map[string]string // client address -> user id of an unconfirmed reservation
}

func newAllocTable(max int, unlimited bool) *allocTable {
	return &allocTable{
		max:       max,
		unlimited: unlimited,
		byTuple:   map[string]string{},
		perUser:   map[string]int{},
		pending:   map[string]string{},
	}
}

func (t *allocTable) owner(tuple string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.byTuple[tuple]
	return u, ok
}

// reserve takes a quota slot for an allocation of user's from the client
// address src (pion's quota hook knows no more), or reports that the quota
// is used up.
func (t *allocTable) reserve(src, user string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.unlimited && t.perUser[user] >= t.max {
		return false
	}
	if prev, ok := t.pending[src]; ok {
		t.release(prev)
	}
	t.perUser[user]++
	t.pending[src] = user
	return true
}

// created records an allocation (confirming its reservation, if any).
func (t *allocTable) created(src, tuple, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.pending[src]; ok {
		delete(t.pending, src)
	} else {
		t.perUser[user]++
	}
	t.byTuple[tuple] = user
}

// deleted forgets an allocation and frees its quota slot.
func (t *allocTable) deleted(tuple string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	user, ok := t.byTuple[tuple]
	if !ok {
		return
	}
	delete(t.byTuple, tuple)
	t.release(user)
}

// settle gives back a reservation from src that no allocation confirmed.
func (t *allocTable) settle(src string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if user, ok := t.pending[src]; ok {
		delete(t.pending, src)
		t.release(user)
	}
}

func (t *allocTable) release(user string) {
	if t.perUser[user]--; t.perUser[user] <= 0 {
		delete(t.perUser, user)
	}
}

func (t *allocTable) active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byTuple)
}
