package gateway_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

var update = flag.Bool("update", false, "rewrite testdata/sipp/marked-pcmu.pcap")

// The recording SIPp plays: 100 packets (2 s) of the harness's own marked
// PCMU, one stream tag, so that what arrives can be checked byte for byte.
const (
	recordingPath    = "testdata/sipp/marked-pcmu.pcap"
	recordingPackets = 100
	recordingTag     = 0x6761756e746c6574 // "gauntlet"
)

// markedPCAP renders the recording as a libpcap file (Ethernet, IPv4, UDP,
// RTP), the form SIPp's play_pcap_audio reads; SIPp keeps the RTP headers
// and payloads and sends them to the negotiated address, paced by the
// capture times.
func markedPCAP() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4) // microsecond timestamps
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	b.Write(hdr)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recordingPackets {
		p := rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(1000 + i), Timestamp: uint32(160 * i),
				SSRC: 0x5eed5eed, Marker: i == 0},
			Payload: media.AppendPayload(nil, media.PCMU, media.Mark{Tag: recordingTag, Counter: uint32(i), Sent: start}),
		}
		raw, err := p.Marshal()
		if err != nil {
			panic(err)
		}
		frame := ethernetIPv4UDP(raw)
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at.Unix()))
		le.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	return b.Bytes()
}

// ethernetIPv4UDP wraps payload from 10.0.0.1:16000 to 10.0.0.2:16002.
func ethernetIPv4UDP(payload []byte) []byte {
	be := binary.BigEndian
	eth := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	be.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := make([]byte, 8)
	be.PutUint16(udp[0:], 16000)
	be.PutUint16(udp[2:], 16002)
	be.PutUint16(udp[4:], uint16(8+len(payload)))
	return append(append(append(eth, ip...), udp...), payload...)
}

// The recording in testdata is what markedPCAP makes (go test -update
// rewrites it).
func TestMarkedRecording(t *testing.T) {
	want := markedPCAP()
	path := filepath.FromSlash(recordingPath)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what markedPCAP makes: run go test -run TestMarkedRecording -update", path)
	}
}
