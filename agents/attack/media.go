package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

// mediaAttacks are the attacks on the media plane: DTLS and SRTP.
func mediaAttacks() []Attack {
	return []Attack{
		{
			Name:    "dtls-downgrade",
			Summary: "the DTLS-SRTP downgrade matrix past ICE, target as DTLS server and as client: non-forward-secret and CBC suites, DTLS 1.0, NULL SRTP profiles, no extended master secret, MD5 fingerprint (RFC 5763, 5764, 7627, 8122, 8996)",
			Needs:   []string{"sip"},
			Run:     DTLSDowngrade,
		},
		{
			Name:    "fingerprint-mismatch",
			Summary: "a signaling MITM: the SDP fingerprint names one certificate, DTLS presents another; the target must abort and carry no media (RFC 5763 5, RFC 8122 5)",
			Needs:   []string{"sip"},
			Run:     FingerprintMismatch,
		},
		{
			Name:    "srtp-replay",
			Summary: "on a bridged browser-to-phone call, a duplicate, a packet 100 indices behind, a flipped and a cut auth tag injected on the WebRTC leg, none of which may reach the phone, and on the phone's leg when it is SDES-SRTP, none of which may reach the browser (RFC 3711 3.3)",
			Needs:   []string{"sip"},
			Run:     SRTPReplay,
		},
	}
}

// Timings of the media attacks' calls.
const (
	mediaSetup    = 10 * time.Second // dial to media up, per call
	mediaTeardown = 3 * time.Second  // hang-up to the far side seeing it
)

// ErrMediaRig is wrapped when the media attacks cannot bring up their
// phone or browsers.
var ErrMediaRig = errors.New("attack: media attack set-up failed")

// mediaRig is what the media attacks share: a registered phone that the
// browsers call through the target, the tally of the marked RTP reaching
// it (read through a tap when the phone speaks SDES-SRTP), and the capture
// of the attack's own UDP traffic. Browsers are made one per probe, each
// on its own source address with its own wire observer.
type mediaRig struct {
	env     *Env
	capture *Capture
	phone   *endpoint.Endpoint
	marks   *markTally
	// phoneTap reads the rig phone's SRTP for the tally when the target
	// speaks SDES-SRTP toward phones (nil when it speaks plain RTP).
	phoneTap *sdesTap
	// phoneInject, when set, sits under the rig phone's sockets; it
	// passes everything until armed.
	phoneInject *srtpInjector
}

// rigOption adjusts a media rig before its phone comes up.
type rigOption func(*mediaRig)

// withPhoneInjector puts inj under the rig phone's sockets.
func withPhoneInjector(inj *srtpInjector) rigOption {
	return func(r *mediaRig) { r.phoneInject = inj }
}

// newMediaRig registers a phone (kind "sip", PCMU only, so the target
// relays without transcoding and the payload marks survive).
func newMediaRig(ctx context.Context, env *Env, name string, opts ...rigOption) (*mediaRig, error) {
	capture, err := env.NewCapture(name)
	if err != nil {
		return nil, err
	}
	r := &mediaRig{env: env, capture: capture, marks: newMarkTally()}
	for _, o := range opts {
		o(r)
	}
	phone, tap, err := r.newPhone(ctx, r.phoneInject)
	if err != nil {
		return nil, r.closeWith(err)
	}
	r.phone, r.phoneTap = phone, tap
	if reg := phone.Register(ctx); reg.Outcome != reports.OutcomeOK {
		return nil, r.closeWith(fmt.Errorf("%w: the phone %s could not register (status %d): %s", ErrMediaRig, phone.User(), reg.SIPStatus, reg.Error))
	}
	return r, nil
}

// newPhone brings up a phone (kind "sip", PCMU only) whose marked RTP is
// counted in the tally and whose UDP datagrams go to the capture. A phone
// that speaks SDES-SRTP (the target file says so) gets a tap that reads its
// SRTP for the tally, returned (nil for a plain RTP phone). With inj, the
// injector sits under the phone's sockets, and records to the capture
// what really goes out.
func (r *mediaRig) newPhone(ctx context.Context, inj *srtpInjector) (*endpoint.Endpoint, *sdesTap, error) {
	var tap *sdesTap // set before the phone opens any socket
	opts := []socket.Option{socket.WithObserver(func(dir socket.Dir, local, remote net.Addr, b []byte) {
		if inj == nil {
			r.capture.Observe(dir, local, remote, b)
		}
		switch {
		case dir != socket.In:
		case tap != nil:
			tap.observe(b)
		default:
			r.marks.observe(b)
		}
	})}
	if inj != nil {
		opts = append(opts, socket.WithPacketWrapper(func(c net.PacketConn) net.PacketConn {
			return &injectPacketConn{PacketConn: c, inj: inj, observe: r.capture.Observe}
		}))
	}
	n, err := r.env.Net(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: phone socket layer: %w", ErrMediaRig, err)
	}
	phone, err := r.env.Endpoint(ctx, endpoint.KindSIP, func(c *endpoint.Config) {
		c.Net = n
		c.Codecs = []media.Codec{media.PCMU}
		if len(c.SDES) > 0 {
			tap = newSDESTap(r.marks)
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: phone: %w", ErrMediaRig, err)
	}
	return phone, tap, nil
}

func (r *mediaRig) closeWith(err error) error { return errors.Join(err, r.Close()) }

// Close unregisters the phone and closes the capture.
func (r *mediaRig) Close() error {
	var errs []error
	if r.phone != nil {
		ctx, cancel := context.WithTimeout(context.Background(), mediaTeardown)
		_ = r.phone.Unregister(ctx) // best effort: the binding expires anyway
		cancel()
		errs = append(errs, r.phone.Close())
	}
	return errors.Join(append(errs, r.capture.Close())...)
}

// browser brings up a webrtc endpoint (PCMU only) whose UDP datagrams are
// shown to the capture and to obs (nil for none), with tweak applied last.
func (r *mediaRig) browser(ctx context.Context, obs *wire.Observer, tweak func(*endpoint.Config)) (*endpoint.Endpoint, error) {
	n, err := r.env.Net(socket.WithObserver(func(dir socket.Dir, local, remote net.Addr, b []byte) {
		r.capture.Observe(dir, local, remote, b)
		if obs != nil {
			obs.Observe(wireDir(dir), b)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("%w: browser socket layer: %w", ErrMediaRig, err)
	}
	ep, err := r.env.Endpoint(ctx, endpoint.KindWebRTC, func(c *endpoint.Config) {
		c.Net = n
		c.Codecs = []media.Codec{media.PCMU}
		if tweak != nil {
			tweak(c)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w: browser: %w", ErrMediaRig, err)
	}
	return ep, nil
}

func wireDir(d socket.Dir) wire.Dir {
	if d == socket.Out {
		return wire.Out
	}
	return wire.In
}

// register registers browser when the phone is to call it.
func (r *mediaRig) register(ctx context.Context, browser *endpoint.Endpoint, inbound bool) error {
	if !inbound {
		return nil
	}
	if reg := browser.Register(ctx); reg.Outcome != reports.OutcomeOK {
		return fmt.Errorf("%w: the browser %s could not register (status %d): %s", ErrMediaRig, browser.User(), reg.SIPStatus, reg.Error)
	}
	return nil
}

// release unregisters browser if register registered it, and closes it.
func (r *mediaRig) release(ctx context.Context, browser *endpoint.Endpoint, inbound bool) {
	if inbound {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mediaTeardown)
		_ = browser.Unregister(uctx) // best effort: the binding expires anyway
		cancel()
	}
	_ = browser.Close()
}

// mediaCall is one call between a browser and a phone through the target.
type mediaCall struct {
	browser, phone *endpoint.Leg // phone is nil when the phone's side never came up
	// phoneStatus and phoneErr are the phone's side when it failed: for an
	// inbound call, the answer its INVITE got.
	phoneStatus int
	phoneErr    error
	ended       sync.Once
}

// call runs one call between browser and a phone and returns once both
// legs are up or the call failed (check browser.Err()). The browser calls
// the rig's phone; with inbound, a fresh phone calls the (registered)
// browser, so the target offers and the browser answers. End it with end.
// The error is for a phone that could not be brought up.
func (r *mediaRig) call(ctx context.Context, browser *endpoint.Endpoint, inbound bool) (*mediaCall, error) {
	setupCtx, cancel := context.WithTimeout(ctx, mediaSetup)
	defer cancel()
	caller, callee := browser, r.phone
	if inbound {
		// A fresh caller each time, as with the browsers: a target's
		// per-user INVITE limit is for floods, not for this matrix.
		phone, _, err := r.newPhone(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer func() { _ = phone.Close() }()
		caller, callee = phone, browser
	}
	accepted := make(chan *endpoint.Leg, 1)
	go func() { accepted <- callee.Accept(setupCtx) }()
	out := caller.Dial(setupCtx, callee.User())
	if out.Err() != nil {
		cancel() // the callee may never see an INVITE
	}
	in := <-accepted
	c := &mediaCall{browser: out, phone: in}
	if inbound {
		c.browser, c.phone = in, out
	}
	if err := c.phone.Err(); err != nil {
		rep := c.phone.Report()
		c.phoneStatus, c.phoneErr = rep.SIPStatus, err
		_ = c.phone.Close()
		c.phone = nil
	}
	return c, nil
}

// outcome is the browser leg's final INVITE status and error, or the
// phone's when the browser never got the call.
func (c *mediaCall) outcome() (int, error) {
	rep := c.browser.Report()
	if rep.SIPStatus == 0 && (c.phoneErr != nil || c.phoneStatus != 0) {
		return c.phoneStatus, c.phoneErr
	}
	return rep.SIPStatus, rep.Err
}

// end hangs the call up from the browser, waits for the phone to see it,
// and closes both legs; calls after the first do nothing.
func (c *mediaCall) end(ctx context.Context) { c.ended.Do(func() { c.hangup(ctx) }) }

func (c *mediaCall) hangup(ctx context.Context) {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mediaTeardown)
	defer cancel()
	if c.browser.Err() == nil {
		_ = c.browser.Hangup(tctx) // the target may have ended the call already
	}
	_ = c.browser.Close()
	if c.phone == nil {
		return
	}
	select {
	case <-c.phone.Done():
	case <-tctx.Done():
		_ = c.phone.Hangup(tctx)
	}
	_ = c.phone.Close()
}

// markKey names one packet of one stream by its payload mark.
type markKey struct {
	tag     uint64
	counter uint32
}

// markTally counts the marked RTP packets that reach a socket layer, by
// stream tag and packet counter, so an attack sees exactly which packets a
// target forwarded, and how many times.
type markTally struct {
	mu      sync.Mutex
	counts  map[markKey]int
	changed chan struct{} // closed and replaced on every packet counted
}

// maxMarks bounds the tally whatever arrives.
const maxMarks = 1 << 16

func newMarkTally() *markTally {
	return &markTally{counts: map[markKey]int{}, changed: make(chan struct{})}
}

// isRTP reports whether b looks like RTP or SRTP (not RTCP, DTLS, STUN or
// SIP: RFC 7983's demultiplexing, RFC 5761's payload types).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && (b[1] < 192 || b[1] > 223)
}

// observe counts b if it is an RTP packet (not RTCP) with a payload mark.
func (t *markTally) observe(b []byte) {
	if !isRTP(b) {
		return
	}
	var p rtp.Packet
	if p.Unmarshal(b) != nil {
		return
	}
	m, ok := media.ParseMark(p.Payload)
	if !ok {
		return
	}
	k := markKey{m.Tag, m.Counter}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.counts[k]; !seen && len(t.counts) >= maxMarks {
		return
	}
	t.counts[k]++
	close(t.changed)
	t.changed = make(chan struct{})
}

// count is how many times packet counter of stream tag arrived.
func (t *markTally) count(tag uint64, counter uint32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[markKey{tag, counter}]
}

// distinct is how many different packets of stream tag arrived with a
// counter in [from, to].
func (t *markTally) distinct(tag uint64, from, to uint32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k := range t.counts {
		if k.tag == tag && k.counter >= from && k.counter <= to {
			n++
		}
	}
	return n
}

// waitFor returns true once packet counter (or a later one) of stream tag
// has arrived, false when ctx or stop ends first.
func (t *markTally) waitFor(ctx context.Context, stop <-chan struct{}, tag uint64, counter uint32) bool {
	for {
		t.mu.Lock()
		reached := false
		for k := range t.counts {
			if k.tag == tag && k.counter >= counter {
				reached = true
				break
			}
		}
		changed := t.changed
		t.mu.Unlock()
		if reached {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// severityRank orders severities for picking the worst.
func severityRank(s string) int {
	return slices.Index([]string{Info, Low, Medium, High}, s)
}

// worseSeverity returns the worse of two severities.
func worseSeverity(a, b string) string {
	if severityRank(b) > severityRank(a) {
		return b
	}
	return a
}

// alertsFrom lists the plaintext alerts that went dir, e.g. "fatal
// insufficient_security", and counts the encrypted ones.
func alertsFrom(obs *wire.Observer, dir wire.Dir) string {
	var out []string
	encrypted := 0
	for _, a := range obs.Alerts() {
		switch {
		case a.Dir != dir:
		case a.Encrypted:
			encrypted++
		default:
			out = append(out, a.Alert.String())
		}
	}
	if encrypted > 0 {
		out = append(out, fmt.Sprintf("%d encrypted alert(s)", encrypted))
	}
	if len(out) == 0 {
		return "no alert"
	}
	return strings.Join(out, ", ")
}
