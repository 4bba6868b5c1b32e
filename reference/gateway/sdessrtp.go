package gateway

import (
	"fmt"
	"sync"

	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// sdesReplayWindow is the replay window of a phone leg's inbound SRTP
// context: RFC 3711 3.3.2 wants at least 64 (the browser legs use 128).
const sdesReplayWindow = 128

// sdesKeys is the SDES-SRTP side of one phone leg (RFC 3711): the suites
// it may use, what it offered or negotiated, and one SRTP context per
// direction, the outbound keyed by the gateway's a=crypto and the inbound
// by the phone's. One lock guards it all: the phone's packets are
// decrypted on the leg's read goroutine, the peer's encrypted on the
// peer's, and re-INVITEs re-key from the SIP side.
type sdesKeys struct {
	suites []sdesSuite
	replay bool // inbound replay protection (off when weakened)

	mu      sync.Mutex
	offered []cryptoAttr // the gateway's initial offer, until answered
	local   cryptoAttr   // the gateway's attribute, once negotiated
	remote  cryptoAttr   // the phone's
	tx, rx  *srtp.Context
}

func newSDESKeys(suites []sdesSuite, replay bool) *sdesKeys {
	return &sdesKeys{suites: suites, replay: replay}
}

// offer makes the gateway's a=crypto lines for its first offer: one per
// configured suite, tags 1, 2, ... in order of preference, fresh keys.
func (k *sdesKeys) offer() ([]cryptoAttr, error) {
	out := make([]cryptoAttr, 0, len(k.suites))
	for i, s := range k.suites {
		a, err := newCryptoAttr(uint32(i+1), s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	k.mu.Lock()
	k.offered = out
	k.mu.Unlock()
	return out, nil
}

// answered keys both directions from the phone's answer to the offer.
func (k *sdesKeys) answered(lines []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	ours, theirs, err := matchCrypto(lines, k.offered)
	if err != nil {
		return err
	}
	if err := k.keyTx(ours); err != nil {
		return err
	}
	return k.keyRx(theirs)
}

// answer takes the a=crypto the phone's offer (or re-offer) carries for
// the chosen suite and returns the gateway's, under the phone's tag: the
// key it already sends with when the suite stays, else a fresh one. A new
// key of the phone's re-keys the inbound context; the same one keeps it,
// and its replay window.
func (k *sdesKeys) answer(theirs cryptoAttr) (cryptoAttr, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ours := k.local
	if k.tx == nil || ours.Suite.name != theirs.Suite.name {
		var err error
		if ours, err = newCryptoAttr(theirs.Tag, theirs.Suite); err != nil {
			return cryptoAttr{}, err
		}
		if err := k.keyTx(ours); err != nil {
			return cryptoAttr{}, err
		}
	}
	k.local.Tag = theirs.Tag
	if err := k.keyRx(theirs); err != nil {
		return cryptoAttr{}, err
	}
	return k.local, nil
}

// reanswered takes the phone's answer to a re-offer of the gateway's (which
// repeats its negotiated attribute): a new key of the phone's re-keys the
// inbound context.
func (k *sdesKeys) reanswered(lines []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, theirs, err := matchCrypto(lines, []cryptoAttr{k.local})
	if err != nil {
		return err
	}
	return k.keyRx(theirs)
}

// current is the gateway's negotiated attribute, which its re-offers
// repeat (same tag, same key: RFC 4568 allows it).
func (k *sdesKeys) current() cryptoAttr {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.local
}

// suite is the negotiated suite's name, "" before.
func (k *sdesKeys) suite() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tx == nil {
		return ""
	}
	return k.local.Suite.name
}

// keyTx sets the outbound context; the caller holds k.mu.
func (k *sdesKeys) keyTx(a cryptoAttr) error {
	ctx, err := srtp.CreateContext(a.Key[:a.Suite.keyLen], a.Key[a.Suite.keyLen:], a.Suite.profile, srtp.MasterKeyIndicator(a.MKI))
	if err != nil {
		return fmt.Errorf("SRTP context (%s): %w", a.Suite.name, err)
	}
	k.local, k.tx = a, ctx
	return nil
}

// keyRx sets the inbound context unless a keys it as it is; the caller
// holds k.mu.
func (k *sdesKeys) keyRx(a cryptoAttr) error {
	if k.rx != nil && a.sameKey(k.remote) {
		k.remote.Tag = a.Tag
		return nil
	}
	replay := []srtp.ContextOption{srtp.SRTPReplayProtection(sdesReplayWindow), srtp.SRTCPReplayProtection(sdesReplayWindow)}
	if !k.replay {
		replay = []srtp.ContextOption{srtp.SRTPNoReplayProtection(), srtp.SRTCPNoReplayProtection()}
	}
	ctx, err := srtp.CreateContext(a.Key[:a.Suite.keyLen], a.Key[a.Suite.keyLen:], a.Suite.profile,
		append(replay, srtp.MasterKeyIndicator(a.MKI))...)
	if err != nil {
		return fmt.Errorf("SRTP context (%s): %w", a.Suite.name, err)
	}
	k.remote, k.rx = a, ctx
	return nil
}

// seal encrypts a marshalled RTP packet toward the phone.
func (k *sdesKeys) seal(plain []byte) ([]byte, error) {
	return k.outbound(func(c *srtp.Context) ([]byte, error) { return c.EncryptRTP(nil, plain, nil) })
}

// sealRTCP encrypts a marshalled compound RTCP packet toward the phone.
func (k *sdesKeys) sealRTCP(plain []byte) ([]byte, error) {
	return k.outbound(func(c *srtp.Context) ([]byte, error) { return c.EncryptRTCP(nil, plain, nil) })
}

// open decrypts and authenticates an SRTP packet from the phone into dst;
// a bad tag, a replay or a too-old index is an error (the caller drops
// the packet without a word).
func (k *sdesKeys) open(dst, sealed []byte) ([]byte, error) {
	return k.inbound(func(c *srtp.Context) ([]byte, error) { return c.DecryptRTP(dst, sealed, nil) })
}

// openRTCP is open for SRTCP.
func (k *sdesKeys) openRTCP(dst, sealed []byte) ([]byte, error) {
	return k.inbound(func(c *srtp.Context) ([]byte, error) { return c.DecryptRTCP(dst, sealed, nil) })
}

func (k *sdesKeys) outbound(f func(*srtp.Context) ([]byte, error)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tx == nil {
		return nil, fmt.Errorf("SRTP toward the phone is not keyed yet")
	}
	return f(k.tx)
}

func (k *sdesKeys) inbound(f func(*srtp.Context) ([]byte, error)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rx == nil {
		return nil, fmt.Errorf("SRTP from the phone is not keyed yet")
	}
	return f(k.rx)
}

// phoneKeys returns a new phone leg's SDES state: nil for plain RTP, else
// the configured suites, with inbound replay protection unless weakened.
func (g *Gateway) phoneKeys() *sdesKeys {
	if !g.cfg.sdes() {
		return nil
	}
	return newSDESKeys(g.cfg.phoneSuites(), !g.cfg.weakened(WeakenReplayProtection))
}

// offerSuites are the suites a phone's offer must use: nil when plain
// RTP/AVP is spoken toward phones.
func (g *Gateway) offerSuites() []sdesSuite {
	if !g.cfg.sdes() {
		return nil
	}
	return g.cfg.phoneSuites()
}

// rekey applies a phone's re-offer to an SDES leg: its a=crypto for the
// negotiated suite (else the first usable) keys the inbound context anew
// when the key changed, and the gateway's answer keeps its own key under
// the phone's tag unless the suite changed.
func (r *rtpLeg) rekey(audio *sdp.MediaDescription) error {
	if r.sdes == nil {
		return nil
	}
	theirs, err := pickCrypto(cryptoValues(audio), r.sdes.suites, r.sdes.suite())
	if err != nil {
		return err
	}
	_, err = r.sdes.answer(theirs)
	return err
}
