package scenarios

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/pion/stun/v4"
	"gopkg.in/yaml.v3"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/turncred"
)

// CredentialEndpoint is a deployment's TURN credential URL: what its web
// app asks before each call, answering the TURN REST API's JSON
// ({username, password, ttl, uris}). The relays are still the ones under
// turn.servers (the guard and the NAT expectations need them before any
// call); the answer's uris are not followed.
//
//	credentials:
//	  endpoint: {url: https://sbc.example.com/turn-credentials, auth: basic}
//
// Auth is how the virtual user proves who it is: basic (its SIP user name
// and password, the default), bearer (its users entry's token) or none.
type CredentialEndpoint struct {
	URL         string
	Auth        string
	InsecureTLS bool // accept an https certificate that does not verify
}

// Credential endpoint authentications.
const (
	CredentialAuthBasic  = "basic"
	CredentialAuthBearer = "bearer"
	CredentialAuthNone   = "none"
)

func (d *decoder) credentialEndpoint(n *yaml.Node, path string) *CredentialEndpoint {
	f := d.mapping(n, path, "url", "auth", "insecure_tls")
	e := &CredentialEndpoint{Auth: CredentialAuthBasic}
	if v, ok := f["url"]; ok {
		e.URL, _ = d.str(v.val, joinPath(path, "url"))
	}
	if v, ok := f["auth"]; ok {
		e.Auth, _ = d.str(v.val, joinPath(path, "auth"))
	}
	if v, ok := f["insecure_tls"]; ok {
		e.InsecureTLS, _ = d.boolean(v.val, joinPath(path, "insecure_tls"))
	}
	return e
}

func (v validator) credentialEndpoint(path string, e *CredentialEndpoint) {
	u, err := url.Parse(e.URL)
	switch {
	case e.URL == "":
		v.l.add(joinPath(path, "url"), ErrRequired, "required: the URL the deployment's web app gets TURN credentials from")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		v.l.add(joinPath(path, "url"), ErrSyntax, "bad URL: want http:// or https:// with a host")
	case u.User != nil:
		v.l.add(joinPath(path, "url"), ErrConflict, "the URL holds credentials, which would end up in reports")
	}
	switch e.Auth {
	case CredentialAuthBasic, CredentialAuthBearer, CredentialAuthNone:
	default:
		v.l.add(joinPath(path, "auth"), ErrUnknownName, "%q: want basic, bearer or none", e.Auth)
	}
}

// endpointHost is the credential endpoint's host, "" when there is none.
func (t *Target) endpointHost() string {
	if t.TURN == nil || t.TURN.Endpoint == nil {
		return ""
	}
	u, err := url.Parse(t.TURN.Endpoint.URL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// TURNLogin is who a virtual user is toward a TURN credential endpoint.
type TURNLogin struct {
	User, Password string
	Token          func(context.Context) (string, error) // nil: none
}

// TURNSource returns the function that gives a virtual user its TURN
// servers for each call, with credentials valid from that moment: minted
// from the REST secret, the static user's, or asked of the credential
// endpoint over the user's own socket layer n (kept until half their
// lifetime is gone). With stunOnly, its stun: servers and no credentials.
// It returns nil without a turn section.
func (t *Target) TURNSource(login TURNLogin, n *socket.Net, stunOnly bool) (func(context.Context) ([]*stun.URI, error), error) {
	if t.TURN == nil {
		return nil, nil
	}
	if stunOnly || t.TURN.Endpoint == nil {
		if _, err := t.turnURIs("", "", stunOnly); err != nil {
			return nil, err
		}
		return func(context.Context) ([]*stun.URI, error) {
			username, password, _ := t.TURNCredentials(login.User, time.Now())
			return t.turnURIs(username, password, stunOnly)
		}, nil
	}
	e := t.TURN.Endpoint
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:       n.DialContext,
		DisableKeepAlives: true,                                                                         // asked once in a while: no idle connection per virtual user
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: e.InsecureTLS}, //nolint:gosec // only when the target file says so
	}}
	req := turncred.Request{URL: e.URL, Client: client, Auth: login.auth(e.Auth)}
	src := turncred.NewSource(req, nil)
	return func(ctx context.Context) ([]*stun.URI, error) {
		c, err := src.Get(ctx)
		if err != nil {
			return nil, err
		}
		return t.turnURIs(c.Username, c.Password, false)
	}, nil
}

// auth signs a credential request the way mode says.
func (l TURNLogin) auth(mode string) func(context.Context, *http.Request) error {
	switch mode {
	case CredentialAuthBasic:
		return func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(l.User, l.Password)
			return nil
		}
	case CredentialAuthBearer:
		return func(ctx context.Context, r *http.Request) error {
			if l.Token == nil {
				return fmt.Errorf("%w: the users entry of %s names no token for auth: bearer", ErrNoToken, l.User)
			}
			tok, err := l.Token(ctx)
			if err != nil {
				return err
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	}
	return nil
}

// lookupSecret is a secret given in the file or by environment variable.
func lookupSecret(s Secret, env string) string {
	if env != "" {
		return os.Getenv(env)
	}
	return s.Reveal()
}
