// Package policy holds the caches track's eviction policies, free of I/O
// and of the wall clock: LRU, LFU (O(1) per operation), TTL expiry over
// any of them, and W-TinyLFU. Each is a bounded map from keys to values that
// decides, when full, which entry to give up.
//
// The cache nodes of the track (package caches) keep their entries in one
// of these; the benchmark in this package replays identical Zipf traces
// through them and through hashicorp/golang-lru and ristretto. The
// property tests check each policy against a few-line model of it.
//
// None of the types is safe for concurrent use: a node serialises its
// calls (one handler at a time holds its mutex).
package policy

import "fmt"

// Cache is what every policy offers.
type Cache[K comparable, V any] interface {
	// Get returns the value of key and counts the access.
	Get(key K) (V, bool)
	// Set inserts or replaces key's value, evicting an entry if the cache
	// is full. A replacement counts as an access.
	Set(key K, value V)
	// Delete removes key and reports whether it was there.
	Delete(key K) bool
	// Len is the number of entries.
	Len() int
}

// New returns the policy called name ("lru", "lfu", "tinylfu") with room
// for capacity entries. TTL wraps one of them (NewTTL).
func New[K comparable, V any](name string, capacity int, hash func(K) uint64) (Cache[K, V], error) {
	if capacity < 1 {
		return nil, fmt.Errorf("policy: capacity must be at least 1, got %d", capacity)
	}
	switch name {
	case "lru":
		return NewLRU[K, V](capacity), nil
	case "lfu":
		return NewLFU[K, V](capacity), nil
	case "tinylfu":
		return NewTinyLFU[K, V](capacity, hash), nil
	}
	return nil, fmt.Errorf("policy: unknown policy %q (want lru, lfu or tinylfu)", name)
}

// entry is a node of the intrusive doubly linked lists the policies keep.
type entry[K comparable, V any] struct {
	key        K
	value      V
	prev, next *entry[K, V]
	freq       int // LFU: accesses; TinyLFU: which segment
}

// list is a circular doubly linked list with a sentinel: front is
// sentinel.next (most recent), back is sentinel.prev (least recent).
type list[K comparable, V any] struct {
	root entry[K, V]
	n    int
}

func (l *list[K, V]) init() *list[K, V] {
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

func (l *list[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
}

func (l *list[K, V]) remove(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	l.n--
}

func (l *list[K, V]) moveToFront(e *entry[K, V]) {
	if l.root.next == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}

// back is the least recent entry, or nil.
func (l *list[K, V]) back() *entry[K, V] {
	if l.n == 0 {
		return nil
	}
	return l.root.prev
}
