package sipua

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Register binds this UA's Contact to its AOR for expires (RFC 3261 §10.2),
// answering digest challenges. It returns the final status; a non-2xx is
// also returned as *StatusError. All registrations of a UA share one
// Call-ID with increasing CSeq. Refreshing before expiry is the caller's job.
func (u *UA) Register(ctx context.Context, expires time.Duration) (status int, err error) {
	if expires < 0 || expires%time.Second != 0 {
		return 0, fmt.Errorf("%w: Register expires %s is not a whole, non-negative number of seconds", ErrConfig, expires)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s := spec{
		method:  sip.REGISTER,
		ruri:    sip.Uri{Scheme: "sip", Host: u.cfg.Domain},
		from:    sip.FromHeader{Address: u.aor, Params: sip.NewParams()},
		to:      sip.ToHeader{Address: u.aor},
		callID:  u.regCallID,
		contact: true,
	}
	s.from.Params.Add("tag", newTag())
	expiresHdr := sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second)))
	var auth authState
	var creds []sip.Header
	retries := 0
	for {
		u.mu.Lock()
		u.regCSeq++
		s.cseq = u.regCSeq
		u.mu.Unlock()
		s.headers = append([]sip.Header{expiresHdr}, creds...)
		req := u.newRequest(s, newBranch())
		tx, err := u.start(req)
		if err != nil {
			return 0, err
		}
		res, err := u.wait(ctx, tx, nil)
		if err != nil {
			return 0, err
		}
		if res.StatusCode < 300 {
			return res.StatusCode, nil
		}
		if wait, ok := retryAfter(ctx, res, retries); ok {
			retries++
			if err := sleepCtx(ctx, wait); err != nil {
				return res.StatusCode, err
			}
			continue // the same credentials: a 503 consumed no nonce count the server keeps
		}
		hdrs, ok, err := u.authorize(&auth, req, res)
		if err != nil {
			return res.StatusCode, err
		}
		if !ok {
			return res.StatusCode, &StatusError{Method: "REGISTER", Code: res.StatusCode, Reason: res.Reason}
		}
		creds = hdrs
	}
}

// maxOverloadRetries bounds how often one Register waits out a 503.
const maxOverloadRetries = 3

// retryAfter says whether a REGISTER answered res is to be sent again, and
// after how long: a 503 with Retry-After (RFC 3261 21.5.4), when the wait
// ends before ctx's deadline and the retries are not used up.
func retryAfter(ctx context.Context, res *sip.Response, retries int) (time.Duration, bool) {
	if res.StatusCode != sip.StatusServiceUnavailable || retries >= maxOverloadRetries {
		return 0, false
	}
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0, false
	}
	v, _, _ := strings.Cut(strings.TrimSpace(h.Value()), ";") // a comment or duration parameter may follow
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs < 0 {
		return 0, false
	}
	wait := time.Duration(secs) * time.Second
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
		return 0, false
	}
	return wait, true
}

// sleepCtx waits d, or less when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unregister removes this UA's Contact binding (Expires 0); other bindings of
// the AOR are left alone.
func (u *UA) Unregister(ctx context.Context) error {
	_, err := u.Register(ctx, 0)
	return err
}
