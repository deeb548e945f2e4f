package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineEcho answers each line with "echo: <line>". A line "hold" waits on
// release before answering, to model a request in flight.
func lineEcho(release <-chan struct{}, started chan<- struct{}) Handler {
	return HandlerFunc(func(ctx context.Context, c *Conn) {
		for {
			if err := c.WaitIdle(); err != nil {
				return
			}
			c.BeginRead()
			line, err := c.Reader().ReadString('\n')
			if err != nil {
				return
			}
			if line == "hold\n" {
				started <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
					return
				}
			}
			if _, err := io.WriteString(c, "echo: "+line); err != nil {
				return
			}
		}
	})
}

func start(t *testing.T, h Handler, opts Options) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(h, opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) // bounds every test
	return c
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != "echo: "+line+"\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// expectClosed reads until the server closes the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("want the server to close the connection, got %v", err)
	}
}

func TestEchoConcurrent(t *testing.T) {
	_, addr := start(t, lineEcho(nil, nil), Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, addr)
			r := bufio.NewReader(c)
			for j := range 20 {
				roundTrip(t, c, r, strings.Repeat("x", i+j))
			}
		}()
	}
	wg.Wait()
}

func TestMaxConnsRejectsExtra(t *testing.T) {
	s, addr := start(t, lineEcho(nil, nil), Options{MaxConns: 2})
	a, b := dial(t, addr), dial(t, addr)
	roundTrip(t, a, bufio.NewReader(a), "a") // both are being served
	roundTrip(t, b, bufio.NewReader(b), "b")
	extra := dial(t, addr)
	expectClosed(t, extra)
	if st := s.Stats(); st.Rejected != 1 || st.Active != 2 {
		t.Fatalf("stats %+v, want 1 rejected, 2 active", st)
	}
	a.Close()
	// The freed slot is reusable once the server has noticed the close.
	for {
		c := dial(t, addr)
		if _, err := io.WriteString(c, "again\n"); err == nil {
			if got, err := bufio.NewReader(c).ReadString('\n'); err == nil && got == "echo: again\n" {
				break
			}
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIdleTimeoutCloses(t *testing.T) {
	_, addr := start(t, lineEcho(nil, nil), Options{IdleTimeout: 20 * time.Millisecond})
	c := dial(t, addr)
	roundTrip(t, c, bufio.NewReader(c), "first")
	expectClosed(t, c) // then silence
}

func TestReadTimeoutStopsTrickle(t *testing.T) {
	_, addr := start(t, lineEcho(nil, nil), Options{ReadTimeout: 30 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "never ends"); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	s, addr := start(t, lineEcho(release, started), Options{})
	busy, idle := dial(t, addr), dial(t, addr)
	busyR := bufio.NewReader(busy)
	roundTrip(t, idle, bufio.NewReader(idle), "hello")
	if _, err := io.WriteString(busy, "hold\n"); err != nil {
		t.Fatal(err)
	}
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	expectClosed(t, idle) // the idle connection is let go at once
	// No new connections: the listener is closed.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		expectClosed(t, c)
		c.Close()
	}
	close(release)
	got, err := busyR.ReadString('\n')
	if err != nil || got != "echo: hold\n" {
		t.Fatalf("in-flight reply: got %q, %v", got, err)
	}
	expectClosed(t, busy)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownDeadlineForces(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	defer close(release)
	s, addr := start(t, lineEcho(release, started), Options{})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "hold\n"); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the grace period is already over
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: got %v, want context.Canceled", err)
	}
	expectClosed(t, c)
	if st := s.Stats(); st.Active != 0 {
		t.Fatalf("%d connections still open after a forced shutdown", st.Active)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := New(lineEcho(nil, nil), Options{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("got %v", err)
	}
}
