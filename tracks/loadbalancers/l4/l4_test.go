package l4

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
)

// echoBackend answers each line with "name: line" and counts connections.
type echoBackend struct {
	ln    net.Listener
	name  string
	conns atomic.Int64
}

func newEcho(t *testing.T, name string) *echoBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoBackend{ln: ln, name: name}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.conns.Add(1)
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintf(c, "%s: %s\n", name, s.Text())
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return e
}

func start(t *testing.T, alg balance.Algorithm, health *balance.Health, addrs ...string) (*Balancer, string, *balance.Pool) {
	t.Helper()
	var bs []balance.Backend
	for _, a := range addrs {
		bs = append(bs, balance.Backend{Name: a})
	}
	pool, err := balance.New(bs, balance.Options{Algorithm: alg, Now: time.Now, Health: health,
		Outlier: balance.Outlier{Consecutive: 2, BaseEjection: time.Minute, MaxEjectionPercent: 50}})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := New(Config{Pool: pool, Attempts: 3, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go lb.Serve(ln)
	t.Cleanup(func() { lb.Close() })
	return lb, ln.Addr().String(), pool
}

// roundTrip opens a connection through the balancer, sends a line and
// returns the answer.
func roundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, line)
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("through the balancer: %v", err)
	}
	return strings.TrimSpace(got)
}

func TestRoundRobinConnections(t *testing.T) {
	a, b := newEcho(t, "a"), newEcho(t, "b")
	_, addr, _ := start(t, balance.RoundRobin(), nil, a.ln.Addr().String(), b.ln.Addr().String())
	var got []string
	for i := range 4 {
		got = append(got, roundTrip(t, addr, fmt.Sprint("hi", i)))
	}
	if strings.Join(got, "|") != "a: hi0|b: hi1|a: hi2|b: hi3" {
		t.Fatalf("round robin: %q", got)
	}
}

// TestHalfClose: a client that shuts its write side still gets every
// byte of the answer.
func TestHalfClose(t *testing.T) {
	a := newEcho(t, "a")
	_, addr, _ := start(t, balance.RoundRobin(), nil, a.ln.Addr().String())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(c, "line %d\n", i)
		fmt.Fprintf(&want, "a: line %d\n", i)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != want.String() {
		t.Fatalf("after half-close: %v, %d bytes of %d", err, len(got), want.Len())
	}
}

// TestDeadBackendConnectRetried: connects to a closed port fail, are
// retried on another backend, and eject the dead one.
func TestDeadBackendConnectRetried(t *testing.T) {
	a := newEcho(t, "a")
	dead := newEcho(t, "dead")
	deadAddr := dead.ln.Addr().String()
	dead.ln.Close()
	_, addr, pool := start(t, balance.RoundRobin(), nil, a.ln.Addr().String(), deadAddr)
	for i := range 10 {
		if got := roundTrip(t, addr, "x"); got != "a: x" {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
	if st := pool.Status(); !st[1].Ejected {
		t.Fatalf("dead backend not ejected: %+v", st)
	}
}

func TestHealthCheckLoop(t *testing.T) {
	a, b := newEcho(t, "a"), newEcho(t, "b")
	lb, addr, pool := start(t, balance.LeastOutstanding(), &balance.Health{Rise: 1, Fall: 1}, a.ln.Addr().String(), b.ln.Addr().String())
	b.ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lb.CheckHealthEvery(ctx, 20*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for pool.Status()[1].Healthy && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if pool.Status()[1].Healthy {
		t.Fatal("a closed backend still healthy")
	}
	before := b.conns.Load()
	for range 5 {
		if got := roundTrip(t, addr, "y"); got != "a: y" {
			t.Fatalf("got %q", got)
		}
	}
	if b.conns.Load() != before {
		t.Fatal("connections reached an unhealthy backend")
	}
}

func TestCloseEndsRelayedConnections(t *testing.T) {
	a := newEcho(t, "a")
	lb, addr, _ := start(t, balance.RoundRobin(), nil, a.ln.Addr().String())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "open")
	bufio.NewReader(c).ReadString('\n')
	lb.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
}
