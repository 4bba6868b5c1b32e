package plainrtp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

func TestTapReadsReplaysTheLegDrops(t *testing.T) {
	for _, suite := range sdesSuites {
		t.Run(suite.name, func(t *testing.T) {
			theirs, err := newCrypto(1, suite)
			if err != nil {
				t.Fatal(err)
			}
			other, err := newCrypto(1, suite)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := txContext(theirs)
			if err != nil {
				t.Fatal(err)
			}
			rx, err := rxContext(theirs) // the leg's own, with its replay window
			if err != nil {
				t.Fatal(err)
			}
			tap, err := NewTap(theirs.value())
			if err != nil {
				t.Fatal(err)
			}
			wrong, err := NewTap(other.value())
			if err != nil {
				t.Fatal(err)
			}
			if tap.Suite() != suite.name {
				t.Errorf("Suite() = %q, want %q", tap.Suite(), suite.name)
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 160, SSRC: 9}, Payload: []byte("marked payload")}
			plain, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := tx.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rx.DecryptRTP(nil, sealed, nil); err != nil {
				t.Fatalf("the leg's context: %v", err)
			}
			if _, err := rx.DecryptRTP(nil, bytes.Clone(sealed), nil); err == nil {
				t.Fatal("the leg's context took a replay: the test proves nothing")
			}
			for i := range 2 { // the original, then its replay
				got, err := tap.DecryptRTP(nil, bytes.Clone(sealed))
				if err != nil {
					t.Fatalf("copy %d: %v", i, err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("copy %d: %x, want %x", i, got, plain)
				}
			}
			flipped := bytes.Clone(sealed)
			flipped[len(flipped)-1] ^= 1
			if _, err := tap.DecryptRTP(nil, flipped); err == nil {
				t.Error("a flipped tag authenticated")
			}
			if _, err := wrong.DecryptRTP(nil, bytes.Clone(sealed)); err == nil {
				t.Error("another key authenticated the packet")
			}
		})
	}
}

func TestTapRefusesAnUnusableLine(t *testing.T) {
	for _, v := range []string{"", "1 F8_128_HMAC_SHA1_80 inline:" + keyOf(30, true), "1 AES_CM_128_HMAC_SHA1_80 inline:" + keyOf(28, true)} {
		if _, err := NewTap(v); !errors.Is(err, ErrSDP) {
			t.Errorf("NewTap(%q) = %v, want ErrSDP", v, err)
		}
	}
}
