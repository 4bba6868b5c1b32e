package nat

import (
	"net/netip"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// SocketOptions are the socket-layer options that put an agent behind t:
// behind a NAT it binds private and the NAT maps it to public; with no NAT
// (Open, or a firewall alone) it binds public. tcpPort is the one TCP port
// a TCPOnePort firewall allows (typically the TURN server's TLS port).
// Give the result to socket.New with the agent's guard and logger.
func SocketOptions(t Type, private, public netip.Addr, tcpPort uint16) ([]socket.Option, error) {
	switch t {
	case Open:
		return []socket.Option{socket.WithSourceIP(public)}, nil
	case UDPBlocked, TCPOnePort:
		if t == UDPBlocked {
			tcpPort = 0
		}
		fw, err := NewFirewall(t, tcpPort)
		if err != nil {
			return nil, err
		}
		return []socket.Option{socket.WithSourceIP(public), socket.WithPacketWrapper(fw.Wrap), socket.WithDialCheck(fw.CheckDial)}, nil
	}
	cfg, err := ForType(t, public)
	if err != nil {
		return nil, err
	}
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return []socket.Option{socket.WithSourceIP(private), socket.WithPacketWrapper(n.Wrap)}, nil
}
