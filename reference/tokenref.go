package reference

import (
	"fmt"
	"strconv"

	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
)

// tokenYAML is the token entry of the webrtc users in the target file:
// when the gateway wants HS256 bearer tokens, the target mints them with
// the same secret; "" when it wants none, or signs with a key pair whose
// private half the reference does not hold.
func tokenYAML(j gateway.JWTConfig) string {
	if j.Algorithm != gateway.JWTHS256 {
		return ""
	}
	s := fmt.Sprintf(", token: {mint: {alg: HS256, secret: %s, audience: %s", strconv.Quote(j.Secret), strconv.Quote(j.Audience))
	if j.Issuer != "" {
		s += ", issuer: " + strconv.Quote(j.Issuer)
	}
	return s + "}}"
}
