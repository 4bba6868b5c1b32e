package turn

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

// The front sees every datagram (or stream frame) a client sends before
// pion's server does, and enforces what pion/turn v5.1.0 leaves out or
// answers differently from RFC 8656 / RFC 8489:
//   - long-term credentials are checked here: a bad or expired credential
//     gets 401 with REALM and a fresh NONCE (pion answers 400);
//   - lifetimes follow RFC 8656 7.2: max(default, min(requested, max));
//   - Refresh, CreatePermission and ChannelBind on a 5-tuple with no
//     allocation get 437 (pion stays silent), and from another user 441;
//   - peers are judged by the peer policy: 403 to CreatePermission and
//     ChannelBind (pion answers ChannelBind 401), Send indications dropped;
//   - channel numbers outside 0x4000-0x4FFF get 400;
//   - REQUESTED-TRANSPORT TCP gets 442 (RFC 6062 is not offered);
//   - malformed STUN and a bad FINGERPRINT are dropped silently (handed to
//     pion with WeakenSTUNValidation).
// Whatever passes reaches pion unchanged, or re-signed with the same key
// when the LIFETIME had to be rewritten.

type verdict int

const (
	pass  verdict = iota // hand to pion (possibly rewritten)
	drop                 // silently discard
	reply                // send the bytes back to the client
)

// minChannel and maxChannel bound channel numbers (RFC 8656 12).
const (
	minChannel = 0x4000
	maxChannel = 0x4FFF
)

// requestedTCP is the REQUESTED-TRANSPORT protocol number of TCP.
const requestedTCP = 6

// magicCookie is the fixed STUN magic cookie (RFC 8489 5).
const magicCookie = 0x2112A442

type front struct {
	creds       *credentials
	policy      *peerPolicy
	allocs      *allocTable
	metrics     *metrics
	log         *slog.Logger
	maxLifetime time.Duration
	// lax passes malformed STUN and a bad FINGERPRINT on to pion
	// (WeakenSTUNValidation).
	lax bool

	// stash holds the key the front verified for the message in flight from
	// each client address, for pion's AuthHandler (which knows only the
	// source address). Each listener hands pion one message at a time, so
	// an entry lives from inspect until done.
	mu    sync.Mutex
	stash map[string]stashed
}

type stashed struct {
	userID string
	key    stun.MessageIntegrity
}

func newFront(c Config, allocs *allocTable, m *metrics, log *slog.Logger) *front {
	return &front{
		creds:       newCredentials(c),
		policy:      newPeerPolicy(c),
		allocs:      allocs,
		metrics:     m,
		log:         log,
		maxLifetime: c.MaxLifetime,
		lax:         c.weakened(WeakenSTUNValidation),
		stash:       map[string]stashed{},
	}
}

func tupleKey(src, local net.Addr) string { return src.String() + "|" + local.String() }

// done is called when pion has finished with the last message from src:
// its stashed key and any unconfirmed quota slot go.
func (f *front) done(src net.Addr) {
	f.mu.Lock()
	delete(f.stash, src.String())
	f.mu.Unlock()
	f.allocs.settle(src.String())
}

// authKey is pion's AuthHandler: the key the front verified for this
// message.
func (f *front) authKey(src net.Addr) (string, []byte, bool) {
	f.mu.Lock()
	s, ok := f.stash[src.String()]
	f.mu.Unlock()
	if !ok {
		return "", nil, false
	}
	return s.userID, s.key, true
}

// isSTUN checks the fixed header strictly: top bits zero, magic cookie,
// length a multiple of 4 that matches the datagram.
func isSTUN(b []byte) bool {
	if len(b) < 20 || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != magicCookie {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	return l%4 == 0 && l+20 == len(b)
}

func isChannelData(b []byte) bool { return len(b) >= 4 && b[0]&0xC0 == 0x40 }

// inspect decides the fate of one message from src to the listener at local.
func (f *front) inspect(b []byte, src, local net.Addr) ([]byte, verdict) {
	if isChannelData(b) {
		return nil, pass // pion drops ChannelData on an unbound channel
	}
	if !isSTUN(b) {
		return nil, f.malformed()
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		return nil, f.malformed()
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(m) != nil {
		if v := f.malformed(); v == drop {
			return nil, v
		}
	}
	switch {
	case m.Type.Class == stun.ClassIndication && m.Type.Method == stun.MethodSend:
		if ap, ok := peerAddr(m); ok && !f.policy.allowed(ap) {
			f.metrics.peerDenied.Add(1)
			return nil, drop
		}
		return nil, pass
	case m.Type.Class != stun.ClassRequest:
		return nil, pass
	}
	switch m.Type.Method {
	case stun.MethodAllocate, stun.MethodRefresh, stun.MethodCreatePermission, stun.MethodChannelBind,
		stun.MethodConnect, stun.MethodConnectionBind:
		return f.authenticated(m, src, local)
	}
	return nil, pass
}

// malformed is the fate of a malformed message: dropped (and counted),
// or handed to pion as it is with STUN validation weakened.
func (f *front) malformed() verdict {
	if f.lax {
		return pass
	}
	f.metrics.malformed.Add(1)
	return drop
}

// authenticated runs the long-term credential checks the front owns, then
// the method's own checks.
func (f *front) authenticated(m *stun.Message, src, local net.Addr) ([]byte, verdict) {
	if !m.Contains(stun.AttrMessageIntegrity) || !m.Contains(stun.AttrUsername) ||
		!m.Contains(stun.AttrRealm) || !m.Contains(stun.AttrNonce) {
		return nil, pass // pion: 401 with REALM and NONCE, or 400
	}
	var user stun.Username
	var realm stun.Realm
	if user.GetFrom(m) != nil || realm.GetFrom(m) != nil {
		return nil, pass // pion answers 400
	}
	userID, keys, reason := f.creds.keys(user.String(), realm.String())
	var key stun.MessageIntegrity
	for _, k := range keys {
		if k.Check(m) == nil {
			key = k
			break
		}
	}
	if key == nil {
		if reason == "" {
			reason = "bad-integrity"
		}
		f.metrics.authFailures.Add(1)
		f.log.Info("TURN credentials refused", "src", src.String(), "method", m.Type.Method.String(), "reason", reason)
		return unsigned(m), pass // pion answers 401 with REALM and a fresh NONCE
	}
	f.mu.Lock()
	f.stash[src.String()] = stashed{userID: userID, key: key}
	f.mu.Unlock()
	k := tupleKey(src, local)

	switch m.Type.Method {
	case stun.MethodAllocate:
		return f.allocate(m, key)
	case stun.MethodRefresh:
		if out, v, ok := f.needAllocation(m, k, userID, key); !ok {
			return out, v
		}
		return f.resign(m, key, true)
	case stun.MethodCreatePermission, stun.MethodChannelBind:
		if out, v, ok := f.needAllocation(m, k, userID, key); !ok {
			return out, v
		}
		return f.peers(m, key)
	}
	return nil, pass
}

func (f *front) allocate(m *stun.Message, key stun.MessageIntegrity) ([]byte, verdict) {
	if v, err := m.Get(stun.AttrRequestedTransport); err == nil && len(v) == 4 && v[0] == requestedTCP {
		return errorReply(m, stun.CodeUnsupportedTransProto, key), reply
	}
	return f.resign(m, key, false)
}

// needAllocation answers 437 when the 5-tuple has no allocation and 441
// when it belongs to another user; ok means go on.
func (f *front) needAllocation(m *stun.Message, tuple, userID string, key stun.MessageIntegrity) ([]byte, verdict, bool) {
	owner, exists := f.allocs.owner(tuple)
	switch {
	case !exists:
		return errorReply(m, stun.CodeAllocMismatch, key), reply, false
	case owner != userID:
		return errorReply(m, stun.CodeWrongCredentials, key), reply, false
	}
	return nil, pass, true
}

// peers checks CHANNEL-NUMBER and every XOR-PEER-ADDRESS of a
// CreatePermission or ChannelBind.
func (f *front) peers(m *stun.Message, key stun.MessageIntegrity) ([]byte, verdict) {
	if m.Type.Method == stun.MethodChannelBind {
		if v, err := m.Get(stun.AttrChannelNumber); err == nil && len(v) == 4 {
			if n := binary.BigEndian.Uint16(v); n < minChannel || n > maxChannel {
				return errorReply(m, stun.CodeBadRequest, key), reply
			}
		}
	}
	for _, a := range m.Attributes {
		if a.Type != stun.AttrXORPeerAddress {
			continue
		}
		ap, ok := decodePeer(m, a)
		if !ok {
			continue // pion answers 400
		}
		if !f.policy.allowed(ap) {
			f.metrics.peerDenied.Add(1)
			f.log.Info("peer refused by policy", "peer", ap.String(), "method", m.Type.Method.String())
			return errorReply(m, stun.CodeForbidden, key), reply
		}
	}
	return nil, pass
}

// resign rewrites LIFETIME per RFC 8656 7.2 (Allocate) and 7.3 (Refresh)
// and signs the request again with the key it was signed with.
func (f *front) resign(m *stun.Message, key stun.MessageIntegrity, refresh bool) ([]byte, verdict) {
	d, ok := f.grantedLifetime(m, refresh)
	out := &stun.Message{Type: m.Type, TransactionID: m.TransactionID}
	out.WriteHeader()
	for _, a := range m.Attributes {
		if a.Type == stun.AttrMessageIntegrity {
			break
		}
		if a.Type == stun.AttrLifetime {
			continue
		}
		out.Add(a.Type, a.Value)
	}
	// pion takes a LIFETIME only below one hour; without one it grants its
	// configured AllocationLifetime, which the server sets to MaxLifetime.
	if ok && d < RecommendedMaxLifetime {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], uint32(d/time.Second))
		out.Add(stun.AttrLifetime, v[:])
	}
	if err := key.AddTo(out); err != nil {
		return nil, drop
	}
	if m.Contains(stun.AttrFingerprint) {
		if err := stun.Fingerprint.AddTo(out); err != nil {
			return nil, drop
		}
	}
	return out.Raw, pass
}

// grantedLifetime is what the relay grants; ok is false when that is the
// maximum (sent to pion as "no LIFETIME").
func (f *front) grantedLifetime(m *stun.Message, refresh bool) (time.Duration, bool) {
	v, err := m.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		return DefaultAllocationLifetime, DefaultAllocationLifetime != f.maxLifetime
	}
	req := time.Duration(binary.BigEndian.Uint32(v)) * time.Second
	if refresh && req == 0 {
		return 0, true // delete
	}
	d := max(DefaultAllocationLifetime, min(req, f.maxLifetime))
	return d, d != f.maxLifetime
}

// unsigned is m without MESSAGE-INTEGRITY and what follows it, which pion
// answers with 401, REALM and a fresh NONCE.
func unsigned(m *stun.Message) []byte {
	out := &stun.Message{Type: m.Type, TransactionID: m.TransactionID}
	out.WriteHeader()
	for _, a := range m.Attributes {
		if a.Type == stun.AttrMessageIntegrity || a.Type == stun.AttrMessageIntegritySHA256 || a.Type == stun.AttrFingerprint {
			break
		}
		out.Add(a.Type, a.Value)
	}
	return out.Raw
}

// errorReply builds an error response signed with key (nil: unsigned).
func errorReply(m *stun.Message, code stun.ErrorCode, key stun.MessageIntegrity) []byte {
	setters := []stun.Setter{
		&stun.Message{TransactionID: m.TransactionID},
		stun.NewType(m.Type.Method, stun.ClassErrorResponse),
		code, // with its standard reason phrase
	}
	if key != nil {
		setters = append(setters, key)
	}
	setters = append(setters, stun.Fingerprint)
	out, err := stun.Build(setters...)
	if err != nil {
		return nil
	}
	return out.Raw
}

// peerAddr decodes the first XOR-PEER-ADDRESS.
func peerAddr(m *stun.Message) (netip.AddrPort, bool) {
	for _, a := range m.Attributes {
		if a.Type == stun.AttrXORPeerAddress {
			return decodePeer(m, a)
		}
	}
	return netip.AddrPort{}, false
}

// decodePeer decodes one XOR-PEER-ADDRESS, keeping the family it was sent
// in (an IPv4-mapped IPv6 address stays IPv6).
func decodePeer(m *stun.Message, a stun.RawAttribute) (netip.AddrPort, bool) {
	one := &stun.Message{TransactionID: m.TransactionID}
	one.WriteHeader()
	one.Add(stun.AttrXORPeerAddress, a.Value)
	var x stun.XORMappedAddress
	if err := x.GetFromAs(one, stun.AttrXORPeerAddress); err != nil {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(x.IP)
	if !ok {
		return netip.AddrPort{}, false
	}
	if len(x.IP) == net.IPv4len {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(x.Port)), true
}
