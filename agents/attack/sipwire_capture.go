package attack

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// tcpSegment is the most payload one recorded TCP segment carries.
const tcpSegment = 1400

// streamRecord writes the SIP bytes of one stream connection to a capture
// as TCP segments (sequence numbers counted from 1 each way; no handshake
// is recorded). Over TLS and WebSocket the bytes are the SIP messages
// inside, as the attack wrote and read them. A nil *streamRecord records
// nothing.
type streamRecord struct {
	c             *Capture
	local, remote netip.AddrPort
	sent, got     uint32 // next sequence number out and in
}

// stream returns a record of the connection from local to remote (nil for
// a nil capture).
func (c *Capture) stream(local, remote netip.AddrPort) *streamRecord {
	if c == nil {
		return nil
	}
	return &streamRecord{c: c, local: local, remote: remote, sent: 1, got: 1}
}

// out records bytes the attack wrote.
func (r *streamRecord) out(b []byte) {
	if r != nil {
		r.sent = r.segments(r.local, r.remote, r.sent, r.got, b)
	}
}

// in records bytes the attack read.
func (r *streamRecord) in(b []byte) {
	if r != nil {
		r.got = r.segments(r.remote, r.local, r.got, r.sent, b)
	}
}

// segments writes b from src to dst in segments from sequence number seq,
// and returns the next one.
func (r *streamRecord) segments(src, dst netip.AddrPort, seq, ack uint32, b []byte) uint32 {
	now := time.Now()
	for len(b) > 0 {
		n := min(len(b), tcpSegment)
		r.c.writePacket(now, tcpPacket(src, dst, seq, ack, b[:n]))
		seq += uint32(n)
		b = b[n:]
	}
	return seq
}

// tcpPacket builds an IP packet carrying payload in a TCP segment (PSH,
// ACK) from src to dst; checksums left zero, as udpPacket leaves them.
func tcpPacket(src, dst netip.AddrPort, seq, ack uint32, payload []byte) []byte {
	var tcp [20]byte
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4                            // data offset: 5 words
	tcp[13] = 0x18                              // PSH, ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535) // window
	return ipPacket(6, src.Addr(), dst.Addr(), tcp[:], payload)
}
