// Package nat emulates NATs and firewalls in user space, on loopback, as
// a wrapper in the agent's socket layer (socket.WithPacketWrapper): no root,
// no kernel module. An agent behind a NAT binds its "private" loopback
// address, which nothing ever reads from, so no one can reach it there; what
// it sends leaves from "public" sockets the NAT opens on another loopback
// address, with the mapping and filtering behaviour RFC 4787 defines:
//
//	mapping (4.1):   endpoint-independent | address-dependent | address-and-port-dependent
//	filtering (5):   endpoint-independent | address-dependent | address-and-port-dependent
//
// The classic names are FullCone (EIM, EIF), RestrictedCone (EIM, ADF),
// PortRestricted (EIM, APDF) and Symmetric (APDM, APDF). Firewalls (see
// Firewall) block UDP, or allow TCP to one port only. Pairings holds an
// independent table of which NAT pairs ICE can traverse without a relay.
package nat

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Behaviour is how a NAT maps or filters, in RFC 4787's terms.
type Behaviour int

// RFC 4787 behaviours, for mapping (4.1) and filtering (5).
const (
	// EndpointIndependent: one mapping per internal endpoint whatever the
	// destination; a mapped port accepts datagrams from anyone.
	EndpointIndependent Behaviour = iota
	// AddressDependent: a mapping per destination IP address; a mapped
	// port accepts datagrams from IP addresses it has sent to.
	AddressDependent
	// AddressAndPortDependent: a mapping per destination IP address and
	// port; a mapped port accepts datagrams from endpoints it has sent to.
	AddressAndPortDependent
)

func (b Behaviour) String() string {
	switch b {
	case EndpointIndependent:
		return "endpoint-independent"
	case AddressDependent:
		return "address-dependent"
	case AddressAndPortDependent:
		return "address-and-port-dependent"
	}
	return fmt.Sprintf("behaviour(%d)", int(b))
}

// Type names a NAT or firewall an agent sits behind.
type Type string

// Types of NAT and firewall.
const (
	// Open is no NAT and no firewall: the agent's address is public.
	Open Type = "open"
	// FullCone is endpoint-independent mapping and filtering.
	FullCone Type = "full-cone"
	// RestrictedCone is endpoint-independent mapping, address-dependent
	// filtering.
	RestrictedCone Type = "restricted"
	// PortRestricted is endpoint-independent mapping, address-and-port-
	// dependent filtering.
	PortRestricted Type = "port-restricted"
	// Symmetric is address-and-port-dependent mapping and filtering.
	Symmetric Type = "symmetric"
	// UDPBlocked is a firewall that drops all UDP; TCP goes anywhere.
	UDPBlocked Type = "udp-blocked"
	// TCPOnePort is a firewall that drops all UDP and allows TCP (and so
	// TLS) to one port only (Firewall.TCPPort, typically 443).
	TCPOnePort Type = "tcp-one-port"
)

// Types lists every Type.
var Types = []Type{Open, FullCone, RestrictedCone, PortRestricted, Symmetric, UDPBlocked, TCPOnePort}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("nat: bad config")

// ParseType reads a Type by name.
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: unknown type %q", ErrConfig, s)
}

// NATBehaviour returns the mapping and filtering of a NAT type; ok is false
// for Open and the firewalls.
func (t Type) NATBehaviour() (mapping, filtering Behaviour, ok bool) {
	switch t {
	case FullCone:
		return EndpointIndependent, EndpointIndependent, true
	case RestrictedCone:
		return EndpointIndependent, AddressDependent, true
	case PortRestricted:
		return EndpointIndependent, AddressAndPortDependent, true
	case Symmetric:
		return AddressAndPortDependent, AddressAndPortDependent, true
	}
	return 0, 0, false
}

// DefaultMappingTimeout is how long an idle mapping lives: RFC 4787 REQ-5
// asks for at least two minutes.
const DefaultMappingTimeout = 2 * time.Minute

// Config configures one NAT: one home router in front of one agent.
type Config struct {
	Mapping   Behaviour
	Filtering Behaviour
	// Public is the NAT's public address: a loopback address no agent binds.
	Public netip.Addr
	// MappingTimeout is how long a mapping (and what its filter learned)
	// lives after the last datagram sent through it (RFC 4787 REQ-6:
	// outbound traffic refreshes it). Default DefaultMappingTimeout.
	MappingTimeout time.Duration
	// Now is the clock mappings expire by; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// ForType returns the Config of a NAT type on public.
func ForType(t Type, public netip.Addr) (Config, error) {
	m, f, ok := t.NATBehaviour()
	if !ok {
		return Config{}, fmt.Errorf("%w: %q is not a NAT type", ErrConfig, t)
	}
	return Config{Mapping: m, Filtering: f, Public: public}, nil
}

// NAT is one emulated NAT. Its Wrap goes to socket.WithPacketWrapper; every
// socket it wraps gets its own mappings. Safe for concurrent use.
type NAT struct {
	cfg Config
	log *slog.Logger

	mappings atomic.Int64 // mappings created
	dropped  atomic.Int64 // inbound datagrams the filter refused
}

// New checks cfg and returns a NAT.
func New(cfg Config) (*NAT, error) {
	for _, b := range []Behaviour{cfg.Mapping, cfg.Filtering} {
		if b < EndpointIndependent || b > AddressAndPortDependent {
			return nil, fmt.Errorf("%w: behaviour %d", ErrConfig, int(b))
		}
	}
	if !cfg.Public.IsValid() || cfg.Public.IsUnspecified() {
		return nil, fmt.Errorf("%w: Public %v is not an address", ErrConfig, cfg.Public)
	}
	if cfg.MappingTimeout < 0 {
		return nil, fmt.Errorf("%w: MappingTimeout %v is negative", ErrConfig, cfg.MappingTimeout)
	}
	if cfg.MappingTimeout == 0 {
		cfg.MappingTimeout = DefaultMappingTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Public = cfg.Public.Unmap()
	return &NAT{cfg: cfg, log: cfg.Logger.With("nat_public", cfg.Public.String())}, nil
}

// Stats are a NAT's counters.
type Stats struct {
	Mappings int64 // mappings (public sockets) created
	Filtered int64 // inbound datagrams dropped by the filter
}

// Stats returns the NAT's counters.
func (n *NAT) Stats() Stats {
	return Stats{Mappings: n.mappings.Load(), Filtered: n.dropped.Load()}
}

// Public is the NAT's public address.
func (n *NAT) Public() netip.Addr { return n.cfg.Public }

// Wrap puts the NAT in front of inner, a socket bound to the agent's
// private address: the result sends and receives through the NAT's public
// sockets, and inner is only kept for its address.
func (n *NAT) Wrap(inner net.PacketConn) net.PacketConn { return newConn(n, inner) }

// mappingKey is what selects a mapping for a destination.
func (n *NAT) mappingKey(dst netip.AddrPort) netip.AddrPort {
	switch n.cfg.Mapping {
	case AddressDependent:
		return netip.AddrPortFrom(dst.Addr(), 0)
	case AddressAndPortDependent:
		return dst
	}
	return netip.AddrPort{}
}

// filterKey is what a mapping's filter remembers of a destination, and
// checks of a source.
func (n *NAT) filterKey(a netip.AddrPort) netip.AddrPort {
	switch n.cfg.Filtering {
	case AddressDependent:
		return netip.AddrPortFrom(a.Addr(), 0)
	case AddressAndPortDependent:
		return a
	}
	return netip.AddrPort{}
}
