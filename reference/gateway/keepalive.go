package gateway

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"
)

// keepaliveTimeout bounds each OPTIONS keepalive.
const keepaliveTimeout = 2 * time.Second

// keepalive sends OPTIONS to every UDP, TCP and TLS binding each
// KeepaliveInterval and drops the bindings that do not answer (a WebSocket
// binding lives as long as its connection).
func (g *Gateway) keepalive() {
	t := time.NewTicker(g.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
			g.pingAll()
		}
	}
}

func (g *Gateway) pingAll() {
	var eg errgroup.Group
	eg.SetLimit(32)
	for user, bs := range g.reg.all() {
		for _, b := range bs {
			if isWS(b.Transport) {
				continue
			}
			eg.Go(func() error {
				if err := g.ping(user, b); err != nil {
					g.log.Info("binding dropped: no answer to OPTIONS", "user", user, "contact", b.Contact.String(), "error", err)
					g.reg.drop(user, b.Contact)
				}
				return nil
			})
		}
	}
	_ = eg.Wait()
}

func (g *Gateway) ping(user string, b binding) error {
	transport := strings.ToUpper(b.Transport)
	req := sip.NewRequest(sip.OPTIONS, *b.Contact.Clone())
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "gateway", Host: g.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: g.cfg.Domain}}
	callID := sip.CallIDHeader(rand.Text())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	req.SetTransport(transport)
	req.SetDestination(requestDest(transport, b.Contact, b.Source))
	ctx, cancel := context.WithTimeout(g.ctx, keepaliveTimeout)
	defer cancel()
	_, err := g.transact(ctx, req, "")
	return err
}
