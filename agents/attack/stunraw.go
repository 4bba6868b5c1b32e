package attack

import (
	"encoding/binary"

	"github.com/pion/stun/v4"
)

// Raw STUN bytes for the torture cases: well-formed ones built with pion,
// malformed ones by hand.

const stunCookie = 0x2112A442

// stunAttr is one attribute as it goes on the wire (value padded to 4
// bytes unless unpadded).
type stunAttr struct {
	typ      uint16
	value    []byte
	length   int // the length field; -1: len(value)
	unpadded bool
}

// rawSTUN builds a message from its parts as given, lengths and padding
// included, so that it can be wrong on purpose. length < 0 writes the
// attributes' real length.
func rawSTUN(typ uint16, length int, cookie uint32, id [stun.TransactionIDSize]byte, attrs ...stunAttr) []byte {
	var body []byte
	for _, a := range attrs {
		l := a.length
		if l < 0 {
			l = len(a.value)
		}
		body = binary.BigEndian.AppendUint16(body, a.typ)
		body = binary.BigEndian.AppendUint16(body, uint16(l))
		body = append(body, a.value...)
		if !a.unpadded {
			for len(body)%4 != 0 {
				body = append(body, 0)
			}
		}
	}
	if length < 0 {
		length = len(body)
	}
	b := make([]byte, 20, 20+len(body))
	binary.BigEndian.PutUint16(b[0:], typ)
	binary.BigEndian.PutUint16(b[2:], uint16(length))
	binary.BigEndian.PutUint32(b[4:], cookie)
	copy(b[8:], id[:])
	return append(b, body...)
}

func stunAttrOf(typ uint16, value []byte) stunAttr {
	return stunAttr{typ: typ, value: value, length: -1}
}

// stunWellFormed builds a valid message of type t with the attributes given
// (in order) and, when fingerprint is set, a correct FINGERPRINT.
func stunWellFormed(t stun.MessageType, id [stun.TransactionIDSize]byte, fingerprint bool, attrs ...stunAttr) []byte {
	m := &stun.Message{Type: t, TransactionID: id}
	m.WriteHeader()
	for _, a := range attrs {
		m.Add(stun.AttrType(a.typ), a.value)
	}
	if fingerprint {
		_ = stun.Fingerprint.AddTo(m) // adding to a message being built cannot fail
	}
	return append([]byte(nil), m.Raw...)
}

// stunManyAttrs returns n zero-length attributes of types first, first+1, ...
func stunManyAttrs(first uint16, n int) []stunAttr {
	out := make([]stunAttr, n)
	for i := range out {
		out[i] = stunAttrOf(first+uint16(i), nil)
	}
	return out
}

// stunChannelData builds a ChannelData message whose length field says
// length (-1: the payload's).
func stunChannelData(channel uint16, length int, payload []byte) []byte {
	if length < 0 {
		length = len(payload)
	}
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint16(b, channel)
	binary.BigEndian.PutUint16(b[2:], uint16(length))
	return append(b, payload...)
}
