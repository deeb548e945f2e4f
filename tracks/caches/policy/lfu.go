package policy

// LFU evicts the least frequently used entry, the least recently used
// among equals, in O(1) per operation (Shah, Mitra and Matani, "An O(1)
// algorithm for implementing the LFU cache eviction scheme", 2010). Entries
// with the same access count share a bucket, a recency list; the buckets
// form a list of their own in increasing count order. An access moves an
// entry from its bucket (count f) to the next one if that bucket's count
// is f+1, or to a new bucket inserted right after. A new entry goes to the
// first bucket if its count is 1, or to a new first bucket. The victim is
// always the least recent entry of the first bucket. Nothing is searched.
//
// Counts live only while the entry is cached ("in-cache LFU"): an evicted
// key that comes back starts again at 1.
type LFU[K comparable, V any] struct {
	cap   int
	items map[K]*lfuEntry[K, V]
	root  bucket[K, V] // sentinel of the bucket list: root.next has the smallest count
}

type lfuEntry[K comparable, V any] struct {
	entry[K, V]
	b *bucket[K, V]
}

type bucket[K comparable, V any] struct {
	count      int
	entries    list[K, V]
	prev, next *bucket[K, V]
}

// NewLFU returns an LFU cache holding at most capacity entries.
func NewLFU[K comparable, V any](capacity int) *LFU[K, V] {
	c := &LFU[K, V]{cap: max(capacity, 1), items: make(map[K]*lfuEntry[K, V], capacity)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

func (c *LFU[K, V]) Get(key K) (V, bool) {
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.touch(e)
	return e.value, true
}

func (c *LFU[K, V]) Set(key K, value V) {
	if e, ok := c.items[key]; ok {
		e.value = value
		c.touch(e)
		return
	}
	if len(c.items) >= c.cap {
		first := c.root.next
		victim := first.entries.back()
		c.unlink(c.items[victim.key])
		delete(c.items, victim.key)
	}
	e := &lfuEntry[K, V]{entry: entry[K, V]{key: key, value: value, freq: 1}}
	c.items[key] = e
	b := c.root.next
	if b == &c.root || b.count != 1 {
		b = c.insertAfter(&c.root, 1)
	}
	c.link(e, b)
}

func (c *LFU[K, V]) Delete(key K) bool {
	e, ok := c.items[key]
	if !ok {
		return false
	}
	c.unlink(e)
	delete(c.items, key)
	return true
}

func (c *LFU[K, V]) Len() int { return len(c.items) }

// Freq is key's access count (0 when absent), for tests.
func (c *LFU[K, V]) Freq(key K) int {
	if e, ok := c.items[key]; ok {
		return e.freq
	}
	return 0
}

// touch moves e from its bucket (count f) to the bucket of count f+1.
func (c *LFU[K, V]) touch(e *lfuEntry[K, V]) {
	b := e.b
	nb := b.next
	if nb == &c.root || nb.count != b.count+1 {
		nb = c.insertAfter(b, b.count+1)
	}
	c.unlink(e) // may drop b, never nb
	e.freq = nb.count
	c.link(e, nb)
}

func (c *LFU[K, V]) insertAfter(at *bucket[K, V], count int) *bucket[K, V] {
	b := &bucket[K, V]{count: count, prev: at, next: at.next}
	b.entries.init()
	at.next.prev = b
	at.next = b
	return b
}

func (c *LFU[K, V]) link(e *lfuEntry[K, V], b *bucket[K, V]) {
	e.b = b
	b.entries.pushFront(&e.entry)
}

// unlink takes e out of its bucket and drops the bucket if it empties.
func (c *LFU[K, V]) unlink(e *lfuEntry[K, V]) {
	b := e.b
	b.entries.remove(&e.entry)
	e.b = nil
	if b.entries.n == 0 {
		b.prev.next, b.next.prev = b.next, b.prev
	}
}
