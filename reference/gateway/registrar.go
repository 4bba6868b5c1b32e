package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// binding is one registered contact of an address-of-record.
type binding struct {
	Contact   sip.Uri   // the Contact URI as registered
	Transport string    // UDP, TCP, TLS, WS or WSS, as the REGISTER arrived
	Source    string    // remote address of the REGISTER (for WS: the connection to send INVITEs down)
	Expires   time.Time // when the binding lapses
	CallID    string
	CSeq      uint32
}

var (
	errExpiryTooBrief = errors.New("expiry below the minimum")
	errExpirySyntax   = errors.New("expiry is not a number of seconds")
	errOutOfOrder     = errors.New("REGISTER CSeq not above the last one for this Call-ID")
	errTooMany        = errors.New("too many bindings")
)

// grantExpiry decides a contact's lifetime in whole seconds from its expires
// parameter (preferred) or the Expires header, per RFC 3261 10.3 step 7:
// none given means def; 0 means remove; below min is errExpiryTooBrief (423);
// above max is shortened to max.
func grantExpiry(param string, hasParam bool, header string, hasHeader bool, def, minimum, maximum time.Duration) (int, error) {
	raw, given := param, hasParam
	if !given {
		raw, given = header, hasHeader
	}
	if !given {
		return int(def / time.Second), nil
	}
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.TrimLeft(raw, "0123456789") != "" || len(raw) > 10 {
		return 0, fmt.Errorf("%w: %q", errExpirySyntax, raw)
	}
	secs, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errExpirySyntax, raw)
	}
	switch {
	case secs == 0:
		return 0, nil
	case secs < int64(minimum/time.Second):
		return 0, fmt.Errorf("%w: %d s < %d s", errExpiryTooBrief, secs, int64(minimum/time.Second))
	case secs > int64(maximum/time.Second):
		return int(maximum / time.Second), nil
	}
	return int(secs), nil
}

// registrar holds the bindings of every address-of-record (by user part;
// the domain is the gateway's). It is safe for concurrent use.
type registrar struct {
	now         func() time.Time
	maxBindings int

	mu   sync.Mutex
	aors map[string][]binding
}

func newRegistrar(maxBindings int, now func() time.Time) *registrar {
	return &registrar{now: now, maxBindings: maxBindings, aors: map[string][]binding{}}
}

// contactUpdate is one Contact of a REGISTER after its expiry was granted.
type contactUpdate struct {
	uri     sip.Uri
	seconds int // 0 removes
}

// update applies a REGISTER's contacts atomically and returns the user's
// bindings afterwards. removeAll handles "Contact: *".
func (r *registrar) update(user string, updates []contactUpdate, removeAll bool, transport, source, callID string, cseq uint32) ([]binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	current := r.liveLocked(user, now)
	for _, b := range current {
		if b.CallID == callID && cseq <= b.CSeq {
			return nil, errOutOfOrder
		}
	}
	if removeAll {
		delete(r.aors, user)
		return nil, nil
	}
	next := slices.Clone(current)
	for _, u := range updates {
		key := u.uri.String()
		next = slices.DeleteFunc(next, func(b binding) bool { return b.Contact.String() == key })
		if u.seconds == 0 {
			continue
		}
		next = append(next, binding{
			Contact:   u.uri,
			Transport: transport,
			Source:    source,
			Expires:   now.Add(time.Duration(u.seconds) * time.Second),
			CallID:    callID,
			CSeq:      cseq,
		})
	}
	if len(next) > r.maxBindings {
		return nil, fmt.Errorf("%w: %d > %d", errTooMany, len(next), r.maxBindings)
	}
	r.storeLocked(user, next)
	return slices.Clone(next), nil
}

// bindings returns the user's live bindings, oldest first.
func (r *registrar) bindings(user string) []binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.liveLocked(user, r.now()))
}

// count is how many bindings are live, across users.
func (r *registrar) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, bs := range r.aors {
		n += len(bs)
	}
	return n
}

// dropWebSocket removes every binding registered over the WebSocket
// connection from source, when it closes.
func (r *registrar) dropWebSocket(source string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for user, bs := range r.aors {
		r.storeLocked(user, slices.DeleteFunc(bs, func(b binding) bool {
			return isWS(b.Transport) && b.Source == source
		}))
	}
}

// drop removes one binding (a contact that stopped answering OPTIONS).
func (r *registrar) drop(user string, contact sip.Uri) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := contact.String()
	r.storeLocked(user, slices.DeleteFunc(r.aors[user], func(b binding) bool { return b.Contact.String() == key }))
}

// all returns every live binding with its user.
func (r *registrar) all() map[string][]binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := map[string][]binding{}
	for user := range r.aors {
		if bs := r.liveLocked(user, now); len(bs) > 0 {
			out[user] = slices.Clone(bs)
		}
	}
	return out
}

func (r *registrar) liveLocked(user string, now time.Time) []binding {
	bs := slices.DeleteFunc(r.aors[user], func(b binding) bool { return !now.Before(b.Expires) })
	r.storeLocked(user, bs)
	return bs
}

func (r *registrar) storeLocked(user string, bs []binding) {
	if len(bs) == 0 {
		delete(r.aors, user)
		return
	}
	r.aors[user] = bs
}

// onRegister is the REGISTER handler: a registrar with digest
// authentication (see digestAuth) for the directory's users in the
// gateway's domain, over every transport, rate limited per source and per
// user (503 with Retry-After).
func (g *Gateway) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	to, from, callID, cseq := req.To(), req.From(), req.CallID(), req.CSeq()
	if to == nil || from == nil || callID == nil || cseq == nil {
		g.reply(tx, req, sip.StatusBadRequest, "Missing To, From, Call-ID or CSeq")
		return
	}
	if !g.allow(g.limits.registerSource, sourceIP(req)) {
		g.overloaded(tx, req, "REGISTER rate limit per source")
		return
	}
	user := to.Address.User
	if !strings.EqualFold(to.Address.Host, g.cfg.Domain) {
		g.reply(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	// Users outside the directory go through the same checks and the same
	// challenge as the others (their credentials can only be wrong), so
	// answers never tell whether a user exists; weakened, they get 404 at
	// once.
	_, dirErr := g.dir.kind(user)
	if dirErr != nil && g.cfg.weakened(WeakenUniformAnswers) {
		g.reply(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	if from.Address.User != user || !strings.EqualFold(from.Address.Host, to.Address.Host) {
		g.reply(tx, req, sip.StatusForbidden, "Third-Party Registration Refused")
		return
	}
	if !g.tokenAllows(req, user) {
		g.reply(tx, req, sip.StatusForbidden, "Not The Token's Subject")
		return
	}
	if !g.allow(g.limits.registerUser, user) {
		g.overloaded(tx, req, "REGISTER rate limit per user")
		return
	}
	if res := g.auth.authenticate(req, user); res != nil {
		g.metrics.authRefused(string(req.Method))
		g.send(tx, res)
		return
	}
	if dirErr != nil { // only with digest weakened: nobody else gets here
		g.reply(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	updates, removeAll, res := g.contactUpdates(req)
	if res != nil {
		g.send(tx, res)
		return
	}
	bs, err := g.reg.update(user, updates, removeAll, strings.ToUpper(req.Transport()), req.Source(), callID.Value(), cseq.SeqNo)
	switch {
	case errors.Is(err, errOutOfOrder):
		g.reply(tx, req, sip.StatusInternalServerError, "Out Of Order REGISTER")
		return
	case errors.Is(err, errTooMany):
		g.reply(tx, req, sip.StatusForbidden, "Too Many Bindings")
		return
	case err != nil:
		g.reply(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	ok := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	now := g.reg.now()
	for _, b := range bs {
		left := max(int(b.Expires.Sub(now)/time.Second), 1)
		params := sip.NewParams()
		params.Add("expires", strconv.Itoa(left))
		ok.AppendHeader(&sip.ContactHeader{Address: *b.Contact.Clone(), Params: params})
	}
	g.log.Debug("register", "user", user, "transport", req.Transport(), "source", req.Source(), "bindings", len(bs))
	g.metrics.registered()
	g.send(tx, ok)
}

// contactUpdates reads a REGISTER's Contact headers and expiries. It returns
// the response to send instead when the request is malformed (400) or asks
// for too brief a registration (423 with Min-Expires).
func (g *Gateway) contactUpdates(req *sip.Request) (updates []contactUpdate, removeAll bool, reject *sip.Response) {
	header, hasHeader := "", false
	if h := req.GetHeader("Expires"); h != nil {
		header, hasHeader = h.Value(), true
	}
	contacts := req.GetHeaders("Contact")
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, false, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Contact", nil)
		}
		if c.Address.Wildcard {
			if len(contacts) != 1 || strings.TrimSpace(header) != "0" {
				return nil, false, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Wildcard Contact Needs Expires 0", nil)
			}
			return nil, true, nil
		}
		if c.Address.Host == "" {
			return nil, false, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Contact", nil)
		}
		param, hasParam := c.Params.Get("expires")
		secs, err := grantExpiry(param, hasParam, header, hasHeader, g.cfg.DefaultExpires, g.cfg.MinExpires, g.cfg.MaxExpires)
		switch {
		case errors.Is(err, errExpiryTooBrief):
			res := sip.NewResponseFromRequest(req, sip.StatusIntervalToBrief, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(g.cfg.MinExpires/time.Second))))
			return nil, false, res
		case err != nil:
			return nil, false, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Expires", nil)
		}
		updates = append(updates, contactUpdate{uri: *c.Address.Clone(), seconds: secs})
	}
	return updates, false, nil
}
