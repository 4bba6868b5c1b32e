package wire

import (
	"slices"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Dir says which way a datagram went, seen from the agent.
type Dir int

// Directions of a datagram.
const (
	In Dir = iota
	Out
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// ObservedBy is what Security() puts in reports.Security.ObservedBy.
const ObservedBy = "wire"

// Limits that keep an Observer small whatever the far end sends.
const (
	maxPartials = 8  // handshake messages being reassembled at once
	maxAlerts   = 32 // alerts kept
	maxMessages = 64 // handshake message types kept per direction
)

// AlertEvent is an alert seen on the wire. An alert sent after
// ChangeCipherSpec (epoch > 0) is encrypted: only its presence is known.
type AlertEvent struct {
	Dir       Dir
	Alert     Alert
	Encrypted bool
}

// Observer is fed every datagram in and out of one call leg and keeps what the
// DTLS handshake said in the clear. It is safe for concurrent use; non-DTLS
// datagrams cost one byte check.
type Observer struct {
	mu           sync.Mutex
	clientHello  *ClientHello
	clientDir    Dir
	clientHellos int
	serverHello  *ServerHello
	serverDir    Dir
	helloVerify  bool
	alerts       []AlertEvent
	progress     [2]Progress
	malformed    int
	partials     map[partialKey]*partial
}

type partialKey struct {
	dir Dir
	typ uint8
	seq uint16
}

type partial struct {
	body []byte
	have []bool
	left int
}

// NewObserver returns an empty Observer.
func NewObserver() *Observer { return &Observer{} }

// Observe reads one datagram. It keeps no reference to b.
func (o *Observer) Observe(dir Dir, b []byte) {
	if !IsDTLS(b) {
		return
	}
	recs, err := ParseRecords(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.malformed++
	}
	for _, r := range recs {
		switch r.ContentType {
		case ContentHandshake:
			if r.Epoch == 0 {
				o.handshakeRecord(dir, r.Fragment)
			} else {
				o.progress[dir&1].Encrypted = true
			}
		case ContentChangeCipherSpec:
			o.progress[dir&1].ChangeCipherSpec = true
		case ContentAlert:
			o.alertRecord(dir, r)
		}
	}
}

func (o *Observer) alertRecord(dir Dir, r Record) {
	if len(o.alerts) >= maxAlerts {
		return
	}
	if r.Epoch != 0 {
		o.alerts = append(o.alerts, AlertEvent{Dir: dir, Encrypted: true})
		return
	}
	a, err := ParseAlert(r.Fragment)
	if err != nil {
		o.malformed++
		return
	}
	o.alerts = append(o.alerts, AlertEvent{Dir: dir, Alert: a})
}

func (o *Observer) handshakeRecord(dir Dir, frag []byte) {
	hs, err := ParseHandshakes(frag)
	if err != nil {
		o.malformed++
	}
	for _, h := range hs {
		if p := &o.progress[dir&1]; h.FragmentOffset == 0 && len(p.Messages) < maxMessages {
			p.Messages = append(p.Messages, h.Type)
		}
		switch h.Type {
		case HandshakeClientHello, HandshakeServerHello, HandshakeHelloVerifyRequest:
		default:
			continue
		}
		if h.Complete() {
			o.message(dir, h.Type, h.Body)
			continue
		}
		if body, ok := o.reassemble(dir, h); ok {
			o.message(dir, h.Type, body)
		}
	}
}

// reassemble adds a fragment and returns the whole body once every byte of
// the message has arrived.
func (o *Observer) reassemble(dir Dir, h Handshake) ([]byte, bool) {
	if h.Length > maxHandshakeMessageBytes {
		o.malformed++
		return nil, false
	}
	key := partialKey{dir: dir, typ: h.Type, seq: h.MessageSeq}
	p := o.partials[key]
	if p == nil || len(p.body) != int(h.Length) {
		if o.partials == nil {
			o.partials = map[partialKey]*partial{}
		}
		if p == nil && len(o.partials) >= maxPartials {
			return nil, false
		}
		p = &partial{body: make([]byte, h.Length), have: make([]bool, h.Length), left: int(h.Length)}
		o.partials[key] = p
	}
	off := int(h.FragmentOffset)
	for i, c := range h.Body {
		if !p.have[off+i] {
			p.have[off+i] = true
			p.left--
		}
		p.body[off+i] = c
	}
	if p.left > 0 {
		return nil, false
	}
	delete(o.partials, key)
	return p.body, true
}

func (o *Observer) message(dir Dir, typ uint8, body []byte) {
	switch typ {
	case HandshakeClientHello:
		ch, err := ParseClientHello(body)
		if err != nil {
			o.malformed++
			return
		}
		o.clientHello, o.clientDir = &ch, dir
		o.clientHellos++
	case HandshakeServerHello:
		sh, err := ParseServerHello(body)
		if err != nil {
			o.malformed++
			return
		}
		o.serverHello, o.serverDir = &sh, dir
	case HandshakeHelloVerifyRequest:
		o.helloVerify = true
	}
}

// Security returns what the handshake negotiated, from the ServerHello seen
// on the wire. Until a ServerHello has been seen it is empty (ObservedBy
// too, so a record never claims an observation that did not happen).
func (o *Observer) Security() reports.Security {
	o.mu.Lock()
	defer o.mu.Unlock()
	sh := o.serverHello
	if sh == nil {
		return reports.Security{}
	}
	s := reports.Security{
		DTLSVersion:          VersionName(sh.Version),
		CipherSuite:          CipherSuiteName(sh.CipherSuite),
		ExtendedMasterSecret: sh.ExtendedMasterSecret,
		ObservedBy:           ObservedBy,
	}
	if sh.UseSRTP {
		s.SRTPProfile = SRTPProfileName(sh.SRTPProfile)
	}
	return s
}

// ClientHello returns the last ClientHello seen, the way it went, and how
// many were seen (a cookie exchange or a renegotiation makes more than one).
func (o *Observer) ClientHello() (ch ClientHello, dir Dir, count int, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.clientHello == nil {
		return ClientHello{}, 0, 0, false
	}
	return *o.clientHello, o.clientDir, o.clientHellos, true
}

// ServerHello returns the last ServerHello seen and the way it went.
func (o *Observer) ServerHello() (sh ServerHello, dir Dir, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.serverHello == nil {
		return ServerHello{}, 0, false
	}
	return *o.serverHello, o.serverDir, true
}

// HelloVerifyRequested reports whether a HelloVerifyRequest was seen.
func (o *Observer) HelloVerifyRequested() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.helloVerify
}

// Alerts returns the alerts seen, in order (at most 32).
func (o *Observer) Alerts() []AlertEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]AlertEvent(nil), o.alerts...)
}

// Progress is how far one side's handshake went, as seen on the wire.
type Progress struct {
	// Messages are the types of the plaintext handshake messages sent
	// (first fragments only, so a retransmission shows again; at most 64).
	Messages         []uint8
	ChangeCipherSpec bool // a ChangeCipherSpec was sent
	Encrypted        bool // an encrypted handshake record (Finished) was sent
}

// Sent reports whether a plaintext handshake message of type typ was sent.
func (p Progress) Sent(typ uint8) bool { return slices.Contains(p.Messages, typ) }

// Progress returns how far the side sending in dir went: the handshake
// messages it sent in the clear, and whether it went on to
// ChangeCipherSpec and an encrypted Finished.
func (o *Observer) Progress(dir Dir) Progress {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.progress[dir&1]
	p.Messages = slices.Clone(p.Messages)
	return p
}

// Malformed returns how many DTLS-looking datagrams, records or messages
// could not be read.
func (o *Observer) Malformed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.malformed
}
