package rooms

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalidConfig wraps every Validate failure.
var ErrInvalidConfig = errors.New("rooms: invalid config")

// Weaken switches: each turns one defence off, so that an attack can show
// it detects the weakness and passes where the defence is on.
const (
	// WeakenRandomRoomIDs hands out sequential room IDs (a counter in the
	// same 32 hex digits), guessable in a few tries.
	WeakenRandomRoomIDs = "random-room-ids"
	// WeakenCandidateFilter forwards signaling as the sender wrote it:
	// host, srflx and prflx candidates, raddr, c= and a=rtcp addresses and
	// any extra JSON field reach the other participants.
	WeakenCandidateFilter = "candidate-filter"
	// WeakenRateLimit switches every rate limit off (HTTP and WebSocket).
	WeakenRateLimit = "rate-limit"
	// WeakenTokenAudience accepts a room token in any room.
	WeakenTokenAudience = "token-audience"
	// WeakenUniformMissingRoom answers a missing room, a malformed room ID
	// and a bad token each differently (status and body), and creates a
	// room that a join names but nobody created.
	WeakenUniformMissingRoom = "uniform-missing-room"
)

// WeakenNames lists every switch Config.Weaken accepts.
func WeakenNames() []string {
	return []string{WeakenRandomRoomIDs, WeakenCandidateFilter, WeakenRateLimit, WeakenTokenAudience, WeakenUniformMissingRoom}
}

// Rate is a token bucket: PerSecond sustained, Burst at once.
type Rate struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// RateLimits are the per-source-IP limits of each endpoint and the
// per-connection limit of WebSocket messages.
type RateLimits struct {
	Create      Rate `yaml:"create"`        // POST /v1/rooms
	Join        Rate `yaml:"join"`          // POST /v1/rooms/{room}/join, probes of missing rooms included
	Credentials Rate `yaml:"credentials"`   // POST /v1/rooms/{room}/turn
	WSUpgrade   Rate `yaml:"ws_upgrade"`    // GET /v1/rooms/{room}/ws
	WSMessages  Rate `yaml:"ws_messages"`   // per connection
	MaxTracked  int  `yaml:"max_tracked"`   // sources remembered per limiter (least recent forgotten)
	MaxStrikes  int  `yaml:"max_strikes"`   // messages refused in a row before the connection is closed (1008)
	RetryAfter  int  `yaml:"retry_after_s"` // the smallest Retry-After, seconds
}

// Config is the rooms service's configuration. Start from DefaultConfig;
// the zero value is not valid. In a YAML file, every field not given
// keeps its default.
type Config struct {
	// Addr is the HTTP listen address (IP literal and port; port 0 picks
	// a free one).
	Addr string `yaml:"addr"`
	// TokenTTL is how long a room token may be used to open the signaling
	// connection and fetch TURN credentials.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// TokenSecret signs room tokens (HS256); empty: 32 random bytes at New.
	TokenSecret string `yaml:"token_secret"`
	// Issuer is the tokens' iss.
	Issuer string `yaml:"issuer"`
	// CredentialTTL is the lifetime of the TURN REST credentials issued per
	// session.
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// RoomTTL is how long a room nobody is in stays before it is removed.
	RoomTTL time.Duration `yaml:"room_ttl"`
	// MaxParticipants caps a room (tokens and connections).
	MaxParticipants int `yaml:"max_participants"`
	// MaxRooms caps the rooms alive at once; creating one more gets 503.
	MaxRooms int `yaml:"max_rooms"`
	// MaxMessageBytes caps one signaling message.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// RateLimit holds the rate limits.
	RateLimit RateLimits `yaml:"rate_limit"`
	// Weaken lists defences to switch off (WeakenNames).
	Weaken []string `yaml:"weaken"`

	// TURNURLs and TURNSecret are the TURN relay sessions get credentials
	// for (TURN REST: HMAC-SHA1 of "expiry:session" with the secret). The
	// reference fills them from its running relay; both are required.
	TURNURLs   []string `yaml:"-"`
	TURNSecret string   `yaml:"-"`

	// Listener, if set, is served instead of listening on Addr.
	Listener net.Listener `yaml:"-"`
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger `yaml:"-"`
	// Now is the clock tokens and credentials expire by; nil: time.Now.
	Now func() time.Time `yaml:"-"`
}

// DefaultConfig returns the hardened defaults: 127.0.0.1 on a free port,
// tokens valid 60 s, TURN credentials 10 minutes, rooms of at most 8, and
// rate limits no legitimate user (one source address each) comes near.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:0",
		TokenTTL:        60 * time.Second,
		Issuer:          "gauntlet-rooms",
		CredentialTTL:   10 * time.Minute,
		RoomTTL:         10 * time.Minute,
		MaxParticipants: 8,
		MaxRooms:        100_000,
		MaxMessageBytes: 64 << 10,
		RateLimit: RateLimits{
			Create:      Rate{PerSecond: 2, Burst: 10},
			Join:        Rate{PerSecond: 5, Burst: 20},
			Credentials: Rate{PerSecond: 5, Burst: 20},
			WSUpgrade:   Rate{PerSecond: 5, Burst: 20},
			WSMessages:  Rate{PerSecond: 50, Burst: 200},
			MaxTracked:  65536,
			MaxStrikes:  50,
			RetryAfter:  1,
		},
	}
}

// UnmarshalYAML lays what the node sets over DefaultConfig, refusing keys
// the Config does not have (as a KnownFields decoder would).
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, reflect.TypeOf(*c), ""); err != nil {
		return err
	}
	*c = DefaultConfig()
	type plain Config
	return n.Decode((*plain)(c))
}

// knownKeys refuses mapping keys that no yaml tag of t names.
func knownKeys(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			return fmt.Errorf("line %d: field %s%s not found in type rooms.Config", k.Line, path, k.Value)
		}
		if err := knownKeys(n.Content[i+1], f.Type, path+k.Value+"."); err != nil {
			return err
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == key && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// Validate reports the first invalid field, wrapped in ErrInvalidConfig.
// It never changes the config. TURNURLs and TURNSecret are checked too:
// the reference sets them before it validates.
func (c Config) Validate() error {
	if c.Listener == nil {
		ap, err := netip.ParseAddrPort(c.Addr)
		if err != nil {
			return invalid("addr", "%q is not IP:port: %v", c.Addr, err)
		}
		if ap.Addr().IsUnspecified() {
			return invalid("addr", "%q: bind a specific address", c.Addr)
		}
	}
	switch {
	case c.TokenTTL < time.Second || c.TokenTTL > 15*time.Minute:
		return invalid("token_ttl", "%v is outside [1s, 15m] (tokens are short-lived)", c.TokenTTL)
	case c.TokenSecret != "" && len(c.TokenSecret) < 32:
		return invalid("token_secret", "shorter than 32 characters")
	case c.Issuer == "":
		return invalid("issuer", "empty")
	case c.CredentialTTL < time.Minute || c.CredentialTTL > 24*time.Hour:
		return invalid("credential_ttl", "%v is outside [1m, 24h]", c.CredentialTTL)
	case c.RoomTTL < time.Second:
		return invalid("room_ttl", "%v is below 1s", c.RoomTTL)
	case c.MaxParticipants < 2 || c.MaxParticipants > 64:
		return invalid("max_participants", "%d is outside [2, 64]", c.MaxParticipants)
	case c.MaxRooms < 1:
		return invalid("max_rooms", "%d is below 1", c.MaxRooms)
	case c.MaxMessageBytes < 4096:
		return invalid("max_message_bytes", "%d is below 4096 (an SDP offer must fit)", c.MaxMessageBytes)
	}
	if err := c.RateLimit.validate(); err != nil {
		return err
	}
	for i, w := range c.Weaken {
		if !slices.Contains(WeakenNames(), w) {
			return invalid(fmt.Sprintf("weaken[%d]", i), "%q is not one of %s", w, strings.Join(WeakenNames(), ", "))
		}
	}
	if len(c.TURNURLs) == 0 || c.TURNSecret == "" {
		return invalid("turn", "no TURN relay with a REST secret: sessions are relayed only, so the rooms service needs one")
	}
	return nil
}

func (r RateLimits) validate() error {
	for _, l := range []struct {
		name string
		r    Rate
	}{{"create", r.Create}, {"join", r.Join}, {"credentials", r.Credentials}, {"ws_upgrade", r.WSUpgrade}, {"ws_messages", r.WSMessages}} {
		if l.r.PerSecond <= 0 || l.r.Burst < 1 {
			return invalid("rate_limit."+l.name, "per_second %v and burst %d must both be positive", l.r.PerSecond, l.r.Burst)
		}
	}
	switch {
	case r.MaxTracked < 1:
		return invalid("rate_limit.max_tracked", "%d is below 1", r.MaxTracked)
	case r.MaxStrikes < 1:
		return invalid("rate_limit.max_strikes", "%d is below 1", r.MaxStrikes)
	case r.RetryAfter < 1:
		return invalid("rate_limit.retry_after_s", "%d is below 1", r.RetryAfter)
	}
	return nil
}

func (c Config) weakened(name string) bool { return slices.Contains(c.Weaken, name) }

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}
