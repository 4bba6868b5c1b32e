package attack

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/srtp/v3"
)

// A tap reads, beside one of our own legs, the SRTP the target sends it,
// with the leg's keys but no replay window, and shows each packet that
// authenticates to a mark tally: so a replay the target forwarded is
// counted, where the leg's own window would drop it before anyone could.

// tapCount is what a tap read: packets that authenticated and those that
// did not (or came before the keys), and why the last one could not be read.
type tapCount struct {
	read, unreadable int
	why              string
}

func (c tapCount) String() string {
	s := fmt.Sprintf("%d packets read, %d unreadable", c.read, c.unreadable)
	if c.why != "" && c.unreadable > 0 {
		s += " (last: " + c.why + ")"
	}
	return s
}

// Errors a tap reports when it cannot read.
var (
	errTapNoKeyLog = errors.New("no DTLS master secret in the key log yet")
	errTapNoHello  = errors.New("no ServerHello with use_srtp seen yet")
	errTapNoCrypto = errors.New("no usable a=crypto seen in the SIP the phone received")
)

// dtlsTap is the tap of a browser's DTLS-SRTP leg: it is the DTLS key log
// writer (dtls.WithKeyLogWriter), which gives the client random and the
// master secret, and it sees the leg's datagrams past ICE, where the
// ServerHello gives the server random, the cipher suite (its PRF hash) and
// the SRTP profile in the clear. The SRTP master keys follow as RFC 5764
// 4.2 exports them.
type dtlsTap struct {
	marks *markTally

	mu           sync.Mutex
	clientRandom []byte
	master       []byte
	serverRandom []byte
	suite        uint16
	profile      srtp.ProtectionProfile
	client       bool // the ServerHello came in: the leg is the DTLS client
	rx           *srtp.Context
	buf          []byte
	count        tapCount
}

func newDTLSTap(marks *markTally) *dtlsTap { return &dtlsTap{marks: marks} }

// Write takes key log lines: "CLIENT_RANDOM <client random> <master
// secret>", in hex (NSS key log format).
func (t *dtlsTap) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "CLIENT_RANDOM" {
			continue
		}
		random, err1 := hex.DecodeString(f[1])
		master, err2 := hex.DecodeString(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		t.mu.Lock()
		t.clientRandom, t.master, t.rx = random, master, nil
		t.mu.Unlock()
	}
	return len(p), nil
}

// observe sees one datagram of the leg past ICE, in or out.
func (t *dtlsTap) observe(in bool, b []byte) {
	switch {
	case wire.IsDTLS(b):
		t.hello(in, b)
	case in && isRTP(b):
		t.decrypt(b)
	}
}

// hello keeps what a plaintext ServerHello says.
func (t *dtlsTap) hello(in bool, b []byte) {
	recs, _ := wire.ParseRecords(b)
	for _, r := range recs {
		if r.ContentType != wire.ContentHandshake || r.Epoch != 0 {
			continue
		}
		hs, _ := wire.ParseHandshakes(r.Fragment)
		for _, h := range hs {
			if h.Type != wire.HandshakeServerHello || !h.Complete() || len(h.Body) < 34 {
				continue
			}
			sh, err := wire.ParseServerHello(h.Body)
			if err != nil || !sh.UseSRTP {
				continue
			}
			t.mu.Lock()
			t.serverRandom = bytes.Clone(h.Body[2:34])
			t.suite, t.profile, t.client, t.rx = sh.CipherSuite, srtp.ProtectionProfile(sh.SRTPProfile), in, nil
			t.mu.Unlock()
		}
	}
}

func (t *dtlsTap) decrypt(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rx, err := t.context()
	if err == nil {
		var plain []byte
		if plain, err = rx.DecryptRTP(t.buf[:0], b, nil); err == nil {
			t.buf = plain
			t.count.read++
			t.marks.observe(plain)
			return
		}
	}
	t.count.unreadable++
	t.count.why = err.Error()
}

// context returns the far end's SRTP context, made once the key log and
// the ServerHello are both in; the caller holds t.mu.
func (t *dtlsTap) context() (*srtp.Context, error) {
	switch {
	case t.rx != nil:
		return t.rx, nil
	case t.master == nil:
		return nil, errTapNoKeyLog
	case t.serverRandom == nil:
		return nil, errTapNoHello
	}
	hash := sha256.New // the TLS 1.2 PRF's, unless the suite names another
	if strings.HasSuffix(wire.CipherSuiteName(t.suite), "_SHA384") {
		hash = sha512.New384
	}
	cfg := srtp.Config{Profile: t.profile}
	exp := tls12Exporter{master: t.master, seed: slices.Concat(t.clientRandom, t.serverRandom), hash: hash}
	if err := cfg.ExtractSessionKeysFromDTLS(exp, t.client); err != nil {
		return nil, fmt.Errorf("SRTP keys: %w", err)
	}
	rx, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, t.profile, srtp.SRTPNoReplayProtection())
	if err != nil {
		return nil, fmt.Errorf("SRTP context: %w", err)
	}
	t.rx = rx
	return rx, nil
}

// counts says what the tap read.
func (t *dtlsTap) counts() tapCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// tls12Exporter is RFC 5705's exporter over a TLS 1.2 (DTLS 1.2) master
// secret: PRF(master, label + client random + server random).
type tls12Exporter struct {
	master, seed []byte
	hash         prf.HashFunc
}

func (e tls12Exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, errors.New("exporter: a context is not supported")
	}
	return prf.PHash(e.master, slices.Concat([]byte(label), e.seed), length, e.hash)
}

// maxTapKeys bounds the a=crypto lines an sdesTap keeps.
const maxTapKeys = 16

// sdesTap is the tap of a phone's SDES-SRTP leg. The target's keys are
// its a=crypto attributes, which its SDP carries in the clear over SIP on
// UDP through the phone's own socket layer (SDES keys are only as secret
// as the signaling): every one it sent is tried, the one that last
// authenticated first.
type sdesTap struct {
	marks *markTally

	mu    sync.Mutex
	lines []string
	taps  []*plainrtp.Tap
	last  int
	buf   []byte
	count tapCount
}

func newSDESTap(marks *markTally) *sdesTap { return &sdesTap{marks: marks} }

// observe sees one datagram that reached the phone.
func (t *sdesTap) observe(b []byte) {
	switch {
	case isRTP(b):
		t.decrypt(b)
	case bytes.Contains(b, []byte("a=crypto:")):
		t.learn(b)
	}
}

// learn keeps the a=crypto lines of a SIP message's SDP.
func (t *sdesTap) learn(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=crypto:")
		if !ok || slices.Contains(t.lines, v) || len(t.lines) >= maxTapKeys {
			continue
		}
		t.lines = append(t.lines, v)
		tap, err := plainrtp.NewTap(v)
		if err != nil {
			t.count.why = err.Error()
			continue
		}
		t.taps = append(t.taps, tap)
	}
}

func (t *sdesTap) decrypt(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.taps) == 0 {
		t.count.unreadable++
		t.count.why = errTapNoCrypto.Error()
		return
	}
	for i := range t.taps {
		k := (t.last + i) % len(t.taps)
		plain, err := t.taps[k].DecryptRTP(t.buf[:0], b)
		if err != nil {
			continue
		}
		t.buf, t.last = plain, k
		t.count.read++
		t.marks.observe(plain)
		return
	}
	t.count.unreadable++
	t.count.why = fmt.Sprintf("authenticated under none of the target's %d a=crypto keys", len(t.taps))
}

// counts says what the tap read.
func (t *sdesTap) counts() tapCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}
