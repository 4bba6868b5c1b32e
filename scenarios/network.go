package scenarios

import (
	"fmt"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
)

// Signaling says how a population's calls are set up.
const (
	// SignalingSIP: calls go through the target's SIP (the default).
	SignalingSIP = "sip"
	// SignalingDirect: the harness hands SDP across in-process, as two
	// browsers whose app relays offer and answer; the media path is what
	// ICE finds between them, directly or through the target's TURN
	// relays. Only between webrtc populations, which then do not register.
	SignalingDirect = "direct"
	// SignalingRooms: the agents are participants of browser-to-browser
	// rooms on the target's rooms service (docs/rooms.md), relayed through
	// the TURN relay it hands out credentials for. Only webrtc
	// populations, in flows with a room_size; they do not register.
	SignalingRooms = "rooms"
)

// ICE transport policies (RFC 8829 iceTransportPolicy).
const (
	ICEPolicyAll   = "all"
	ICEPolicyRelay = "relay"
)

// Network is the emulated access network of a population's agents: the
// NAT or firewall they sit behind is Population.NAT; this is the link's
// impairment of media (RTP and RTCP; signaling, STUN and DTLS pass).
type Network struct {
	// Direction is which media the profile impairs: "both" (default),
	// "in" (what the agent receives) or "out" (what it sends).
	Direction string
	Profile   NetProfile
	// Schedule replaces the profile for a while, at times from the run's
	// start ("at 30s, 10% loss for 5s").
	Schedule []NetStep
}

// NetProfile is one impairment: probabilities are fractions (0.02 is 2%).
type NetProfile struct {
	Loss        float64       // random loss
	BurstLoss   float64       // long-run loss of a Gilbert-Elliott burst model (instead of Loss)
	BurstLength float64       // mean burst length in packets (default 3)
	Delay       time.Duration // added one way
	Jitter      time.Duration // delay varies within Delay±Jitter
	Reorder     float64       // probability a packet is held back ReorderGap so later ones overtake it
	ReorderGap  time.Duration // default 40 ms
	Duplicate   float64
	RateKbps    int // bandwidth cap of the media, 0 for none
}

// NetStep is a scheduled change of profile.
type NetStep struct {
	At, For time.Duration
	Profile NetProfile
}

// Network directions.
const (
	DirBoth = "both"
	DirIn   = "in"
	DirOut  = "out"
)

var netProfileFields = []string{"loss", "burst_loss", "burst_length", "delay", "jitter", "reorder", "reorder_gap", "duplicate", "rate_kbps"}

func (d *decoder) populationNet(f map[string]field, path string, p *Population) {
	if v, ok := f["transport"]; ok {
		p.Transport, _ = d.str(v.val, joinPath(path, "transport"))
	}
	if v, ok := f["ice_policy"]; ok {
		p.ICEPolicy, _ = d.str(v.val, joinPath(path, "ice_policy"))
	}
	if v, ok := f["nat"]; ok {
		s, _ := d.str(v.val, joinPath(path, "nat"))
		p.NAT = nat.Type(s)
	}
	if v, ok := f["turn"]; ok {
		b, _ := d.boolean(v.val, joinPath(path, "turn"))
		p.NoTURN = !b
	}
	if v, ok := f["signaling"]; ok {
		p.Signaling, _ = d.str(v.val, joinPath(path, "signaling"))
	}
	if v, ok := f["network"]; ok {
		p.Network = d.network(v.val, joinPath(path, "network"))
	}
}

func (d *decoder) network(n *yaml.Node, path string) *Network {
	f := d.mapping(n, path, fields["network"]...)
	if f == nil {
		return nil
	}
	nw := &Network{Direction: DirBoth, Profile: d.netProfile(f, path)}
	if v, ok := f["direction"]; ok {
		nw.Direction, _ = d.str(v.val, joinPath(path, "direction"))
	}
	if v, ok := f["schedule"]; ok {
		items, _ := d.seq(v.val, joinPath(path, "schedule"))
		for i, item := range items {
			sp := indexPath(joinPath(path, "schedule"), i)
			sf := d.mapping(item, sp, fields["network_step"]...)
			if sf == nil {
				continue
			}
			st := NetStep{Profile: d.netProfile(sf, sp)}
			if v, ok := sf["at"]; ok {
				st.At, _ = d.duration(v.val, joinPath(sp, "at"))
			} else {
				d.errs.at(d.src.lookup(sp), joinPath(sp, "at"), ErrRequired, "required: when the step starts, from the run's start (e.g. 30s)")
			}
			if v, ok := sf["for"]; ok {
				st.For, _ = d.duration(v.val, joinPath(sp, "for"))
			}
			nw.Schedule = append(nw.Schedule, st)
		}
	}
	return nw
}

func (d *decoder) netProfile(f map[string]field, path string) NetProfile {
	p := NetProfile{BurstLength: 3, ReorderGap: 40 * time.Millisecond}
	probs := map[string]*float64{"loss": &p.Loss, "burst_loss": &p.BurstLoss, "reorder": &p.Reorder, "duplicate": &p.Duplicate}
	for name, dst := range probs {
		if v, ok := f[name]; ok {
			*dst = d.fraction(v.val, joinPath(path, name))
		}
	}
	durs := map[string]*time.Duration{"delay": &p.Delay, "jitter": &p.Jitter, "reorder_gap": &p.ReorderGap}
	for name, dst := range durs {
		if v, ok := f[name]; ok {
			*dst, _ = d.duration(v.val, joinPath(path, name))
		}
	}
	if v, ok := f["burst_length"]; ok {
		p.BurstLength = d.number(v.val, joinPath(path, "burst_length"))
	}
	if v, ok := f["rate_kbps"]; ok {
		p.RateKbps = d.smallInt(v.val, joinPath(path, "rate_kbps"))
	}
	return p
}

// fraction decodes a probability: "2%" or 0.02, from 0 to 1.
func (d *decoder) fraction(n *yaml.Node, path string) float64 {
	v, ok := d.percentage(n, path, "2%", "0.02")
	if !ok {
		return 0
	}
	if v < 0 || v > 1 {
		d.errs.at(d.src.lookup(path), path, ErrRange, "must be 0%% to 100%%, got %s", resolve(n).Value)
		return 0
	}
	return v
}

// number decodes a float.
func (d *decoder) number(n *yaml.Node, path string) float64 {
	r := resolve(n)
	var v float64
	if r.Kind != yaml.ScalarNode || (r.Tag != "!!float" && r.Tag != "!!int") || r.Decode(&v) != nil {
		d.errs.at(d.src.lookup(path), path, ErrType, "want a number, got %s", describe(n))
		return 0
	}
	return v
}

// NATTypes lists the NAT and firewall types a population may sit behind.
func NATTypes() []nat.Type {
	return []nat.Type{nat.Open, nat.FullCone, nat.RestrictedCone, nat.PortRestricted, nat.Symmetric, nat.UDPBlocked, nat.TCPOnePort}
}

func (v validator) populationNet(path string, p Population) {
	if p.Transport != "" {
		tp := joinPath(path, "transport")
		switch {
		case p.Kind == KindWebRTC:
			v.l.add(tp, ErrConflict, "webrtc populations speak SIP over the target's sip.ws (ws or wss); transport applies to sip populations")
		case p.Transport != "udp" && p.Transport != "tcp" && p.Transport != "tls":
			v.l.add(tp, ErrUnknownName, "unknown transport %q; known: \"udp\", \"tcp\", \"tls\"", p.Transport)
		}
	}
	if p.NAT != "" {
		if _, err := nat.ParseType(string(p.NAT)); err != nil {
			names := make([]string, 0, 7)
			for _, t := range NATTypes() {
				names = append(names, string(t))
			}
			v.l.add(joinPath(path, "nat"), ErrUnknownName, "unknown NAT type %q%s; known: %s", p.NAT, didYouMean(string(p.NAT), names), joinQuoted(NATTypes()))
		}
	}
	webrtcOnly := func(field string) {
		v.l.add(joinPath(path, field), ErrConflict, "only webrtc populations use ICE; this one is %s (plain RTP)", p.Kind)
	}
	if p.ICEPolicy != "" && p.ICEPolicy != ICEPolicyAll && p.ICEPolicy != ICEPolicyRelay {
		v.l.add(joinPath(path, "ice_policy"), ErrUnknownName, "unknown ICE policy %q; known: %q, %q", p.ICEPolicy, ICEPolicyAll, ICEPolicyRelay)
	}
	if p.Signaling != "" && p.Signaling != SignalingSIP && p.Signaling != SignalingDirect && p.Signaling != SignalingRooms {
		v.l.add(joinPath(path, "signaling"), ErrUnknownName, "unknown signaling %q%s; known: %q, %q, %q", p.Signaling, didYouMean(p.Signaling, []string{SignalingSIP, SignalingDirect, SignalingRooms}), SignalingSIP, SignalingDirect, SignalingRooms)
	}
	if p.Kind == KindSIP {
		switch {
		case p.ICEPolicy != "":
			webrtcOnly("ice_policy")
		case p.Signaling == SignalingDirect || p.Signaling == SignalingRooms:
			webrtcOnly("signaling")
		case p.NAT != "" && p.NAT != nat.Open:
			v.l.add(joinPath(path, "nat"), ErrUnsupported, "sip populations (desk phones, trunks) have no ICE to get through a NAT; leave nat out")
		}
	}
	if p.Kind == KindWebRTC && p.Rooms() {
		v.roomsPopulation(path, p)
	} else if p.ICEPolicy == ICEPolicyRelay && p.NoTURN {
		v.l.add(joinPath(path, "turn"), ErrConflict, "ice_policy relay needs the target's TURN servers; turn: false takes them away")
	}
	if p.Network != nil {
		v.network(joinPath(path, "network"), *p.Network)
	}
}

func (v validator) network(path string, n Network) {
	if !slices.Contains([]string{DirBoth, DirIn, DirOut}, n.Direction) {
		v.l.add(joinPath(path, "direction"), ErrUnknownName, "unknown direction %q; known: %q, %q, %q", n.Direction, DirBoth, DirIn, DirOut)
	}
	if _, err := n.Profile.impair(); err != nil {
		v.l.add(path, ErrRange, "%v", err)
	}
	for i, st := range n.Schedule {
		sp := indexPath(joinPath(path, "schedule"), i)
		if i > 0 && st.At < n.Schedule[i-1].At {
			v.l.add(joinPath(sp, "at"), ErrRange, "steps must be in order of time: %s comes before the previous step's %s", st.At, n.Schedule[i-1].At)
		}
		if st.For < 0 {
			v.l.add(joinPath(sp, "for"), ErrRange, "must be >= 0 (0: until the run ends), got %s", st.For)
		}
		if _, err := st.Profile.impair(); err != nil {
			v.l.add(sp, ErrRange, "%v", err)
		}
	}
}

// impair converts the profile to the impairment layer's.
func (p NetProfile) impair() (impair.Profile, error) {
	out := impair.Profile{Loss: p.Loss, Delay: p.Delay, Jitter: p.Jitter, Duplicate: p.Duplicate,
		RateBPS: int64(p.RateKbps) * 1000}
	if p.Reorder > 0 {
		out.Reorder, out.ReorderGap = p.Reorder, p.ReorderGap
	}
	if p.BurstLoss > 0 {
		if p.Loss > 0 {
			return out, fmt.Errorf("give loss or burst_loss, not both")
		}
		g, err := impair.BurstLoss(p.BurstLoss, p.BurstLength)
		if err != nil {
			return out, err
		}
		out.Burst = &g
	}
	if err := out.Validate(); err != nil {
		return out, err
	}
	return out, nil
}

// Schedules returns the impairment of what the agent receives and sends.
func (n *Network) Schedules() (in, out impair.Schedule, err error) {
	if n == nil {
		return in, out, nil
	}
	var s impair.Schedule
	if s.Base, err = n.Profile.impair(); err != nil {
		return in, out, err
	}
	for _, st := range n.Schedule {
		p, err := st.Profile.impair()
		if err != nil {
			return in, out, err
		}
		s.Steps = append(s.Steps, impair.Step{At: st.At, For: st.For, Profile: p})
	}
	switch n.Direction {
	case DirIn:
		return s, in, nil
	case DirOut:
		return in, s, nil
	}
	return s, s, nil
}
