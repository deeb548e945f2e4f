package proxies

import (
	"sync"
	"time"
)

// Dedup remembers the outcome of each request id so that a client's retry
// (same id, sent because the first attempt's answer was late) takes effect
// once: a retry of a finished request gets the stored answer, a retry of
// one still in flight waits for it. Failed requests are forgotten, so that
// a retry runs them again: the origin's refusals (error 11) are definite,
// nothing happened. Answers are kept for Retention after they complete,
// longer than any client keeps retrying; the clock is passed in.
type Dedup[V any] struct {
	Retention time.Duration
	now       func() time.Time
	mu        sync.Mutex
	entries   map[string]*outcome[V]
}

type outcome[V any] struct {
	done  chan struct{}
	val   V
	err   error
	ended time.Time
}

// NewDedup returns a table that keeps answers for retention.
func NewDedup[V any](retention time.Duration, now func() time.Time) *Dedup[V] {
	return &Dedup[V]{Retention: retention, now: now, entries: map[string]*outcome[V]{}}
}

// Do runs fn once per id: the first caller runs it, later callers with the
// same id get its answer. dup reports a repeated id.
func (d *Dedup[V]) Do(id string, fn func() (V, error)) (v V, err error, dup bool) {
	d.mu.Lock()
	if o, ok := d.entries[id]; ok {
		d.mu.Unlock()
		<-o.done
		return o.val, o.err, true
	}
	o := &outcome[V]{done: make(chan struct{})}
	d.entries[id] = o
	d.mu.Unlock()
	o.val, o.err = fn()
	d.mu.Lock()
	o.ended = d.now()
	if o.err != nil {
		delete(d.entries, id)
	}
	d.mu.Unlock()
	close(o.done)
	return o.val, o.err, false
}

// Sweep forgets answers older than Retention and reports how many remain.
func (d *Dedup[V]) Sweep() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	cut := d.now().Add(-d.Retention)
	for id, o := range d.entries {
		if !o.ended.IsZero() && o.ended.Before(cut) {
			delete(d.entries, id)
		}
	}
	return len(d.entries)
}
