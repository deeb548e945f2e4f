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
	closed bool
	ready  chan struct{} // capacity 1: "something changed"
}

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
	p.buf = append(p.buf, b...)
	p.mu.Unlock()
	p.signal()
	return len(b), nil
}

// Read blocks until data is available or the pipe is closed and drained.
func (p *Pipe) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
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
