package policy

// LFU evicts the least frequently used entry, the least recently used
// among equals, in O(1) per operation (Shah, Mitra and Matani, "An O(1)
// algorithm for implementing the LFU cache eviction scheme", 2010): one
// recency list per access count, and the smallest count with a non-empty
// list kept at hand. An access moves an entry from list f to list f+1;
// since a new entry always enters list 1, the smallest count is either
// unchanged, f+1 (when list f was the smallest and emptied), or 1.
//
// Counts live only while the entry is cached ("in-cache LFU"): an evicted
// key that comes back starts again at 1.
type LFU[K comparable, V any] struct {
	cap     int
	items   map[K]*entry[K, V]
	lists   map[int]*list[K, V] // by access count; empty lists are dropped
	minFreq int
}

// NewLFU returns an LFU cache holding at most capacity entries.
func NewLFU[K comparable, V any](capacity int) *LFU[K, V] {
	return &LFU[K, V]{cap: max(capacity, 1), items: make(map[K]*entry[K, V], capacity), lists: map[int]*list[K, V]{}}
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
		l := c.lists[c.minFreq]
		victim := l.back()
		c.unlink(victim)
		delete(c.items, victim.key)
	}
	e := &entry[K, V]{key: key, value: value, freq: 1}
	c.items[key] = e
	c.link(e)
	c.minFreq = 1
}

func (c *LFU[K, V]) Delete(key K) bool {
	e, ok := c.items[key]
	if !ok {
		return false
	}
	c.unlink(e)
	delete(c.items, key)
	if c.lists[c.minFreq] == nil && len(c.items) > 0 {
		// Deletion is the one move that can empty the smallest list
		// without an obvious successor; Set resets minFreq to 1 and
		// touch to f+1, so only here do we search. The number of
		// distinct counts is small (at most √(2·total accesses)).
		c.minFreq = 0
		for f := range c.lists {
			if c.minFreq == 0 || f < c.minFreq {
				c.minFreq = f
			}
		}
	}
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

func (c *LFU[K, V]) touch(e *entry[K, V]) {
	f := e.freq
	c.unlink(e)
	e.freq++
	c.link(e)
	if c.minFreq == f && c.lists[f] == nil {
		c.minFreq = f + 1
	}
}

func (c *LFU[K, V]) link(e *entry[K, V]) {
	l := c.lists[e.freq]
	if l == nil {
		l = new(list[K, V]).init()
		c.lists[e.freq] = l
	}
	l.pushFront(e)
}

func (c *LFU[K, V]) unlink(e *entry[K, V]) {
	l := c.lists[e.freq]
	l.remove(e)
	if l.n == 0 {
		delete(c.lists, e.freq)
	}
}
