package scenarios

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"

	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"gopkg.in/yaml.v3"
)

// Target is a target file: where the deployment under test listens, and
// which users the virtual users log in as. Passwords are Secrets: printing
// or encoding a Target never shows them.
type Target struct {
	Name string // shown in reports
	// Authorized allows attacks against non-loopback targets (a later
	// task); load and conformance runs do not need it.
	Authorized bool
	SIP        SIPTarget
	// Users are keyed by population name, else by kind ("webrtc", "sip"):
	// a population takes the entry named after it, or failing that the
	// entry named after its kind.
	Users map[string]UserSpec
	// TURN is the target's TURN relays, nil when it names none.
	TURN *TURNTarget
	// Rooms is the rooms service, nil when there is none.
	Rooms *RoomsTarget
	// SourceAddrs are this machine's addresses virtual users bind toward
	// a target outside loopback, in turn; empty: the routing table's
	// choice (see Sources).
	SourceAddrs []netip.Addr

	src *source
}

// SIPTarget is where SIP is spoken.
type SIPTarget struct {
	// Domain is the AOR domain; empty means the host of WS, else of UDP
	// (see Target.SIPDomain).
	Domain string
	// WS is the SIP-over-WebSocket URL (ws:// or wss://) webrtc agents use.
	WS string
	// UDP is the host:port of SIP over UDP that sip agents use.
	UDP string
	// TCP and TLS are host:port of SIP over TCP and over TLS, for sip
	// populations whose transport says so.
	TCP, TLS string
	// InsecureTLS accepts a wss certificate that does not verify (a
	// self-signed test deployment). Only meaningful with a wss:// WS.
	InsecureTLS bool
	// SRTP is how the deployment protects media toward phones (its
	// trunk/PBX side): "" or SRTPNone for plain RTP/AVP, SRTPSDES for
	// SDES-SRTP (RFC 4568: RTP/SAVP with a=crypto). sip agents follow it.
	SRTP string
	// SDESSuites are the crypto-suites sip agents offer and accept with
	// SRTP sdes, in order (default: every one plainrtp.SDESSuites names).
	SDESSuites []string
}

// Values of SIPTarget.SRTP.
const (
	SRTPNone = "none"
	SRTPSDES = "sdes"
)

// PhoneSDES is what sip agents on this target offer and accept as
// SDES-SRTP crypto-suites (endpoint.Config.SDES): nil for plain RTP.
func (t *Target) PhoneSDES() []string {
	switch {
	case t.SIP.SRTP != SRTPSDES:
		return nil
	case len(t.SIP.SDESSuites) > 0:
		return slices.Clone(t.SIP.SDESSuites)
	}
	return plainrtp.SDESSuites()
}

// UserSpec says how the i-th virtual user of a population logs in: user
// name Pattern with "{n}" replaced by Start+i, and a password given in the
// file or, better, named by an environment variable.
type UserSpec struct {
	Pattern     string
	Start       int
	Password    Secret
	PasswordEnv string // name of the environment variable holding the password
	// Token, when set, is the bearer token the entry's users present on
	// the SIP WebSocket upgrade and to a TURN credential endpoint.
	Token *TokenSpec
}

// LoadTarget reads, decodes and validates the target file at path.
func LoadTarget(path string) (*Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load target: %w", err)
	}
	return ParseTarget(path, data)
}

// ParseTarget decodes and validates a target file; name is the file name
// used in error messages. Decoding is as strict as Parse's.
func ParseTarget(name string, data []byte) (*Target, error) {
	d := newDecoder(name)
	root := d.document(data)
	if root == nil {
		return nil, d.errs.err()
	}
	t := &Target{src: d.src}
	d.target(root, t)
	t.validate(d.errs)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return t, nil
}

func (d *decoder) target(root *yaml.Node, t *Target) {
	f := d.mapping(root, "", "name", "authorized", "sip", "users", "turn", "rooms", "sources")
	if v, ok := f["sources"]; ok {
		items, _ := d.strs(v.val, "sources")
		for i, it := range items {
			a, err := netip.ParseAddr(it)
			if err != nil {
				d.errs.at(v.pos(), indexPath("sources", i), ErrSyntax, "%q is not an IP address", it)
				continue
			}
			t.SourceAddrs = append(t.SourceAddrs, a.Unmap())
		}
	}
	if v, ok := f["turn"]; ok {
		t.TURN = &TURNTarget{}
		d.turn(v.val, t.TURN)
	}
	if v, ok := f["rooms"]; ok {
		t.Rooms = &RoomsTarget{}
		d.rooms(v.val, t.Rooms)
	}
	if v, ok := f["name"]; ok {
		t.Name, _ = d.str(v.val, "name")
	}
	if v, ok := f["authorized"]; ok {
		t.Authorized, _ = d.boolean(v.val, "authorized")
	}
	if v, ok := f["sip"]; ok {
		sf := d.mapping(v.val, "sip", "domain", "ws", "udp", "tcp", "tls", "insecure_tls", "srtp", "sdes_suites")
		for name, dst := range map[string]*string{"domain": &t.SIP.Domain, "ws": &t.SIP.WS, "udp": &t.SIP.UDP, "tcp": &t.SIP.TCP, "tls": &t.SIP.TLS, "srtp": &t.SIP.SRTP} {
			if v, ok := sf[name]; ok {
				*dst, _ = d.str(v.val, joinPath("sip", name))
			}
		}
		if v, ok := sf["insecure_tls"]; ok {
			t.SIP.InsecureTLS, _ = d.boolean(v.val, "sip.insecure_tls")
		}
		if v, ok := sf["sdes_suites"]; ok {
			t.SIP.SDESSuites, _ = d.strs(v.val, "sip.sdes_suites")
		}
	}
	if v, ok := f["users"]; ok {
		uf := d.mapping(v.val, "users", sortedKeys(v.val)...)
		t.Users = make(map[string]UserSpec, len(uf))
		for key, e := range uf {
			t.Users[key] = d.userSpec(e.val, joinPath("users", key))
		}
	}
}

func (d *decoder) userSpec(n *yaml.Node, path string) UserSpec {
	var u UserSpec
	f := d.mapping(n, path, "pattern", "start", "password", "password_env", "token")
	if v, ok := f["pattern"]; ok {
		u.Pattern, _ = d.str(v.val, joinPath(path, "pattern"))
	}
	if v, ok := f["start"]; ok {
		u.Start = d.smallInt(v.val, joinPath(path, "start"))
	}
	if v, ok := f["password"]; ok {
		p := joinPath(path, "password")
		if n := resolve(v.val); n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			u.Password = Secret(n.Value)
		} else {
			d.errs.at(v.pos(), p, ErrType, "want a string (quote it); the value is not shown, it is a password")
		}
	}
	if v, ok := f["password_env"]; ok {
		u.PasswordEnv, _ = d.str(v.val, joinPath(path, "password_env"))
	}
	if v, ok := f["token"]; ok {
		u.Token = d.token(v.val, joinPath(path, "token"))
	}
	return u
}

// sortedKeys lists a mapping's string keys: the users mapping takes any
// name as a key (validation checks them), so its "known" keys are its own.
func sortedKeys(n *yaml.Node) []string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.ShortTag() == "!!str" {
			keys = append(keys, k.Value)
		}
	}
	sort.Strings(keys)
	return keys
}

// File is the file the target was loaded from ("" when built in code).
func (t *Target) File() string { return t.src.fileName() }

// targetView is how a Target is shown: passwords redacted (Secret does
// that), in the file's own field names.
type targetView struct {
	Name       string              `yaml:"name" json:"name"`
	Authorized bool                `yaml:"authorized" json:"authorized"`
	SIP        sipView             `yaml:"sip" json:"sip"`
	Users      map[string]userView `yaml:"users,omitempty" json:"users,omitempty"`
	TURN       *turnView           `yaml:"turn,omitempty" json:"turn,omitempty"`
	Rooms      *RoomsTarget        `yaml:"rooms,omitempty" json:"rooms,omitempty"`
	Sources    []netip.Addr        `yaml:"sources,omitempty" json:"sources,omitempty"`
}

type turnView struct {
	Servers     []turnServerView `yaml:"servers" json:"servers"`
	InsecureTLS bool             `yaml:"insecure_tls" json:"insecure_tls"`
	Loopback    bool             `yaml:"loopback_peers" json:"loopback_peers"`
	REST        *turnRESTView    `yaml:"rest,omitempty" json:"rest,omitempty"`
	Static      *turnStaticView  `yaml:"static,omitempty" json:"static,omitempty"`
}

type turnServerView struct {
	URLs  []string `yaml:"urls" json:"urls"`
	TLSCA bool     `yaml:"tls_ca" json:"tls_ca"` // whether one is given
}

type turnRESTView struct {
	Secret    Secret `yaml:"secret,omitempty" json:"secret,omitempty"`
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	TTL       string `yaml:"ttl" json:"ttl"`
}

type turnStaticView struct {
	Username    string `yaml:"username" json:"username"`
	Password    Secret `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
}

func (t *TURNTarget) view() *turnView {
	if t == nil {
		return nil
	}
	v := &turnView{InsecureTLS: t.InsecureTLS, Loopback: t.LoopbackPeers}
	for _, s := range t.Servers {
		v.Servers = append(v.Servers, turnServerView{URLs: s.URLs, TLSCA: s.TLSCA != ""})
	}
	if t.REST != nil {
		v.REST = &turnRESTView{Secret: t.REST.Secret, SecretEnv: t.REST.SecretEnv, TTL: t.REST.TTL.String()}
	}
	if t.Static != nil {
		v.Static = &turnStaticView{Username: t.Static.Username, Password: t.Static.Password, PasswordEnv: t.Static.PasswordEnv}
	}
	return v
}

type sipView struct {
	Domain      string   `yaml:"domain,omitempty" json:"domain,omitempty"`
	WS          string   `yaml:"ws,omitempty" json:"ws,omitempty"`
	UDP         string   `yaml:"udp,omitempty" json:"udp,omitempty"`
	TCP         string   `yaml:"tcp,omitempty" json:"tcp,omitempty"`
	TLS         string   `yaml:"tls,omitempty" json:"tls,omitempty"`
	InsecureTLS bool     `yaml:"insecure_tls" json:"insecure_tls"`
	SRTP        string   `yaml:"srtp,omitempty" json:"srtp,omitempty"`
	SDESSuites  []string `yaml:"sdes_suites,omitempty" json:"sdes_suites,omitempty"`
}

type userView struct {
	Pattern     string     `yaml:"pattern" json:"pattern"`
	Start       int        `yaml:"start" json:"start"`
	Password    Secret     `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordEnv string     `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	Token       *tokenView `yaml:"token,omitempty" json:"token,omitempty"`
}

func (u UserSpec) view() userView {
	return userView{Pattern: u.Pattern, Start: u.Start, Password: u.Password, PasswordEnv: u.PasswordEnv, Token: u.Token.view()}
}

func (t Target) view() targetView {
	v := targetView{
		Name:       t.Name,
		Authorized: t.Authorized,
		SIP:        sipView(t.SIP),
		TURN:       t.TURN.view(),
		Rooms:      t.Rooms,
		Sources:    t.SourceAddrs,
	}
	if len(t.Users) > 0 {
		v.Users = make(map[string]userView, len(t.Users))
		for k, u := range t.Users {
			v.Users[k] = u.view()
		}
	}
	return v
}

// MarshalYAML renders the target as its file would read, passwords redacted.
func (t Target) MarshalYAML() (any, error) { return t.view(), nil }

// MarshalJSON renders the target for reports, passwords redacted.
func (t Target) MarshalJSON() ([]byte, error) { return json.Marshal(t.view()) }

// String renders the target as YAML with passwords redacted.
func (t Target) String() string {
	out, err := yaml.Marshal(t.view())
	if err != nil {
		return fmt.Sprintf("target %q (unprintable: %v)", t.Name, err)
	}
	return string(out)
}
