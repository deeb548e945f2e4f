package program

import (
	"io"
	"sync"
)

// Pipe is an in-memory, unbounded, line-agnostic byte pipe. Unlike io.Pipe
// a Write never blocks waiting for a reader, so a writer holding a mutex
// can never stall a synctest bubble: readers block only on a channel,
// which synctest treats as durably blocked.
type Pipe struct {
	mu     sync.Mutex
	buf    []byte
	off    int // read offset into buf; buf is reused once drained
	closed bool
	ready  chan struct{} // capacity 1: "something changed"
}

// maxKeep is the largest drained buffer a Pipe keeps for reuse.
const maxKeep = 256 << 10

// NewPipe returns an empty open pipe.
func NewPipe() *Pipe { return &Pipe{ready: make(chan struct{}, 1)} }

func (p *Pipe) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Write appends b. It fails with io.ErrClosedPipe after Close.
func (p *Pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	if p.off > 0 && p.off >= len(p.buf)-p.off {
		// Half or more already read: move the rest down rather than grow.
		p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
		p.off = 0
	}
	p.buf = append(p.buf, b...)
	p.mu.Unlock()
	p.signal()
	return len(b), nil
}

// Read blocks until data is available or the pipe is closed and drained.
func (p *Pipe) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if p.off < len(p.buf) {
			n := copy(b, p.buf[p.off:])
			p.off += n
			if p.off == len(p.buf) {
				// Drained: keep a modest buffer for the next writes.
				p.buf, p.off = p.buf[:0], 0
				if cap(p.buf) > maxKeep {
					p.buf = nil
				}
			}
			p.mu.Unlock()
			return n, nil
		}
		if p.closed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		p.mu.Unlock()
		<-p.ready
	}
}

// Close makes readers see EOF once the buffered data is consumed.
func (p *Pipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.signal()
	return nil
}
