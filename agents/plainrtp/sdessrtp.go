package plainrtp

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/srtp/v3"
)

// replayWindow is the SRTP and SRTCP replay window of a leg's inbound
// context: RFC 3711 3.3.2 wants at least 64.
const replayWindow = 64

// sdesSession is an SDES leg's SRTP (RFC 3711): what was negotiated, and
// one context per direction, each keyed by its sender's a=crypto. The
// contexts are not safe for concurrent use, so each has a lock: RTP and
// RTCP are sent, and read, from different goroutines.
type sdesSession struct {
	local  cryptoLine // ours: we encrypt with it
	remote cryptoLine // the far end's: we decrypt with it

	txMu sync.Mutex
	tx   *srtp.Context
	rxMu sync.Mutex
	rx   *srtp.Context
}

func newSDESSession(local, remote cryptoLine) (*sdesSession, error) {
	tx, err := txContext(local)
	if err != nil {
		return nil, err
	}
	rx, err := rxContext(remote)
	if err != nil {
		return nil, err
	}
	return &sdesSession{local: local, remote: remote, tx: tx, rx: rx}, nil
}

func txContext(c cryptoLine) (*srtp.Context, error) {
	ctx, err := srtp.CreateContext(c.key[:c.suite.keyLen], c.key[c.suite.keyLen:], c.suite.profile, srtp.MasterKeyIndicator(c.mki))
	if err != nil {
		return nil, fmt.Errorf("plainrtp: SRTP context (%s): %w", c.suite.name, err)
	}
	return ctx, nil
}

func rxContext(c cryptoLine) (*srtp.Context, error) {
	ctx, err := srtp.CreateContext(c.key[:c.suite.keyLen], c.key[c.suite.keyLen:], c.suite.profile,
		srtp.MasterKeyIndicator(c.mki), srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
	if err != nil {
		return nil, fmt.Errorf("plainrtp: SRTP context (%s): %w", c.suite.name, err)
	}
	return ctx, nil
}

// name is what the leg negotiated, e.g. "SDES AES_CM_128_HMAC_SHA1_80".
func (s *sdesSession) name() string { return "SDES " + s.local.suite.name }

// rekey takes the far end's a=crypto from a later offer or answer: a new
// key (or MKI) gets a new inbound context; the same one keeps the context
// and its replay window.
func (s *sdesSession) rekey(remote cryptoLine) error {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	if remote.sameKey(s.remote) {
		s.remote.tag = remote.tag
		return nil
	}
	rx, err := rxContext(remote)
	if err != nil {
		return err
	}
	s.remote, s.rx = remote, rx
	return nil
}

func (s *sdesSession) encryptRTP(dst, plain []byte) ([]byte, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.tx.EncryptRTP(dst, plain, nil)
}

func (s *sdesSession) encryptRTCP(dst, plain []byte) ([]byte, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.tx.EncryptRTCP(dst, plain, nil)
}

func (s *sdesSession) decryptRTP(dst, sealed []byte) ([]byte, error) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	return s.rx.DecryptRTP(dst, sealed, nil)
}

func (s *sdesSession) decryptRTCP(dst, sealed []byte) ([]byte, error) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	return s.rx.DecryptRTCP(dst, sealed, nil)
}

// authFailure reports whether a decryption failed on the tag, as opposed
// to a replay, a too-old index or a packet too short to be SRTP.
func authFailure(err error) bool { return errors.Is(err, srtp.ErrFailedToVerifyAuthTag) }
