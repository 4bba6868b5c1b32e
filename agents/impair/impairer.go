package impair

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Config is one agent's (or one population's) impairment.
type Config struct {
	In  Schedule // datagrams the agent receives
	Out Schedule // datagrams the agent sends
	// Seed makes every random choice repeatable: each wrapped socket draws
	// from its own streams derived from Seed and the order it was wrapped in.
	Seed uint64
	// Match picks the datagrams to impair (and log); the rest pass
	// untouched. Nil impairs every datagram; IsRTP and IsMedia leave
	// signaling, STUN and DTLS alone.
	Match func(b []byte) bool
	// Origin is time zero of the schedules; zero means when New is called.
	Origin time.Time
	// Log, if set, receives the ground truth (tests only).
	Log *Log
	// LogUnimpaired also logs the matching datagrams of a direction whose
	// schedule never impairs (they still pass straight through), so a
	// test knows when each left or arrived on both sides.
	LogUnimpaired bool
	Logger        *slog.Logger
}

// Impairer wraps an agent's sockets; give Wrap to socket.WithPacketWrapper.
// It holds no goroutine itself: each wrapped conn owns what it starts and
// stops it on Close.
type Impairer struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	conns int
}

// New checks cfg and returns an Impairer.
func New(cfg Config) (*Impairer, error) {
	if err := cfg.In.Validate(); err != nil {
		return nil, fmt.Errorf("impair: in: %w", err)
	}
	if err := cfg.Out.Validate(); err != nil {
		return nil, fmt.Errorf("impair: out: %w", err)
	}
	if cfg.Origin.IsZero() {
		cfg.Origin = time.Now()
	}
	if cfg.Match == nil {
		cfg.Match = func([]byte) bool { return true }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Impairer{cfg: cfg, log: log}, nil
}

// Wrap puts c behind the impairment. A connected socket (one with a remote
// address that reads and writes with Read and Write) keeps those methods.
// A direction whose schedule never impairs passes straight through.
func (im *Impairer) Wrap(c net.PacketConn) net.PacketConn {
	im.mu.Lock()
	id := im.conns
	im.conns++
	im.mu.Unlock()
	ic := &conn{
		inner:  c,
		im:     im,
		id:     id,
		inPipe: newPipe(im.cfg.Seed, uint64(2*id)),
		out:    outQueue{pipe: newPipe(im.cfg.Seed, uint64(2*id+1))},
		stop:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	ic.out.send = func(b []byte, addr net.Addr) error {
		_, err := c.WriteTo(b, addr)
		return err
	}
	type connected interface {
		io.ReadWriter
		RemoteAddr() net.Addr
	}
	if cc, ok := c.(connected); ok && cc.RemoteAddr() != nil {
		ic.remote = cc.RemoteAddr()
		ic.out.send = func(b []byte, _ net.Addr) error {
			_, err := cc.Write(b)
			return err
		}
		return &connectedConn{ic}
	}
	return ic
}

func (im *Impairer) elapsed(now time.Time) time.Duration { return now.Sub(im.cfg.Origin) }
