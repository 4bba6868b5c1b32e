// Package ratelimit holds the per-key bookkeeping the reference's limits
// share: a token bucket per key (Limiter), and the bounded key set under it
// (Keys), which also keeps the gateway's digest-failure lockout. Keys are
// sources or users; the least recently used are forgotten beyond a bound so
// memory stays bounded under a flood from many sources or made-up names.
package ratelimit

import "container/list"

// Keys is per-key state of type V for at most a bounded number of keys;
// using a key beyond the bound forgets the least recently used one. It is
// not safe for concurrent use: its owner holds a lock across each
// read-modify-write.
type Keys[V any] struct {
	max  int
	keys map[string]*list.Element
	lru  list.List // of *entry[V], most recent at the front
}

type entry[V any] struct {
	key string
	val V
}

// NewKeys returns a key set that remembers at most maxKeys keys (at least
// one: a bound below 1 keeps just the key last used).
func NewKeys[V any](maxKeys int) *Keys[V] {
	return &Keys[V]{max: maxKeys, keys: map[string]*list.Element{}}
}

// Get returns key's state, if it is remembered, without making it the
// most recently used.
func (k *Keys[V]) Get(key string) (V, bool) {
	e, ok := k.keys[key]
	if !ok {
		var zero V
		return zero, false
	}
	return e.Value.(*entry[V]).val, true
}

// Use returns key's state, made the most recently used. A key not
// remembered gets fresh() as its state, and the least recently used key is
// forgotten first if the set is full.
func (k *Keys[V]) Use(key string, fresh func() V) V {
	if e, ok := k.keys[key]; ok {
		k.lru.MoveToFront(e)
		return e.Value.(*entry[V]).val
	}
	for k.lru.Len() > 0 && k.lru.Len() >= k.max {
		oldest := k.lru.Back()
		delete(k.keys, oldest.Value.(*entry[V]).key)
		k.lru.Remove(oldest)
	}
	v := fresh()
	k.keys[key] = k.lru.PushFront(&entry[V]{key: key, val: v})
	return v
}

// Len is how many keys are remembered.
func (k *Keys[V]) Len() int { return k.lru.Len() }
