package turnload

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
)

// datagramWire is a UDP socket that talks to one server.
type datagramWire struct {
	pc     net.PacketConn
	server net.Addr
}

func (w *datagramWire) send(b []byte) error {
	_, err := w.pc.WriteTo(b, w.server)
	return err
}

// recv returns the next datagram from the server (others are ignored).
func (w *datagramWire) recv(buf []byte) ([]byte, error) {
	for {
		n, from, err := w.pc.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		if sameAddr(from, w.server) {
			return buf[:n], nil
		}
	}
}

func sameAddr(a, b net.Addr) bool {
	ua, ok1 := a.(*net.UDPAddr)
	ub, ok2 := b.(*net.UDPAddr)
	if ok1 && ok2 {
		return ua.Port == ub.Port && ua.IP.Equal(ub.IP)
	}
	return a.String() == b.String()
}

func (w *datagramWire) local() net.Addr { return w.pc.LocalAddr() }
func (w *datagramWire) close() error    { return w.pc.Close() }

// streamWire is a TCP or TLS connection carrying STUN messages and
// ChannelData padded to 4 bytes (RFC 8656 10.1, 12.5).
type streamWire struct {
	conn net.Conn
	wmu  sync.Mutex
	in   []byte
}

var errFraming = errors.New("turnload: stream is not STUN or ChannelData")

func (w *streamWire) send(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_, err := w.conn.Write(b)
	return err
}

// recv returns the next frame. buf is used as read space; the frame may
// live in the wire's own buffer until the next call.
func (w *streamWire) recv(buf []byte) ([]byte, error) {
	for {
		if len(w.in) >= 4 {
			l := int(binary.BigEndian.Uint16(w.in[2:4]))
			var size int
			switch w.in[0] & 0xC0 {
			case 0x00:
				size = 20 + l
			case 0x40:
				size = 4 + (l+3)&^3
			default:
				return nil, errFraming
			}
			if len(w.in) >= size {
				frame := w.in[:size:size]
				w.in = w.in[size:]
				return frame, nil
			}
		}
		n, err := w.conn.Read(buf)
		w.in = append(w.in, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, net.ErrClosed
			}
			return nil, err
		}
	}
}

func (w *streamWire) local() net.Addr { return w.conn.LocalAddr() }
func (w *streamWire) close() error    { return w.conn.Close() }
