package peer

import (
	"context"
	"fmt"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/ice/v4"
)

// LocalCredentials returns the leg's current ICE ufrag and pwd.
func (p *Peer) LocalCredentials() (ufrag, pwd string, err error) {
	return p.agent.GetLocalUserCredentials()
}

// RestartOffer restarts ICE on a connected leg (RFC 8445 9: a new ufrag and
// pwd, candidates gathered again) and returns the re-offer to send, e.g. in
// a re-INVITE, with the negotiated codec. DTLS and SRTP carry on over the
// new pair once SetRestartAnswer has the far end's answer; until then
// media pauses (WriteRTP may fail).
func (p *Peer) RestartOffer(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	if err := p.expect(stageConnected); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Unlock()
	return p.restartDesc(ctx)
}

// RestartAnswer takes the far end's restart offer on a connected leg: it
// restarts ICE here too, applies the offer's new credentials and
// candidates, and returns the answer. An offer whose ufrag is the current
// one is not a restart (ErrSDP).
func (p *Peer) RestartAnswer(ctx context.Context, offer []byte) ([]byte, error) {
	r, err := p.parseRemote(offer)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if err := p.expect(stageConnected); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	same := r.ufrag == p.remote.ufrag
	p.mu.Unlock()
	if same {
		return nil, fmt.Errorf("%w: the offer keeps ice-ufrag %q: not an ICE restart", ErrSDP, r.ufrag)
	}
	answer, err := p.restartDesc(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.applyRemote(r); err != nil {
		return nil, err
	}
	return answer, nil
}

// SetRestartAnswer takes the far end's answer to RestartOffer: its new ICE
// credentials and candidates. Connectivity checks then find the new pair.
func (p *Peer) SetRestartAnswer(answer []byte) error {
	r, err := p.parseRemote(answer)
	if err != nil {
		return err
	}
	return p.applyRemote(r)
}

func (p *Peer) applyRemote(r remoteDesc) error {
	if err := p.agent.SetRemoteCredentials(r.ufrag, r.pwd); err != nil {
		return fmt.Errorf("%w: %w", ErrICE, err)
	}
	p.mu.Lock()
	p.remote.ufrag, p.remote.pwd, p.remote.cands = r.ufrag, r.pwd, r.cands
	p.mu.Unlock()
	p.addRemoteCandidates(r.cands)
	return nil
}

// restartDesc restarts the ICE agent, gathers again and describes the leg
// with its new credentials, the negotiated codec and its DTLS role kept
// (RFC 5763 5: a=setup active or passive as it is).
func (p *Peer) restartDesc(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	setup := SetupPassive
	if p.dtlsClient {
		setup = SetupActive
	}
	mid := p.remote.mid
	codecs := []media.Codec{p.codec}
	p.mu.Unlock()
	if mid == "" {
		mid = "0"
	}
	var mu sync.Mutex
	var once sync.Once
	var cands []ice.Candidate
	gathered := make(chan struct{})
	// A handler of its own: the first gathering's closed its channel.
	if err := p.agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			once.Do(func() { close(gathered) })
			return
		}
		mu.Lock()
		cands = append(cands, c)
		mu.Unlock()
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrICE, err)
	}
	if err := p.agent.Restart("", ""); err != nil {
		return nil, fmt.Errorf("%w: restart: %w", ErrICE, err)
	}
	if err := p.agent.GatherCandidates(); err != nil {
		return nil, fmt.Errorf("%w: gathering: %w", ErrICE, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: gathering: %w", ErrICE, ctx.Err())
	}
	ufrag, pwd, err := p.agent.GetLocalUserCredentials()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrICE, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: no candidate gathered after the restart (policy %s)", ErrICE, p.cfg.Policy)
	}
	return p.describe(localDesc{
		sessionID: newSessionID(), ufrag: ufrag, pwd: pwd, fp: p.localFP,
		setup: setup, mid: mid, codecs: codecs, cands: cands, ssrc: p.ssrc, cname: p.cname,
	})
}
