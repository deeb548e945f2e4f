package policy

// LRU evicts the least recently used entry. Get, Set and Delete are O(1):
// a map finds the entry, a linked list keeps recency order.
type LRU[K comparable, V any] struct {
	cap     int
	items   map[K]*entry[K, V]
	order   list[K, V]
	OnEvict func(key K, value V) // optional
}

// NewLRU returns an LRU cache holding at most capacity entries.
func NewLRU[K comparable, V any](capacity int) *LRU[K, V] {
	c := &LRU[K, V]{cap: max(capacity, 1), items: make(map[K]*entry[K, V], capacity)}
	c.order.init()
	return c
}

func (c *LRU[K, V]) Get(key K) (V, bool) {
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.moveToFront(e)
	return e.value, true
}

// Peek returns key's value without counting an access.
func (c *LRU[K, V]) Peek(key K) (V, bool) {
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *LRU[K, V]) Set(key K, value V) {
	if e, ok := c.items[key]; ok {
		e.value = value
		c.order.moveToFront(e)
		return
	}
	if c.order.n >= c.cap {
		c.evict()
	}
	e := &entry[K, V]{key: key, value: value}
	c.items[key] = e
	c.order.pushFront(e)
}

func (c *LRU[K, V]) evict() {
	e := c.order.back()
	c.order.remove(e)
	delete(c.items, e.key)
	if c.OnEvict != nil {
		c.OnEvict(e.key, e.value)
	}
}

func (c *LRU[K, V]) Delete(key K) bool {
	e, ok := c.items[key]
	if ok {
		c.order.remove(e)
		delete(c.items, key)
	}
	return ok
}

func (c *LRU[K, V]) Len() int { return c.order.n }
