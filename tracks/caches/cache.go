package caches

import (
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/caches/policy"
)

// Entry is a cached value: Value nil means the key was never written.
// Version is the backing store's count of the key's writes.
type Entry struct {
	Value   *int64
	Version int64
}

// Lease is a node's right to fill one key from the backing store, as in
// Facebook's memcache (Nishtala et al., "Scaling Memcache at Facebook",
// NSDI 2013). While a lease is out, other readers of the key wait for it
// instead of asking the store themselves (no thundering herd), and an
// invalidation of the key voids it, so that its fill, which may carry a
// value older than the write that invalidated it, is not installed (no
// stale set).
type Lease struct {
	key    int64
	done   chan struct{} // closed when the fill ends
	result Entry
	ok     bool // the fill got a value
	voided bool
}

// Done is closed when the lease's fill has ended.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Result is what the fill read, and whether it read anything. Readers that
// waited on the lease may return it even when the lease was voided: they
// began before the invalidating write was acknowledged, because a write is
// acknowledged only after its invalidations.
func (l *Lease) Result() (Entry, bool) { return l.result, l.ok }

// Cache is one node's cache: a policy holding entries, leases on the keys
// being filled, and for each key the newest version the node has heard of
// (from a write or an invalidation), below which nothing is installed.
// It does no I/O; the clock comes in as now. Safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries policy.Cache[int64, Entry]
	ttl     *policy.TTL[int64, Entry] // entries, when entries expire
	leases  map[int64]*Lease
	// floor keeps one version per key ever written or invalidated here:
	// fine for the workload's few hundred keys; a cache for unbounded key
	// spaces would drop floors once no lease older than them is out.
	floor map[int64]int64
	now   func() time.Time
	stats CacheStats
}

// CacheStats count what a Cache did, for tests and logs.
type CacheStats struct {
	Hits, Misses, Waits, Fills, RefusedFills, Invalidations int
}

// NewCache returns a cache with the named eviction policy ("lru", "lfu",
// "tinylfu") for capacity entries; with ttl > 0 entries also expire ttl
// after the backing store was asked for them.
func NewCache(policyName string, capacity int, ttl time.Duration, now func() time.Time) (*Cache, error) {
	c := &Cache{leases: map[int64]*Lease{}, floor: map[int64]int64{}, now: now}
	hash := func(k int64) uint64 { return uint64(k) * 0x9e3779b97f4a7c15 }
	if ttl > 0 {
		inner, err := policy.New[int64, policy.Timed[Entry]](policyName, capacity, hash)
		if err != nil {
			return nil, err
		}
		c.ttl = policy.NewTTL(inner, ttl, now)
		c.entries = c.ttl
		return c, nil
	}
	var err error
	c.entries, err = policy.New[int64, Entry](policyName, capacity, hash)
	if err != nil {
		return nil, fmt.Errorf("caches: %w", err)
	}
	return c, nil
}

// Get looks key up. On a hit it returns the entry. On a miss it returns a
// lease: lead is true when the caller holds it and must fill it (Fill,
// or Abandon on failure); otherwise another reader is filling it and the
// caller waits for Done, then takes Result (or calls Get again if the fill
// failed).
func (c *Cache) Get(key int64) (e Entry, hit bool, l *Lease, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries.Get(key); ok {
		c.stats.Hits++
		return e, true, nil, false
	}
	c.stats.Misses++
	if l := c.leases[key]; l != nil {
		c.stats.Waits++
		return Entry{}, false, l, false
	}
	l = &Lease{key: key, done: make(chan struct{})}
	c.leases[key] = l
	return Entry{}, false, l, true
}

// Fill ends a lease with what the store returned for a request sent at
// asked, installing it unless the lease was voided or a newer version is
// known. It reports whether the entry was installed.
func (c *Cache) Fill(l *Lease, e Entry, asked time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.result, l.ok = e, true
	c.endLease(l)
	if l.voided || e.Version < c.floor[l.key] {
		c.stats.RefusedFills++
		return false
	}
	c.stats.Fills++
	c.install(l.key, e, asked)
	return true
}

// Abandon ends a lease whose fill failed; its waiters ask again.
func (c *Cache) Abandon(l *Lease) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLease(l)
}

func (c *Cache) endLease(l *Lease) {
	if c.leases[l.key] == l {
		delete(c.leases, l.key)
	}
	close(l.done)
}

// Wrote records this node's own write of e, acknowledged by the store for
// a request sent at asked: it voids the key's lease, raises its floor and
// installs e (write-through) unless a newer version is already there.
func (c *Cache) Wrote(key int64, e Entry, asked time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidate(key, e.Version)
	if cur, ok := c.entries.Get(key); !ok || cur.Version < e.Version {
		c.install(key, e, asked)
	}
}

// Invalidate drops key if its cached version is older than version, voids
// the key's lease and remembers version as the key's floor.
func (c *Cache) Invalidate(key, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Invalidations++
	c.invalidate(key, version)
	if cur, ok := c.entries.Get(key); ok && cur.Version < version {
		c.entries.Delete(key)
	}
}

func (c *Cache) invalidate(key, version int64) {
	if l := c.leases[key]; l != nil {
		l.voided = true
		delete(c.leases, key) // later readers take a fresh lease
	}
	c.floor[key] = max(c.floor[key], version)
}

func (c *Cache) install(key int64, e Entry, asked time.Time) {
	if c.ttl != nil {
		c.ttl.SetFrom(key, e, asked)
		return
	}
	c.entries.Set(key, e)
}

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
