package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// byeTimeout bounds each BYE the gateway sends while tearing a call down.
const byeTimeout = 4 * time.Second

// side says which party ended a call.
type side int

const (
	sideGateway side = iota // the gateway itself (failure, Close)
	sideBrowser
	sidePhone
)

// call is one bridged call: the browser's dialog over WebSocket and the
// phone's over UDP, with their media legs. The INVITE handler sets it up;
// hangup, from anywhere, starts the one teardown.
type call struct {
	g           *Gateway
	log         *slog.Logger
	ctx         context.Context // canceled by hangup
	cancel      context.CancelFunc
	setupDone   chan struct{} // closed when the INVITE handler is finished with the call
	work        *routines     // the media relay goroutines
	browser     *browserLeg
	browserID   string // the browser dialog's Call-ID
	phoneCallID string // the Call-ID of the gateway's INVITE to the phone

	mu        sync.Mutex
	phone     *sipgo.DialogClientSession // once the phone answered 2xx
	phoneUp   bool                       // the phone's 2xx was ACKed: it needs a BYE
	browserUp bool                       // the browser got a 2xx: it needs a BYE
	media     *rtpLeg
	web       *webrtcLeg
	ended     bool
	endedBy   side
}

// hangup ends the call once: it cancels the setup, if still running, and
// starts the teardown, which BYEs every leg that is up except the one that
// ended the call. It never blocks.
func (c *call) hangup(by side, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended, c.endedBy = true, by
	c.cancel()
	c.log.Info("call ending", "reason", reason)
	if !c.g.teardowns.Go(c.teardown) {
		// Close hangs every call up before it stops taking teardowns, and
		// the call table refuses new calls first, so this cannot happen.
		c.log.Error("teardown refused after close")
	}
}

func (c *call) teardown() {
	<-c.setupDone
	c.mu.Lock()
	by, phone, phoneUp, browserUp, media, web := c.endedBy, c.phone, c.phoneUp, c.browserUp, c.media, c.web
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	var byes sync.WaitGroup
	if phoneUp && by != sidePhone {
		byes.Go(func() {
			if err := phone.Bye(ctx); err != nil {
				c.log.Warn("BYE to phone failed", "error", err)
			}
		})
	}
	if browserUp && by != sideBrowser {
		if !c.browser.wasAcked() {
			// RFC 3261 15 wants the ACK first; a B2BUA whose other leg
			// is gone cannot wait for it.
			c.log.Info("BYE to browser before its ACK")
		}
		byes.Go(func() {
			if err := c.browser.bye(ctx, c.g.wsClient, c.g.wsLn.live); err != nil {
				c.log.Warn("BYE to browser failed", "error", err)
			}
		})
	}
	byes.Wait()
	if web != nil {
		if err := web.close(); err != nil {
			c.log.Debug("closing peer connection", "error", err)
		}
	}
	if media != nil {
		if err := media.close(); err != nil {
			c.log.Debug("closing rtp socket", "error", err)
		}
	}
	<-c.work.close()
	c.g.calls.remove(c)
	c.log.Info("call ended")
}

func (c *call) setPhone(sess *sipgo.DialogClientSession, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phone, c.phoneUp = sess, up
}

// phoneDialog returns the phone's dialog if an in-dialog request from the
// phone matches it (Call-ID is matched by the call table; tags here).
func (c *call) phoneDialog(req *sip.Request) *sipgo.DialogClientSession {
	c.mu.Lock()
	sess := c.phone
	c.mu.Unlock()
	if sess == nil || sess.InviteResponse == nil || req.From() == nil || req.To() == nil {
		return nil
	}
	phoneTag, _ := sess.InviteResponse.To().Params.Get("tag")
	ourTag, _ := sess.InviteRequest.From().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := req.To().Params.Get("tag")
	if fromTag != phoneTag || toTag != ourTag {
		return nil
	}
	return sess
}

var (
	errCallsClosed = errors.New("gateway is closing")
	errCallExists  = errors.New("call already exists")
)

// callTable finds calls by the Call-ID of either leg.
type callTable struct {
	mu     sync.Mutex
	closed bool
	byKey  map[string]*call
}

func newCallTable() *callTable { return &callTable{byKey: map[string]*call{}} }

func callKey(transport, callID string) string { return transport + "|" + callID }

func (t *callTable) add(c *call) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errCallsClosed
	}
	wsKey, udpKey := callKey("WS", c.browserID), callKey("UDP", c.phoneCallID)
	if t.byKey[wsKey] != nil || t.byKey[udpKey] != nil {
		return errCallExists
	}
	t.byKey[wsKey], t.byKey[udpKey] = c, c
	return nil
}

func (t *callTable) get(transport, callID string) *call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[callKey(transport, callID)]
}

func (t *callTable) remove(c *call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []string{callKey("WS", c.browserID), callKey("UDP", c.phoneCallID)} {
		if t.byKey[k] == c {
			delete(t.byKey, k)
		}
	}
}

// list returns the calls whose browser leg matches keep.
func (t *callTable) list(keep func(*call) bool) []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*call
	for k, c := range t.byKey {
		if k == callKey("WS", c.browserID) && keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// close refuses new calls and returns the current ones.
func (t *callTable) close() []*call {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return t.list(func(*call) bool { return true })
}
