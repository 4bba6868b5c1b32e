package plainrtp

import (
	"fmt"

	"github.com/pion/srtp/v3"
)

// Tap reads the SRTP a far end sends under one of its a=crypto attributes
// as an SDES leg would, but with no replay window: a harness tap beside a
// leg uses it to count every packet a target put on the wire that
// authenticates, replays included, which the leg's own window drops
// before anyone could count them. Not safe for concurrent use.
type Tap struct {
	suite string
	ctx   *srtp.Context
}

// NewTap returns a tap keyed by crypto, an a=crypto value as the far end's
// SDP carries it ("<tag> <crypto-suite> inline:<key||salt>..."); an
// unusable one gets ErrSDP.
func NewTap(crypto string) (*Tap, error) {
	c, err := parseCrypto(crypto)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	ctx, err := srtp.CreateContext(c.key[:c.suite.keyLen], c.key[c.suite.keyLen:], c.suite.profile,
		srtp.MasterKeyIndicator(c.mki), srtp.SRTPNoReplayProtection(), srtp.SRTCPNoReplayProtection())
	if err != nil {
		return nil, fmt.Errorf("plainrtp: SRTP context (%s): %w", c.suite.name, err)
	}
	return &Tap{suite: c.suite.name, ctx: ctx}, nil
}

// Suite is the tap's crypto-suite, e.g. "AES_CM_128_HMAC_SHA1_80".
func (t *Tap) Suite() string { return t.suite }

// DecryptRTP authenticates and decrypts an SRTP packet into dst and returns
// the RTP packet; a packet that does not authenticate under the tap's key
// is an error.
func (t *Tap) DecryptRTP(dst, sealed []byte) ([]byte, error) {
	plain, err := t.ctx.DecryptRTP(dst, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("plainrtp: tap: %w", err)
	}
	return plain, nil
}
