// Package l4 is the loadbalancers track's TCP load balancer: it accepts
// connections and splices each one to a backend of a balance.Pool, the
// same core the Maelstrom node and the HTTP balancer (l7) use.
//
// A layer-4 balancer sees bytes, not requests: it balances connections
// (least outstanding means fewest open connections), it can retry only
// the connect, never anything sent after it, and it learns a backend is
// sick only from failed connects and from health checks. In exchange it
// is cheap: after the connect, the two directions are plain copies.
//
// The copies go through a 256 KiB buffer rather than io.Copy's splice
// between the sockets: measured on loopback (the lesson's benchmark),
// splice through a 64 KiB pipe makes two system calls per pipe-full and
// was the slower of the two.
package l4

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/health"
)

// Config configures a Balancer. The pool's backend names are the
// backends' host:port addresses.
type Config struct {
	Pool        *balance.Pool
	Attempts    int           // backends tried to connect (at least 1)
	DialTimeout time.Duration // 0: 2 s
}

// Balancer relays TCP connections to backends.
type Balancer struct {
	c      Config
	dialer net.Dialer

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a Balancer.
func New(c Config) (*Balancer, error) {
	if c.Pool == nil {
		return nil, errors.New("l4: no pool")
	}
	if c.Attempts < 1 {
		c.Attempts = 1
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 2 * time.Second
	}
	return &Balancer{c: c, dialer: net.Dialer{Timeout: c.DialTimeout}, conns: map[net.Conn]struct{}{}}, nil
}

// Serve accepts connections on ln until Close.
func (b *Balancer) Serve(ln net.Listener) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.ln = ln
	b.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !b.track(c) {
			c.Close()
			return nil
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.untrack(c)
			b.handle(c)
		}()
	}
}

func (b *Balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *Balancer) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// Close stops accepting, closes every relayed connection and waits for
// their goroutines.
func (b *Balancer) Close() error {
	b.mu.Lock()
	b.closed = true
	if b.ln != nil {
		b.ln.Close()
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// handle connects client to a backend, trying up to Attempts of them,
// and copies both ways until both sides are done.
func (b *Balancer) handle(client net.Conn) {
	defer client.Close()
	key := client.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(key); err == nil {
		key = h // bounded hashing keeps a client's connections together
	}
	var tried []int
	var backend net.Conn
	var i int
	for range b.c.Attempts {
		var err error
		i, err = b.c.Pool.Pick(key, tried...)
		if err != nil {
			return
		}
		backend, err = b.dialer.Dial("tcp", b.c.Pool.Name(i))
		if err == nil {
			break
		}
		b.c.Pool.Done(i, true)
		tried = append(tried, i)
	}
	if backend == nil {
		return
	}
	if !b.track(backend) {
		backend.Close()
		b.c.Pool.Done(i, false)
		return
	}
	defer b.untrack(backend)
	defer backend.Close()
	done := make(chan struct{})
	go func() {
		pipe(backend, client)
		close(done)
	}()
	pipe(client, backend)
	<-done
	b.c.Pool.Done(i, false)
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// pipe copies src to dst, then half-closes dst so that the other side
// sees the end of the stream while its own direction carries on.
func pipe(dst, src net.Conn) {
	buf := bufs.Get().(*[]byte)
	// Hiding ReadFrom and WriteTo makes io.CopyBuffer use buf.
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
	bufs.Put(buf)
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}

// CheckHealth probes backend i with a TCP connect.
func (b *Balancer) CheckHealth(ctx context.Context, i int) error {
	c, err := b.dialer.DialContext(ctx, "tcp", b.c.Pool.Name(i))
	if err != nil {
		return err
	}
	return c.Close()
}

// CheckHealthEvery runs health checks until ctx ends (health.Loop).
func (b *Balancer) CheckHealthEvery(ctx context.Context, interval time.Duration) {
	health.Loop(ctx, b.c.Pool, interval, b.CheckHealth)
}
