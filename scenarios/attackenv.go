package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// AttackEnv returns what attacks may use of this target: its sections as
// the file gives them, and factories for agents, each on its own loopback
// source address behind the target's guard and paced by clock. Captures
// go to captureDir when it is set. Attacks use the target's users from
// index firstUser on (the known account first, agents after it), so that
// attacks beside a load run leave the load's users alone: some lock their
// account out on purpose.
func (t *Target) AttackEnv(ctx context.Context, clock *media.Clock, log *slog.Logger, captureDir string, firstUser int) (*attack.Env, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	guard, err := t.Guard(ctx)
	if err != nil {
		return nil, err
	}
	env := &attack.Env{CaptureDir: captureDir, Log: log}
	env.SIP = attack.SIPEnv{Domain: t.SIPDomain(), WS: t.SIP.WS, InsecureTLS: t.SIP.InsecureTLS, UDP: t.SIP.UDP, TCP: t.SIP.TCP, TLS: t.SIP.TLS}
	// The first user of each kind is the known account attacks such as
	// sip-enumeration compare against; the agents start after it.
	for _, k := range []Kind{KindWebRTC, KindSIP} {
		if user, password, err := t.User(string(k), k, firstUser); err == nil {
			env.SIP.Users = append(env.SIP.Users, attack.Credential{User: user, Password: password})
			if k == KindWebRTC {
				env.SIP.Token, env.SIP.TokenInQuery = t.Token(string(k), k, user)
			}
		}
	}
	if t.TURN != nil {
		env.TURN = attack.TURNEnv{InsecureTLS: t.TURN.InsecureTLS, LoopbackPeers: t.TURN.LoopbackPeers}
		for _, s := range t.TURN.Servers {
			env.TURN.URLs = append(env.TURN.URLs, s.URLs...)
		}
		if r := t.TURN.REST; r != nil {
			env.TURN.RESTSecret = r.Secret.Reveal()
			if r.SecretEnv != "" {
				env.TURN.RESTSecret = lookupEnv(r.SecretEnv)
			}
		} else if st := t.TURN.Static; st != nil {
			env.TURN.Username, env.TURN.Password = st.Username, st.Password.Reveal()
			if st.PasswordEnv != "" {
				env.TURN.Password = lookupEnv(st.PasswordEnv)
			}
		}
	}
	if t.Rooms != nil {
		env.Rooms = attack.RoomsEnv{URL: t.Rooms.URL}
	}
	sources, err := t.Sources(ctx)
	if err != nil {
		return nil, err
	}
	env.Net = func(opts ...socket.Option) (*socket.Net, error) {
		src, err := sources.Next()
		if err != nil {
			return nil, err
		}
		return socket.New(append([]socket.Option{socket.WithSourceIP(src), socket.WithGuard(guard), socket.WithLogger(log)}, opts...)...)
	}
	var mu sync.Mutex
	next := map[Kind]int{}
	env.Endpoint = func(ctx context.Context, kind string, tweak ...func(*endpoint.Config)) (*endpoint.Endpoint, error) {
		k := Kind(kind)
		if k != KindWebRTC && k != KindSIP {
			return nil, fmt.Errorf("attack env: kind %q (want %s or %s)", kind, KindWebRTC, KindSIP)
		}
		mu.Lock()
		next[k]++
		i := firstUser + next[k]
		mu.Unlock()
		n, err := env.Net()
		if err != nil {
			return nil, err
		}
		cfg, err := t.EndpointConfig(NewPopulation(kind, k, 1), i, n, clock)
		if err != nil {
			return nil, err
		}
		cfg.Logger, cfg.SIP.Logger = log, log
		for _, fn := range tweak {
			fn(&cfg)
		}
		return endpoint.New(ctx, cfg)
	}
	if err := t.endpointTURNCredentials(ctx, env, firstUser); err != nil {
		log.Warn("TURN attacks get no credentials", "error", err)
	}
	return env, nil
}

// endpointTURNCredentials asks the target's TURN credential endpoint, if
// it has one, for the known account's credentials, once: TURN attacks use
// them as a static user's.
func (t *Target) endpointTURNCredentials(ctx context.Context, env *attack.Env, firstUser int) error {
	if t.TURN == nil || t.TURN.Endpoint == nil {
		return nil
	}
	user, password, err := t.User(string(KindWebRTC), KindWebRTC, firstUser)
	if err != nil {
		return err
	}
	n, err := env.Net()
	if err != nil {
		return err
	}
	token, _ := t.Token(string(KindWebRTC), KindWebRTC, user)
	src, err := t.TURNSource(TURNLogin{User: user, Password: password, Token: token}, n, false)
	if err != nil {
		return err
	}
	uris, err := src(ctx)
	if err != nil {
		return err
	}
	for _, u := range uris {
		if isTURN(u) {
			env.TURN.Username, env.TURN.Password = u.Username, u.Password
			return nil
		}
	}
	return nil
}

func lookupEnv(name string) string {
	v, _ := os.LookupEnv(name)
	return v
}
