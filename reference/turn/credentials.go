package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are defined with HMAC-SHA1
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v4"
)

// RESTPassword is the TURN REST password for username under secret:
// base64(HMAC-SHA1(secret, username)).
func RESTPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) // hash.Hash.Write never returns an error
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// RESTCredentials mints time-limited TURN REST credentials for user that
// expire at expiry: username "<unix-expiry>:<user>" and its RESTPassword.
func RESTCredentials(secret, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	return username, RESTPassword(secret, username)
}

// parseRESTUsername splits "<unix-expiry>:<user>" (or a bare expiry).
func parseRESTUsername(username string) (expiry int64, user string, ok bool) {
	ts, user, _ := strings.Cut(username, ":")
	if ts == "" || strings.Trim(ts, "0123456789") != "" {
		return 0, "", false
	}
	expiry, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return expiry, user, true
}

// Reasons a username gets no key (for logs and metrics).
const (
	reasonUnknownUser = "unknown-user"
	reasonExpired     = "expired"
	reasonWrongRealm  = "wrong-realm"
)

// credentials turns a USERNAME and REALM into the long-term keys a request
// may be signed with (RFC 8489 9.2.2): one for a static user, one per
// accepted secret for a TURN REST username.
type credentials struct {
	realm       string
	secrets     []string
	users       map[string]string
	checkExpiry bool
	now         func() time.Time
}

func newCredentials(c Config) *credentials {
	return &credentials{
		realm:       c.Realm,
		secrets:     c.Secrets,
		users:       c.Users,
		checkExpiry: !c.weakened(WeakenCredentialExpiry),
		now:         c.now,
	}
}

// keys returns the user id the quota counts by and the candidate keys, or
// a reason when there is none.
func (c *credentials) keys(username, realm string) (userID string, keys []stun.MessageIntegrity, reason string) {
	if realm != c.realm {
		return "", nil, reasonWrongRealm
	}
	if pw, ok := c.users[username]; ok {
		return username, []stun.MessageIntegrity{stun.NewLongTermIntegrity(username, realm, pw)}, ""
	}
	expiry, user, ok := parseRESTUsername(username)
	if !ok || len(c.secrets) == 0 {
		return "", nil, reasonUnknownUser
	}
	if c.checkExpiry && expiry < c.now().Unix() {
		return "", nil, reasonExpired
	}
	if user == "" {
		user = username
	}
	for _, s := range c.secrets {
		keys = append(keys, stun.NewLongTermIntegrity(username, realm, RESTPassword(s, username)))
	}
	return user, keys, ""
}
