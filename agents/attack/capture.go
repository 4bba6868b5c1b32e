package attack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// Capture writes the UDP datagrams an attack sends and receives to a pcap
// file (link type RAW: each record an IPv4 or IPv6 packet whose headers
// are rebuilt from the socket's addresses), for the evidence. A nil
// *Capture records nothing.
type Capture struct {
	path string
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	n    int
	err  error
}

const (
	pcapMagic   = 0xa1b23c4d // nanosecond timestamps
	linkTypeRaw = 101
	snapLen     = 65535
)

// NewCapture returns a capture named after the attack in env's
// CaptureDir, or nil when the env keeps no captures.
func (e *Env) NewCapture(attack string) (*Capture, error) {
	if e.CaptureDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(e.CaptureDir, 0o755); err != nil {
		return nil, fmt.Errorf("attack: capture: %w", err)
	}
	return OpenCapture(filepath.Join(e.CaptureDir, attack+".pcap"))
}

// OpenCapture creates a pcap file at path.
func OpenCapture(path string) (*Capture, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("attack: capture: %w", err)
	}
	c := &Capture{path: path, f: f, w: bufio.NewWriter(f)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snapLen)
	binary.LittleEndian.PutUint32(h[20:], linkTypeRaw)
	if _, err := c.w.Write(h[:]); err != nil {
		return nil, errors.Join(fmt.Errorf("attack: capture: %w", err), f.Close())
	}
	return c, nil
}

// Path is the file's path ("" for a nil capture).
func (c *Capture) Path() string {
	if c == nil {
		return ""
	}
	return c.path
}

// Packets is how many datagrams were written.
func (c *Capture) Packets() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Option returns the socket option that shows every datagram of a socket
// layer to the capture (none for a nil capture).
func (c *Capture) Option() socket.Option {
	if c == nil {
		return func(*socket.Net) {}
	}
	return socket.WithObserver(c.Observe)
}

// Observe records one datagram; it is a socket.ObserverFunc.
func (c *Capture) Observe(dir socket.Dir, local, remote net.Addr, b []byte) {
	if c == nil {
		return
	}
	src, dst := addrPort(local), addrPort(remote)
	if dir == socket.In {
		src, dst = dst, src
	}
	c.Write(time.Now(), src, dst, b)
}

// Write records a UDP datagram from src to dst at t.
func (c *Capture) Write(t time.Time, src, dst netip.AddrPort, payload []byte) {
	if c == nil {
		return
	}
	c.writePacket(t, udpPacket(src, dst, payload))
}

// writePacket records one IP packet taken at t.
func (c *Capture) writePacket(t time.Time, pkt []byte) {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(h[4:], uint32(t.Nanosecond()))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(pkt)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(pkt)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.f == nil {
		return
	}
	if _, err := c.w.Write(h[:]); err != nil {
		c.err = err
		return
	}
	if _, err := c.w.Write(pkt); err != nil {
		c.err = err
		return
	}
	c.n++
}

// Close flushes and closes the file; it returns the first write error.
func (c *Capture) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return c.err
	}
	err := errors.Join(c.err, c.w.Flush(), c.f.Close())
	c.f = nil
	if err != nil {
		return fmt.Errorf("attack: capture %s: %w", c.path, err)
	}
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort()
	case *net.TCPAddr:
		return v.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// udpPacket builds an IP packet carrying payload in UDP from src to dst
// (IPv6 when either address is; checksums left zero, which readers accept
// for a capture).
func udpPacket(src, dst netip.AddrPort, payload []byte) []byte {
	var udp [8]byte
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	return ipPacket(17, src.Addr(), dst.Addr(), udp[:], payload)
}

// ipPacket builds an IP packet of protocol proto from src to dst carrying
// the transport header and payload: IPv4 when both addresses are, else
// IPv6.
func ipPacket(proto byte, src, dst netip.Addr, header, payload []byte) []byte {
	l4 := len(header) + len(payload)
	s, d := src.Unmap(), dst.Unmap()
	var ip []byte
	if s.Is4() && d.Is4() {
		ip = make([]byte, 20, 20+l4)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4))
		ip[8], ip[9] = 64, proto
		s4, d4 := s.As4(), d.As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		binary.BigEndian.PutUint16(ip[10:], ipv4Checksum(ip))
	} else {
		ip = make([]byte, 40, 40+l4)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4))
		ip[6], ip[7] = proto, 64
		s16, d16 := s.As16(), d.As16()
		copy(ip[8:], s16[:])
		copy(ip[24:], d16[:])
	}
	return append(append(ip, header...), payload...)
}

func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
