package peer

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Connect runs ICE (controlling if we offered), then the DTLS handshake (our
// role from the negotiated a=setup) over the ICE conn, then keys SRTP from
// the DTLS exporter. On error the leg is unusable: Close it. Errors wrap
// ErrICE, ErrDTLS or ErrFingerprint, and ctx's error when it ended.
func (p *Peer) Connect(ctx context.Context) error {
	p.mu.Lock()
	if err := p.expect(stageNegotiated); err != nil {
		p.mu.Unlock()
		return err
	}
	p.stage = stageConnecting
	r, offerer, client := p.remote, p.offerer, p.dtlsClient
	p.mu.Unlock()

	start := time.Now()
	var conn *ice.Conn
	var err error
	if offerer {
		conn, err = p.agent.Dial(ctx, r.ufrag, r.pwd)
	} else {
		conn, err = p.agent.Accept(ctx, r.ufrag, r.pwd)
	}
	if err != nil {
		return p.fail(ctx, ErrICE, err)
	}
	iceDone := time.Now()
	var io net.Conn = conn
	if p.cfg.WrapConn != nil {
		io = p.cfg.WrapConn(conn)
	}
	ep := newEndpoint(io, p.observer)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.iceConn, p.conn = conn, io
	p.iceMS = ms(iceDone.Sub(start))
	rx := newReceiver(p.onRTP, &p.stats)
	rx.rtcp = p.newRTCP()
	// Started under the lock that Close takes first, so that no goroutine
	// starts once Close is waiting for them.
	p.wg.Go(func() { p.readLoop(io, ep, rx) })
	p.mu.Unlock()

	dc, err := p.handshake(ctx, ep, conn.RemoteAddr(), client)
	if err != nil {
		return err
	}
	tx, err := p.keySRTP(dc, client, rx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDTLS, err)
	}
	done := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	tx.rtcp = rx.rtcp
	p.tx.Store(tx)
	p.dtlsMS = ms(done.Sub(iceDone))
	p.connected = done
	p.stage = stageConnected
	p.wg.Go(func() { p.drainDTLS(dc) })
	p.startRTCP(tx, io)
	return nil
}

func (p *Peer) fail(ctx context.Context, kind, err error) error {
	if p.fpMismatch.Load() {
		kind = ErrFingerprint
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w (%w)", kind, err, ctx.Err())
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func (p *Peer) handshake(ctx context.Context, ep *endpoint, raddr net.Addr, client bool) (*dtls.Conn, error) {
	opts := []dtls.Option{
		dtls.WithCertificates(*p.cfg.Certificate),
		dtls.WithSRTPProtectionProfiles(p.cfg.SRTPProfiles...),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(p.verifyPeer),
		dtls.WithLoggerFactory(slogFactory{p.log}),
	}
	opts = append(opts, p.cfg.DTLSOptions...)
	var dc *dtls.Conn
	var err error
	if client {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		dc, err = dtls.ClientWithOptions(ep, raddr, copts...)
	} else {
		sopts := make([]dtls.ServerOption, 0, len(opts)+1)
		sopts = append(sopts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		sopts = append(sopts, p.cfg.DTLSServerOptions...)
		dc, err = dtls.ServerWithOptions(ep, raddr, sopts...)
	}
	if err != nil {
		return nil, p.fail(ctx, ErrDTLS, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = dc.Close()
		return nil, ErrClosed
	}
	p.dtlsConn = dc
	p.mu.Unlock()
	if err := dc.HandshakeContext(ctx); err != nil {
		return nil, p.fail(ctx, ErrDTLS, err)
	}
	return dc, nil
}

// verifyPeer checks the far end's certificate against the fingerprints in
// its SDP (any of them may match, RFC 8122 5).
func (p *Peer) verifyPeer(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) == 0 {
		p.fpMismatch.Store(true)
		return fmt.Errorf("%w: no certificate", ErrFingerprint)
	}
	p.mu.Lock()
	fps := p.remote.fps
	p.mu.Unlock()
	var got []string
	for _, want := range fps {
		have, err := certFingerprint(want.hash, raw[0])
		if err != nil {
			continue
		}
		if have.value == want.value {
			return nil
		}
		got = append(got, have.String())
	}
	p.fpMismatch.Store(true)
	return fmt.Errorf("%w: certificate is %s", ErrFingerprint, strings.Join(got, ", "))
}

// keySRTP creates the SRTP contexts from the DTLS exporter (RFC 5764 4.2)
// and hands the decrypting one to the read loop.
func (p *Peer) keySRTP(dc *dtls.Conn, client bool, rx *receiver) (*sender, error) {
	chosen, ok := dc.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, errors.New("no SRTP profile negotiated (use_srtp missing)")
	}
	profile, err := srtpProfile(chosen)
	if err != nil {
		return nil, err
	}
	state, ok := dc.ConnectionState()
	if !ok {
		return nil, errors.New("no DTLS connection state")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return nil, fmt.Errorf("SRTP keys: %w", err)
	}
	txCtx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return nil, fmt.Errorf("SRTP context: %w", err)
	}
	replay := srtp.SRTPReplayProtection(uint(max(p.cfg.ReplayWindow, 0)))
	if p.cfg.ReplayWindow < 0 {
		replay = srtp.SRTPNoReplayProtection()
	}
	rxCtx, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile, replay)
	if err != nil {
		return nil, fmt.Errorf("SRTP context: %w", err)
	}
	rx.ready(rxCtx)
	return &sender{ctx: txCtx}, nil
}

// drainDTLS reads the DTLS conn after the handshake, so that a retransmitted
// last flight is answered and close_notify is seen; it ends when the conn
// closes.
func (p *Peer) drainDTLS(dc *dtls.Conn) {
	buf := make([]byte, 1500)
	for {
		if _, err := dc.Read(buf); err != nil {
			p.stats.setDTLSClosed(err)
			return
		}
	}
}

// readLoop is the leg's one read goroutine: it shows every datagram to the
// wire observer and demultiplexes by first byte (RFC 7983): DTLS to the
// handshake, RTP decrypted and handed to OnRTP, RTCP counted.
func (p *Peer) readLoop(conn net.Conn, ep *endpoint, rx *receiver) {
	defer ep.closeBuffer()
	buf := make([]byte, 8192)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		arrival := p.arrivals.at(b, time.Now())
		p.observer.Observe(wire.In, b)
		switch {
		case n == 0:
		case b[0] >= 20 && b[0] <= 63:
			if _, err := ep.buf.Write(b); err != nil {
				p.log.Debug("DTLS datagram dropped", "err", err)
			}
		case b[0] >= 128 && b[0] <= 191:
			if n > 1 && b[1] >= 192 && b[1] <= 223 {
				p.stats.add(&p.stats.rtcp)
				p.handleRTCP(rx, b, arrival)
				continue
			}
			rx.handle(b, arrival)
		default:
			p.stats.add(&p.stats.other)
		}
	}
}

// WriteRTP protects pkt with SRTP and sends it on the selected pair, with
// the leg's declared SSRC (see SSRC) in place of pkt's. pkt is not changed.
func (p *Peer) WriteRTP(pkt *rtp.Packet) error {
	tx := p.tx.Load()
	if tx == nil {
		return ErrNotConnected
	}
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	return tx.write(pkt, p.ssrc, conn, p.observer)
}

// sender encrypts and writes outgoing RTP; one at a time.
type sender struct {
	mu    sync.Mutex
	ctx   *srtp.Context
	plain []byte
	enc   []byte
	hdr   rtp.Header
	rtcp  *media.RTCP // counts what is sent, for sender reports
}

func (s *sender) write(pkt *rtp.Packet, ssrc uint32, conn net.Conn, obs *wire.Observer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := pkt.MarshalSize()
	if cap(s.plain) < size {
		s.plain = make([]byte, size, size+64)
		s.enc = make([]byte, 0, size+64)
	}
	n, err := pkt.MarshalTo(s.plain[:size])
	if err != nil {
		return fmt.Errorf("peer: marshal RTP: %w", err)
	}
	binary.BigEndian.PutUint32(s.plain[8:12], ssrc)
	enc, err := s.ctx.EncryptRTP(s.enc[:0], s.plain[:n], &s.hdr)
	if err != nil {
		return fmt.Errorf("peer: SRTP protect: %w", err)
	}
	s.enc = enc
	obs.Observe(wire.Out, enc)
	if _, err := conn.Write(enc); err != nil {
		return fmt.Errorf("peer: send: %w", err)
	}
	if s.rtcp != nil {
		s.rtcp.OnSend(&pkt.Header, len(pkt.Payload), time.Now())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Close stops the leg: it closes DTLS (sending close_notify), the ICE agent
// and its sockets, and waits for every goroutine the leg started.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	dc := p.dtlsConn
	p.mu.Unlock()
	p.stopRTCP()
	var errs []error
	if dc != nil {
		if err := dc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("peer: close DTLS: %w", err))
		}
	}
	if err := p.agent.GracefulClose(); err != nil {
		errs = append(errs, fmt.Errorf("peer: close ICE: %w", err))
	}
	p.wg.Wait()
	return errors.Join(errs...)
}
