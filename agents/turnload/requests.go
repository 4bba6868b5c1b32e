package turnload

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/stun/v4"
)

// ProtoUDP is REQUESTED-TRANSPORT's value for UDP (RFC 8656 18.5).
const ProtoUDP = 17

// RequestedFamilyIPv6 is a REQUESTED-ADDRESS-FAMILY attribute asking for
// an IPv6 relayed address (RFC 8656 18.6); without it servers allocate IPv4.
var RequestedFamilyIPv6 stun.Setter = stun.RawAttribute{Type: stun.AttrRequestedAddressFamily, Value: []byte{2, 0, 0, 0}}

// Lifetime is a LIFETIME attribute (whole seconds).
func Lifetime(d time.Duration) stun.Setter {
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, uint32(d/time.Second))
	return stun.RawAttribute{Type: stun.AttrLifetime, Value: v}
}

// RequestedTransport is a REQUESTED-TRANSPORT attribute for protocol p.
func RequestedTransport(p byte) stun.Setter {
	return stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{p, 0, 0, 0}}
}

// ChannelNumber is a CHANNEL-NUMBER attribute.
func ChannelNumber(n uint16) stun.Setter {
	v := make([]byte, 4)
	binary.BigEndian.PutUint16(v, n)
	return stun.RawAttribute{Type: stun.AttrChannelNumber, Value: v}
}

// PeerAddress is an XOR-PEER-ADDRESS attribute. The family is the
// address's own: an IPv4-mapped IPv6 address is sent as IPv6 (pion's
// encoder would turn it into IPv4). Add it after the transaction ID.
func PeerAddress(ap netip.AddrPort) stun.Setter { return xorAddr{stun.AttrXORPeerAddress, ap} }

type xorAddr struct {
	t  stun.AttrType
	ap netip.AddrPort
}

func (x xorAddr) AddTo(m *stun.Message) error {
	a := x.ap.Addr()
	family, ip := byte(2), a.As16()
	raw := ip[:]
	if a.Is4() {
		family = 1
		ip4 := a.As4()
		raw = ip4[:]
	}
	key := make([]byte, 16)
	binary.BigEndian.PutUint32(key, 0x2112A442)
	copy(key[4:], m.TransactionID[:])
	v := make([]byte, 4+len(raw))
	v[1] = family
	binary.BigEndian.PutUint16(v[2:], x.ap.Port()^0x2112)
	for i, b := range raw {
		v[4+i] = b ^ key[i]
	}
	m.Add(x.t, v)
	return nil
}

// Learned returns the realm and nonce the server gave so far.
func (c *Client) Learned() (realm, nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.realm, c.nonce
}

// AuthSetters are USERNAME, REALM, NONCE and MESSAGE-INTEGRITY for the
// realm and nonce learned so far, to close a hand-built request (add
// FINGERPRINT after them if wanted).
func (c *Client) AuthSetters() []stun.Setter {
	realm, nonce := c.Learned()
	return []stun.Setter{
		stun.NewUsername(c.cfg.Username),
		stun.NewRealm(realm),
		stun.NewNonce(nonce),
		stun.NewLongTermIntegrity(c.cfg.Username, realm, c.cfg.Password),
	}
}

// Learn sends an Allocate without credentials, which creates nothing, and
// keeps the REALM and NONCE of the 401 it gets (RFC 8489 9.2.3).
func (c *Client) Learn(ctx context.Context) error {
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		RequestedTransport(ProtoUDP), stun.Fingerprint)
	if err != nil {
		return err
	}
	r, err := c.Transact(ctx, m)
	if err != nil {
		return err
	}
	var ec stun.ErrorCodeAttribute
	if ec.GetFrom(r) != nil || ec.Code != stun.CodeUnauthorized || !c.learn(r) {
		return fmt.Errorf("%w: an Allocate without credentials got %s, want 401 with REALM and NONCE", ErrResponse, r.Type)
	}
	return nil
}

// learn keeps the REALM and NONCE of a 401 or 438.
func (c *Client) learn(r *stun.Message) bool {
	var realm stun.Realm
	var nonce stun.Nonce
	if realm.GetFrom(r) != nil || nonce.GetFrom(r) != nil {
		return false
	}
	c.mu.Lock()
	c.realm, c.nonce = realm.String(), nonce.String()
	c.mu.Unlock()
	return true
}

// Request sends an authenticated request: the first one goes without
// credentials to learn the realm and nonce from the 401 (RFC 8489 9.2.3);
// a 438 is retried once with the new nonce. It returns the success
// response, or the error response and a *StatusError.
func (c *Client) Request(ctx context.Context, method stun.Method, attrs ...stun.Setter) (*stun.Message, error) {
	for range 3 {
		_, nonce := c.Learned()
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		if nonce != "" {
			setters = append(setters, c.AuthSetters()...)
		}
		setters = append(setters, stun.Fingerprint)
		m, err := stun.Build(setters...)
		if err != nil {
			return nil, fmt.Errorf("turnload: build %s: %w", method, err)
		}
		r, err := c.Transact(ctx, m)
		if err != nil {
			return nil, err
		}
		if r.Type.Class == stun.ClassSuccessResponse {
			return r, nil
		}
		var ec stun.ErrorCodeAttribute
		if err := ec.GetFrom(r); err != nil {
			return r, fmt.Errorf("%w: %s error response without ERROR-CODE", ErrResponse, method)
		}
		retry := (ec.Code == stun.CodeUnauthorized && nonce == "") || ec.Code == stun.CodeStaleNonce
		if retry && c.learn(r) {
			continue
		}
		if ec.Code == stun.CodeUnauthorized {
			c.learn(r)
		}
		return r, &StatusError{Method: method, Code: int(ec.Code), Reason: string(ec.Reason)}
	}
	return nil, fmt.Errorf("%w: %s: the server keeps asking for credentials", ErrResponse, method)
}

// Allocation is what a successful Allocate returned.
type Allocation struct {
	Relayed  netip.AddrPort // XOR-RELAYED-ADDRESS
	Mapped   netip.AddrPort // XOR-MAPPED-ADDRESS: the client as the server saw it
	Lifetime time.Duration
}

// Allocate asks for a UDP relay (RFC 8656 7.1); lifetime 0 asks for the
// default. Extra attributes go in as they are.
func (c *Client) Allocate(ctx context.Context, lifetime time.Duration, extra ...stun.Setter) (Allocation, error) {
	attrs := []stun.Setter{RequestedTransport(ProtoUDP)}
	if lifetime > 0 {
		attrs = append(attrs, Lifetime(lifetime))
	}
	r, err := c.Request(ctx, stun.MethodAllocate, append(attrs, extra...)...)
	if err != nil {
		return Allocation{}, err
	}
	var a Allocation
	var relayed, mapped stun.XORMappedAddress
	if relayed.GetFromAs(r, stun.AttrXORRelayedAddress) != nil {
		return Allocation{}, fmt.Errorf("%w: Allocate success without XOR-RELAYED-ADDRESS", ErrResponse)
	}
	a.Relayed, _ = addrPort(relayed.IP, relayed.Port)
	if mapped.GetFromAs(r, stun.AttrXORMappedAddress) == nil {
		a.Mapped, _ = addrPort(mapped.IP, mapped.Port)
	}
	a.Lifetime, _ = LifetimeOf(r)
	return a, nil
}

// LifetimeOf reads a message's LIFETIME.
func LifetimeOf(m *stun.Message) (time.Duration, bool) {
	v, err := m.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second, true
}

// Refresh refreshes the allocation (RFC 8656 7.3); lifetime 0 deletes it.
// It returns the lifetime granted.
func (c *Client) Refresh(ctx context.Context, lifetime time.Duration) (time.Duration, error) {
	r, err := c.Request(ctx, stun.MethodRefresh, Lifetime(lifetime))
	if err != nil {
		return 0, err
	}
	d, _ := LifetimeOf(r)
	return d, nil
}

// CreatePermission installs permissions for the peers' IP addresses
// (RFC 8656 9).
func (c *Client) CreatePermission(ctx context.Context, peers ...netip.AddrPort) error {
	attrs := make([]stun.Setter, 0, len(peers))
	for _, p := range peers {
		attrs = append(attrs, PeerAddress(p))
	}
	_, err := c.Request(ctx, stun.MethodCreatePermission, attrs...)
	return err
}

// ChannelBind binds channel n to peer (RFC 8656 12); data from the peer
// then arrives as ChannelData and SendChannel sends to it.
func (c *Client) ChannelBind(ctx context.Context, n uint16, peer netip.AddrPort) error {
	if _, err := c.Request(ctx, stun.MethodChannelBind, ChannelNumber(n), PeerAddress(peer)); err != nil {
		return err
	}
	c.mu.Lock()
	c.channels[n] = peer
	c.mu.Unlock()
	return nil
}

// Send relays data to peer in a Send indication (RFC 8656 10).
func (c *Client) Send(peer netip.AddrPort, data []byte) error {
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		PeerAddress(peer), stun.RawAttribute{Type: stun.AttrData, Value: data})
	if err != nil {
		return fmt.Errorf("turnload: build Send: %w", err)
	}
	return c.wire.send(m.Raw)
}

// SendChannel relays data on channel n as ChannelData (RFC 8656 12.4),
// padded to 4 bytes over TCP and TLS.
func (c *Client) SendChannel(n uint16, data []byte) error {
	size := 4 + len(data)
	if _, stream := c.wire.(*streamWire); stream {
		size = 4 + (len(data)+3)&^3
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint16(b, n)
	binary.BigEndian.PutUint16(b[2:], uint16(len(data)))
	copy(b[4:], data)
	return c.wire.send(b)
}

// SendRaw writes b to the server as it is.
func (c *Client) SendRaw(b []byte) error { return c.wire.send(b) }

// Binding sends a Binding request and returns the XOR-MAPPED-ADDRESS.
func (c *Client) Binding(ctx context.Context) (netip.AddrPort, error) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return netip.AddrPort{}, err
	}
	r, err := c.Transact(ctx, m)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var x stun.XORMappedAddress
	if r.Type != stun.BindingSuccess || x.GetFrom(r) != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: Binding answered %s", ErrResponse, r.Type)
	}
	ap, _ := addrPort(x.IP, x.Port)
	return ap, nil
}
