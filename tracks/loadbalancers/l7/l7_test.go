package l7

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
)

// backend is a loopback HTTP server that names itself, echoes
// X-Forwarded-For and counts requests and new connections.
type backend struct {
	srv             *httptest.Server
	name            string
	requests, conns atomic.Int64
	posts           atomic.Int64
	status          atomic.Int64 // answer with this code when non-zero
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		b.requests.Add(1)
		if r.Method == http.MethodPost {
			b.posts.Add(1)
		}
		if c := b.status.Load(); c != 0 {
			w.WriteHeader(int(c))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s xff=%s body=%s", name, r.URL.Path, r.Header.Get("X-Forwarded-For"), body)
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

// front starts a balancer over backends on loopback.
func front(t *testing.T, alg balance.Algorithm, health *balance.Health, bs ...*backend) (*Balancer, *httptest.Server, *balance.Pool) {
	t.Helper()
	var names []balance.Backend
	for _, b := range bs {
		names = append(names, balance.Backend{Name: b.addr()})
	}
	pool, err := balance.New(names, balance.Options{Algorithm: alg, Now: time.Now, Health: health,
		Outlier: balance.Outlier{Consecutive: 3, BaseEjection: time.Minute, MaxEjectionPercent: 50}})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := New(Config{Pool: pool, Attempts: 3, AttemptTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(lb)
	t.Cleanup(func() { srv.Close(); lb.Close() })
	return lb, srv, pool
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoundRobinKeepAliveAndForwardedFor(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	_, srv, _ := front(t, balance.RoundRobin(), nil, a, b)
	c := srv.Client()
	for i := range 100 {
		code, body := get(t, c, srv.URL+"/x")
		if code != 200 || !strings.Contains(body, "xff=127.0.0.1") {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if a.requests.Load() != 50 || b.requests.Load() != 50 {
		t.Fatalf("round robin: a %d, b %d", a.requests.Load(), b.requests.Load())
	}
	// Sequential requests reuse one kept-alive connection per backend.
	if a.conns.Load() > 2 || b.conns.Load() > 2 {
		t.Fatalf("keep-alive: %d and %d connections for 50 requests each", a.conns.Load(), b.conns.Load())
	}
	// A client's own X-Forwarded-For is kept, with its address after it.
	req, _ := http.NewRequest("GET", srv.URL+"/y", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "xff=203.0.113.9, 127.0.0.1") {
		t.Fatalf("chained X-Forwarded-For: %q", body)
	}
}

// TestRetriesIdempotentOnly: with one backend dead, every GET and PUT
// succeeds (retried on the other), while a POST that hit a failing
// backend is not sent again.
func TestRetriesIdempotentOnly(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	_, srv, pool := front(t, balance.RoundRobin(), nil, a, b)
	b.srv.Close() // dead: connections refused
	c := srv.Client()
	for i := range 20 {
		req, _ := http.NewRequest("PUT", srv.URL+"/p", strings.NewReader(fmt.Sprint("v", i)))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprint("body=v", i)) {
			t.Fatalf("PUT %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if st := pool.Status(); !st[1].Ejected {
		t.Fatalf("dead backend not ejected after failures: %+v", st)
	}

	// POST: a backend that answers 503 gets the POST once; the client
	// sees the 503.
	x, y := newBackend(t, "x"), newBackend(t, "y")
	x.status.Store(503)
	y.status.Store(503)
	_, srv2, _ := front(t, balance.RoundRobin(), nil, x, y)
	resp, err := srv2.Client().Post(srv2.URL+"/once", "text/plain", strings.NewReader("pay"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || x.posts.Load()+y.posts.Load() != 1 {
		t.Fatalf("POST: status %d, sent %d times", resp.StatusCode, x.posts.Load()+y.posts.Load())
	}
	// The same with GET is retried on the other backend (and both fail).
	x.status.Store(0)
	resp, err = srv2.Client().Get(srv2.URL + "/again")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET after a 503: %d", resp.StatusCode)
	}
}

// TestHealthChecksStopTraffic: once health checks see a backend fail it
// gets nothing more, and gets traffic again once it recovers.
func TestHealthChecksStopTraffic(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb, srv, pool := front(t, balance.LeastOutstanding(), &balance.Health{Rise: 1, Fall: 1}, a, b)
	// b's own health endpoint answers; the probe reports it sick instead.
	sick := &atomic.Bool{}
	sick.Store(true)
	probe := func(ctx context.Context, i int) error {
		if i == 1 && sick.Load() {
			return fmt.Errorf("sick")
		}
		return lb.CheckHealth(ctx, i)
	}
	roundOf(pool, probe)
	before := b.requests.Load()
	for range 20 {
		get(t, srv.Client(), srv.URL+"/z")
	}
	if b.requests.Load() != before {
		t.Fatal("an unhealthy backend got requests")
	}
	sick.Store(false)
	roundOf(pool, probe)
	for range 20 {
		get(t, srv.Client(), srv.URL+"/z")
	}
	if b.requests.Load() == before {
		t.Fatal("a recovered backend got no requests")
	}
}

func roundOf(p *balance.Pool, probe func(ctx context.Context, i int) error) {
	var wg sync.WaitGroup
	for i := range p.Len() {
		wg.Add(1)
		go func() { defer wg.Done(); p.HealthResult(i, probe(context.Background(), i) == nil) }()
	}
	wg.Wait()
}

func TestCheckHealthEvery(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	lb, _, pool := front(t, balance.RoundRobin(), &balance.Health{Rise: 1, Fall: 1}, a, b)
	b.srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lb.CheckHealthEvery(ctx, 20*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for pool.Status()[1].Healthy && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if st := pool.Status(); st[1].Healthy || !st[0].Healthy {
		t.Fatalf("after health checks: %+v", st)
	}
}

// TestCurl: the balancer is a real server that curl can use.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	a := newBackend(t, "a")
	_, srv, _ := front(t, balance.RoundRobin(), nil, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-H", "X-Forwarded-For: 198.51.100.7", srv.URL+"/curl").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "a /curl xff=198.51.100.7, 127.0.0.1") {
		t.Fatalf("curl: %v %q", err, out)
	}
}
