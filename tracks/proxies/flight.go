package proxies

import "sync"

// Flights is collapsed forwarding: concurrent requests for one key share
// one call to the origin. It differs from golang.org/x/sync/singleflight
// in one rule: a caller never shares a call that was already sent when it
// arrived. singleflight hands a newcomer the result of whatever call is in
// flight, and the origin may have answered that call before the newcomer
// asked, so the newcomer can get a value older than its own request (a
// change made in between is missed). Here a newcomer that finds a call in
// flight waits for the next one, which starts when the current one ends
// and is shared by everyone who arrived meanwhile. So there is at most one
// call in flight per key, back to back, and every caller's answer was read
// at the origin after it asked.
type Flights[V any] struct {
	mu   sync.Mutex
	keys map[string]*slot[V]
}

type slot[V any] struct {
	running *flight[V]
	next    *flight[V] // not sent yet: everyone waiting for it arrived after running was sent
}

type flight[V any] struct {
	fn     func() (V, error)
	done   chan struct{}
	val    V
	err    error
	shared int // callers besides the first
}

// Do returns the result of a call of fn for key that started no earlier
// than this call of Do, and whether the result was shared with other
// callers. fn of the caller that opens a flight is the one run.
func (g *Flights[V]) Do(key string, fn func() (V, error)) (V, error, bool) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[string]*slot[V]{}
	}
	s := g.keys[key]
	if s == nil {
		s = &slot[V]{}
		g.keys[key] = s
	}
	var f *flight[V]
	switch {
	case s.running == nil:
		f = &flight[V]{fn: fn, done: make(chan struct{})}
		s.running = f
		go g.run(key, s, f)
	case s.next == nil:
		f = &flight[V]{fn: fn, done: make(chan struct{})}
		s.next = f
	default:
		f = s.next
		f.shared++
	}
	g.mu.Unlock()
	<-f.done
	return f.val, f.err, f.shared > 0
}

// run calls f, then the flight queued behind it, if any, until the key
// has nothing waiting.
func (g *Flights[V]) run(key string, s *slot[V], f *flight[V]) {
	for f != nil {
		f.val, f.err = f.fn()
		g.mu.Lock()
		close(f.done)
		f, s.next = s.next, nil
		s.running = f
		if f == nil {
			delete(g.keys, key)
		}
		g.mu.Unlock()
	}
}
