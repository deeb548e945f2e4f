package clocks

import "sync/atomic"

// Lamport is a Lamport clock: a counter that every event advances and
// every received message pushes past the sender's value, so that if event
// a happens before event b then a's time is less than b's. The converse
// does not hold; use Vector to detect concurrency. The zero value is a
// clock at 0, ready to use.
type Lamport struct {
	t atomic.Uint64
}

// Time returns the current value without advancing the clock.
func (l *Lamport) Time() uint64 { return l.t.Load() }

// Tick records a local event and returns its time.
func (l *Lamport) Tick() uint64 { return l.t.Add(1) }

// Send records a send event; the returned time travels with the message.
func (l *Lamport) Send() uint64 { return l.Tick() }

// Recv records the receipt of a message stamped remote and returns the
// receive event's time, which exceeds both remote and every earlier local
// time.
func (l *Lamport) Recv(remote uint64) uint64 {
	for {
		cur := l.t.Load()
		next := max(cur, remote) + 1
		if l.t.CompareAndSwap(cur, next) {
			return next
		}
	}
}
