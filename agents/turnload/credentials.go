package turnload

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are defined with HMAC-SHA1
	"encoding/base64"
	"strconv"
	"time"
)

// RESTPassword is the TURN REST password for username under secret:
// base64(HMAC-SHA1(secret, username)).
func RESTPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) // hash.Hash.Write never returns an error
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// RESTCredentials mints time-limited TURN REST credentials for user that
// expire at expiry: username "<unix-expiry>:<user>" (a bare expiry when user
// is empty) and its RESTPassword.
func RESTCredentials(secret, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	return username, RESTPassword(secret, username)
}
