package gateway

import "sync"

// routines counts goroutines (or handler invocations) that belong to one
// owner and lets the owner refuse new ones and wait for the running ones.
// Unlike a bare sync.WaitGroup it is safe to start work while another
// goroutine is closing: enter simply fails once close has been called.
type routines struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed once closed && n == 0
}

func newRoutines() *routines {
	return &routines{idle: make(chan struct{})}
}

// enter registers one unit of work; it reports false after close.
func (r *routines) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.n++
	return true
}

// exit ends one unit of work started by a successful enter.
func (r *routines) exit() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.closed && r.n == 0 {
		close(r.idle)
	}
}

// Go runs f in a new goroutine owned by r; it reports false, without running
// f, after close.
func (r *routines) Go(f func()) bool {
	if !r.enter() {
		return false
	}
	go func() {
		defer r.exit()
		f()
	}()
	return true
}

// close refuses new work and returns a channel closed once all running work
// has finished. It may be called more than once.
func (r *routines) close() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		if r.n == 0 {
			close(r.idle)
		}
	}
	return r.idle
}
