package sipua

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// OnReInvite sets how the dialog answers a re-INVITE with a new offer (a
// hold, an ICE restart): f returns the SDP answer, or an error for 488.
// Without it such re-INVITEs get 488. f runs on the UA's reader goroutine:
// it must not block on the UA.
func (d *Dialog) OnReInvite(f func(offer []byte) ([]byte, error)) {
	d.ua.mu.Lock()
	d.reoffer = f
	d.ua.mu.Unlock()
}

// Notifies delivers the bodies of the NOTIFYs received in the dialog (for
// a REFER: message/sipfrag status lines). Older ones are dropped when
// nobody reads.
func (d *Dialog) Notifies() <-chan []byte { return d.notifies }

// ReInvite sends a re-INVITE carrying offer (RFC 3261 §14.1) and returns the
// far end's answer once its 2xx is ACKed. A non-2xx (491 on glare, 488)
// comes back as *StatusError and the session is as it was.
func (d *Dialog) ReInvite(ctx context.Context, offer []byte) ([]byte, error) {
	res, err := d.send(ctx, sip.INVITE, offer, "application/sdp", true)
	if err != nil {
		return nil, err
	}
	return res.Body(), nil
}

// Refer asks the far end to transfer the call to target, a user part
// (completed with Config.Domain) or a URI (RFC 3515, a blind transfer); it
// returns once the REFER is accepted (202). How the transfer goes comes in
// NOTIFYs (see Notifies); the far end usually ends this dialog when it
// succeeded.
func (d *Dialog) Refer(ctx context.Context, target string) error {
	uri, err := d.ua.targetURI(target)
	if err != nil {
		return err
	}
	_, err = d.send(ctx, sip.REFER, nil, "", true,
		sip.NewHeader("Refer-To", "<"+uri.String()+">"),
		sip.NewHeader("Referred-By", "<"+d.local.Address.String()+">"))
	return err
}

// send runs an in-dialog request and returns its 2xx.
func (d *Dialog) send(ctx context.Context, method sip.RequestMethod, body []byte, contentType string, contact bool, extra ...sip.Header) (*sip.Response, error) {
	u := d.ua
	var auth authState
	var creds []sip.Header
	for {
		u.mu.Lock()
		if d.err != nil {
			err := d.err
			u.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrDialogEnded, err)
		}
		d.localSeq++
		req := d.requestLocked(method, d.localSeq, contact)
		u.mu.Unlock()
		for _, h := range append(append([]sip.Header(nil), extra...), creds...) {
			req.AppendHeader(h)
		}
		if body != nil {
			req.AppendHeader(sip.NewHeader("Content-Type", contentType))
		}
		req.SetBody(body)
		tx, err := u.start(req)
		if err != nil {
			return nil, err
		}
		res, err := u.wait(ctx, tx, nil)
		if err != nil {
			return nil, err
		}
		if res.StatusCode < 300 {
			return res, nil
		}
		hdrs, ok, err := u.authorize(&auth, req, res)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &StatusError{Method: string(method), Code: res.StatusCode, Reason: res.Reason}
		}
		creds = hdrs
	}
}
