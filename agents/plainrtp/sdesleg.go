package plainrtp

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/sdp/v3"
)

// offerCrypto makes our offer's a=crypto lines: one per suite, tags from 1
// in order of preference, each with a fresh key.
func offerCrypto(suites []sdesSuite) ([]cryptoLine, error) {
	out := make([]cryptoLine, 0, len(suites))
	for i, s := range suites {
		c, err := newCrypto(uint32(i+1), s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// answerCrypto checks an offer's transport against the leg's SDES config
// and, for RTP/SAVP, picks the first usable offered line and keys both
// directions: ours with a fresh key under the offer's tag. nil: plain RTP.
func (l *Leg) answerCrypto(r remoteDesc) (*sdesSession, error) {
	switch {
	case r.savp && len(l.suites) == 0:
		return nil, fmt.Errorf("%w: RTP/SAVP (SDES-SRTP) offered, and the leg speaks plain RTP only (Config.SDES is empty)", ErrSDP)
	case !r.savp && len(l.suites) > 0:
		return nil, fmt.Errorf("%w: plain RTP/AVP offered, and the leg requires SDES-SRTP (RTP/SAVP)", ErrSDP)
	case !r.savp:
		return nil, nil
	}
	remote, err := pickCrypto(r.crypto, l.suites)
	if err != nil {
		return nil, err
	}
	local, err := newCrypto(remote.tag, remote.suite)
	if err != nil {
		return nil, err
	}
	return newSDESSession(local, remote)
}

// acceptCrypto checks an answer against our offer: RTP/SAVP with exactly
// one a=crypto under one of our tags when we offered SDES, plain RTP/AVP
// when we did not. nil: plain RTP.
func (l *Leg) acceptCrypto(r remoteDesc) (*sdesSession, error) {
	switch {
	case len(l.offered) == 0 && r.savp:
		return nil, fmt.Errorf("%w: an RTP/SAVP answer to a plain RTP/AVP offer", ErrSDP)
	case len(l.offered) == 0:
		return nil, nil
	case !r.savp:
		return nil, fmt.Errorf("%w: a plain RTP/AVP answer to an RTP/SAVP (SDES-SRTP) offer", ErrSDP)
	}
	local, remote, err := matchAnswer(r.crypto, l.offered)
	if err != nil {
		return nil, err
	}
	return newSDESSession(local, remote)
}

// SRTP names what the SDP exchange negotiated: "SDES <crypto-suite>",
// e.g. "SDES AES_CM_128_HMAC_SHA1_80", or "" for plain RTP (and before).
func (l *Leg) SRTP() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sdes == nil {
		return ""
	}
	return l.sdes.name()
}

// Update carries an SDES leg's keys through a re-INVITE. remote is the far
// end's later SDP (its re-offer, or its answer to ours) and local our own
// SDP that it answers or that answered it. The far end's a=crypto for the
// negotiated suite is taken: a new key re-keys the inbound context (RFC
// 4568 allows new keys in any offer or answer). Update returns local with
// one a=crypto only, the negotiated suite's with our key under the tag the
// far end used: what our re-offers and re-answers must carry. A plain leg
// returns local unchanged; an SDES leg whose far end drops the negotiated
// suite gets ErrSDP (changing suites mid-call is not supported).
func (l *Leg) Update(remote, local []byte) ([]byte, error) {
	l.mu.Lock()
	sess := l.sdes
	l.mu.Unlock()
	if sess == nil {
		return local, nil
	}
	_, m, err := media.AudioSection(remote) // a hold may have no usable address: only the keys matter here
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if proto := strings.Join(m.MediaName.Protos, "/"); proto != "RTP/SAVP" {
		return nil, fmt.Errorf("%w: %s in a re-INVITE of an SDES-SRTP call", ErrSDP, proto)
	}
	theirs, err := pickCrypto(cryptoValues(m), []sdesSuite{sess.local.suite})
	if err != nil {
		return nil, err
	}
	if err := sess.rekey(theirs); err != nil {
		return nil, err
	}
	ours := sess.local
	ours.tag = theirs.tag
	return withOneCrypto(local, ours), nil
}

// withOneCrypto returns sdp with its a=crypto lines replaced by c, where
// the first one was.
func withOneCrypto(sdp []byte, c cryptoLine) []byte {
	var out bytes.Buffer
	done := false
	for line := range strings.SplitAfterSeq(string(sdp), "\n") {
		if !strings.HasPrefix(line, "a=crypto:") {
			out.WriteString(line)
			continue
		}
		if !done {
			out.WriteString("a=crypto:" + c.value() + "\r\n")
			done = true
		}
	}
	return out.Bytes()
}

// openRTP returns the plaintext of an RTP packet from the socket: b itself
// on a plain leg, else b decrypted and authenticated, or false when SRTP
// dropped it (counted: a bad tag as AuthFailed, a replay as Rejected).
// Only the read goroutine of the RTP socket calls it.
func (l *Leg) openRTP(b []byte) ([]byte, bool) {
	s := l.sdes
	if s == nil {
		return b, true
	}
	plain, err := s.decryptRTP(l.dbuf[:0], b)
	if err != nil {
		l.dropped(err)
		return nil, false
	}
	l.dbuf = plain
	return plain, true
}

// openRTCP is openRTP for RTCP (SRTCP), from either read goroutine; what
// SRTCP drops counts as unreadable RTCP.
func (l *Leg) openRTCP(b []byte) ([]byte, bool) {
	s := l.sdes
	if s == nil {
		return b, true
	}
	plain, err := s.decryptRTCP(nil, b)
	if err != nil {
		l.count(&l.rtcp.unreadable)
		return nil, false
	}
	return plain, true
}

func (l *Leg) dropped(err error) {
	if authFailure(err) {
		l.count(&l.authFailed)
		return
	}
	l.count(&l.rejected)
}

// sealRTP returns what goes on the wire for a marshalled RTP packet; the
// caller holds l.wmu.
func (l *Leg) sealRTP(plain []byte) ([]byte, error) {
	l.mu.Lock()
	s := l.sdes
	l.mu.Unlock()
	if s == nil {
		return plain, nil
	}
	sealed, err := s.encryptRTP(l.sbuf[:0], plain)
	if err != nil {
		return nil, fmt.Errorf("plainrtp: SRTP: %w", err)
	}
	l.sbuf = sealed
	return sealed, nil
}

// sealRTCP returns what goes on the wire for a compound RTCP packet.
func (l *Leg) sealRTCP(plain []byte) ([]byte, error) {
	s := l.sdes
	if s == nil {
		return plain, nil
	}
	sealed, err := s.encryptRTCP(nil, plain)
	if err != nil {
		return nil, fmt.Errorf("plainrtp: SRTCP: %w", err)
	}
	return sealed, nil
}

// cryptoValues lists an m-line's a=crypto values in order.
func cryptoValues(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == "crypto" {
			out = append(out, a.Value)
		}
	}
	return out
}
