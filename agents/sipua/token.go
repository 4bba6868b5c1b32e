package sipua

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gobwas/ws"
)

// withToken puts cfg's bearer token on the upgrade d makes: an
// Authorization header, or an access_token query parameter of the URL it
// returns. Without a Token the URL is cfg.Server and d is untouched.
func withToken(ctx context.Context, cfg Config, d *ws.Dialer) (string, error) {
	if cfg.Token == nil {
		return cfg.Server, nil
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: bearer token for %s: %w", ErrConfig, cfg.Server, err)
	}
	if !cfg.TokenInQuery {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + tok}})
		return cfg.Server, nil
	}
	u, err := url.Parse(cfg.Server)
	if err != nil {
		return "", fmt.Errorf("%w: Server %q: %w", ErrConfig, cfg.Server, err)
	}
	q := u.Query()
	q.Set("access_token", tok)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
