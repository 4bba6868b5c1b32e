package attack

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCaptureWritesReadablePcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	c, err := OpenCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddrPort("127.0.0.2:5000"), netip.MustParseAddrPort("127.0.0.3:3478")
	c.Write(time.Unix(100, 5), src, dst, []byte("abc"))
	c.Write(time.Unix(101, 0), netip.MustParseAddrPort("[::1]:1"), netip.MustParseAddrPort("[::1]:2"), []byte("de"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != pcapMagic || binary.LittleEndian.Uint32(b[20:]) != linkTypeRaw {
		t.Fatalf("header % x", b[:24])
	}
	rec := b[24:]
	if n := binary.LittleEndian.Uint32(rec[8:]); n != 20+8+3 {
		t.Fatalf("first record %d bytes, want 31", n)
	}
	ip := rec[16:]
	if ip[0] != 0x45 || ip[9] != 17 || ipv4Checksum(ip[:20]) != 0 {
		t.Fatalf("IPv4 header % x", ip[:20])
	}
	if netip.AddrFrom4([4]byte(ip[12:16])) != src.Addr() || binary.BigEndian.Uint16(ip[22:]) != dst.Port() || string(ip[28:31]) != "abc" {
		t.Fatalf("packet % x", ip[:31])
	}
	next := rec[16+31:]
	if n := binary.LittleEndian.Uint32(next[8:]); n != 40+8+2 || next[16]>>4 != 6 {
		t.Fatalf("second record: %d bytes, version %d", n, next[16]>>4)
	}
	if c.Packets() != 2 {
		t.Fatalf("Packets() = %d", c.Packets())
	}
	var nilCapture *Capture
	nilCapture.Write(time.Now(), src, dst, nil)
	if nilCapture.Close() != nil || nilCapture.Path() != "" {
		t.Fatal("a nil capture must do nothing")
	}
}
