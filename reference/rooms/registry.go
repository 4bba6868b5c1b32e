package rooms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// Errors of the room registry.
var (
	errNoRoom    = errors.New("rooms: no such room")
	errFull      = errors.New("rooms: room full")
	errTooMany   = errors.New("rooms: too many rooms")
	errSameToken = errors.New("rooms: token already in use")
)

// roomIDPattern is the shape of every room ID: 128 bits in hex.
var roomIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// room is one room: its participants by session.
type room struct {
	id      string
	created time.Time
	emptied time.Time // when the last participant left (zero while someone is in)
	members map[string]*session
}

// registry holds the live rooms.
type registry struct {
	sequential bool
	maxRooms   int
	maxMembers int

	mu    sync.Mutex
	seq   uint64
	rooms map[string]*room
}

func newRegistry(sequential bool, maxRooms, maxMembers int) *registry {
	return &registry{sequential: sequential, maxRooms: maxRooms, maxMembers: maxMembers, rooms: map[string]*room{}}
}

// create makes a room with a fresh ID: 128 random bits, or the next
// counter value when random-room-ids is weakened.
func (g *registry) create(now time.Time) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.rooms) >= g.maxRooms {
		return "", errTooMany
	}
	var id string
	for id == "" || g.rooms[id] != nil {
		if g.sequential {
			g.seq++
			id = fmt.Sprintf("%032x", g.seq)
		} else {
			id = randomHex(16)
		}
	}
	g.rooms[id] = &room{id: id, created: now, emptied: now, members: map[string]*session{}}
	return id, nil
}

// ensure returns whether id is a room, creating it when create is set
// (the weakened service's join of a room nobody created).
func (g *registry) ensure(id string, now time.Time, create bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rooms[id] != nil {
		return true
	}
	if !create || len(g.rooms) >= g.maxRooms {
		return false
	}
	g.rooms[id] = &room{id: id, created: now, emptied: now, members: map[string]*session{}}
	return true
}

// exists reports whether id is a room.
func (g *registry) exists(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rooms[id] != nil
}

// admit checks that room id has space for one more participant.
func (g *registry) admit(id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rooms[id]
	if r == nil {
		return errNoRoom
	}
	if len(r.members) >= g.maxMembers {
		return errFull
	}
	return nil
}

// enter adds s to its room and returns the sessions already there.
func (g *registry) enter(s *session) ([]*session, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rooms[s.room]
	if r == nil {
		return nil, errNoRoom
	}
	if len(r.members) >= g.maxMembers {
		return nil, errFull
	}
	for _, m := range r.members {
		if m.jti == s.jti {
			return nil, errSameToken
		}
	}
	others := make([]*session, 0, len(r.members))
	for _, m := range r.members {
		others = append(others, m)
	}
	r.members[s.id] = s
	r.emptied = time.Time{}
	return others, nil
}

// leave removes s and returns the sessions still there; an emptied room
// is removed.
func (g *registry) leave(s *session, now time.Time) []*session {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rooms[s.room]
	if r == nil || r.members[s.id] != s {
		return nil
	}
	delete(r.members, s.id)
	if len(r.members) == 0 {
		delete(g.rooms, s.room)
		return nil
	}
	out := make([]*session, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m)
	}
	return out
}

// member returns the session id in room, or nil.
func (g *registry) member(room, id string) *session {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.rooms[room]; r != nil {
		return r.members[id]
	}
	return nil
}

// expire removes rooms nobody has been in for ttl.
func (g *registry) expire(now time.Time, ttl time.Duration) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for id, r := range g.rooms {
		if len(r.members) == 0 && now.Sub(r.emptied) > ttl {
			delete(g.rooms, id)
			n++
		}
	}
	return n
}

// count is how many rooms are alive.
func (g *registry) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.rooms)
}

// turnCredentials are TURN REST credentials (RFC 8489 long-term
// credentials as coturn's use-auth-secret and pion/turn expect them):
// username "<unix-expiry>:<session>", password
// base64(HMAC-SHA1(secret, username)).
func turnCredentials(secret, session string, expiry time.Time) (username, password string) {
	username = fmt.Sprintf("%d:%s", expiry.Unix(), session)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
