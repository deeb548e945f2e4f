package loadbalancers_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/l4"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/l7"
)

// The front ends' benchmarks, in one run (the lesson's table):
//
//	go test -run '^$' -bench . -benchtime 3s ./tracks/loadbalancers/
//
// BenchmarkHTTP: requests/s and p99 of a small GET sent directly to a
// loopback backend, through net/http/httputil.ReverseProxy, and through
// our l7 balancer (one backend, so both proxies do the same work).
// BenchmarkTCP: MB/s of a stream written directly to a loopback sink and
// through our l4 balancer.

func pool(b *testing.B, addrs ...string) *balance.Pool {
	var bs []balance.Backend
	for _, a := range addrs {
		bs = append(bs, balance.Backend{Name: a})
	}
	p, err := balance.New(bs, balance.Options{Algorithm: balance.LeastOutstanding(), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func transport() *http.Transport {
	return &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
}

func BenchmarkHTTP(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the backend\n")
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)

	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target); r.SetXForwarded() },
		Transport: transport(),
	}
	rpSrv := httptest.NewServer(rp)
	defer rpSrv.Close()

	lb, err := l7.New(l7.Config{Pool: pool(b, target.Host), Attempts: 2, Transport: transport()})
	if err != nil {
		b.Fatal(err)
	}
	lbSrv := httptest.NewServer(lb)
	defer lbSrv.Close()

	for _, c := range []struct{ name, url string }{
		{"direct", backend.URL}, {"reverseproxy", rpSrv.URL}, {"l7", lbSrv.URL},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: transport()}
			defer client.CloseIdleConnections()
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var lat []time.Duration
				for pb.Next() {
					t0 := time.Now()
					resp, err := client.Get(c.url + "/x")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

func BenchmarkTCP(b *testing.B) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Write([]byte{1}) // everything arrived
				c.Close()
			}()
		}
	}()
	lb, err := l4.New(l4.Config{Pool: pool(b, sink.Addr().String())})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go lb.Serve(ln)
	defer lb.Close()

	chunk := make([]byte, 64<<10)
	for _, c := range []struct{ name, addr string }{{"direct", sink.Addr().String()}, {"l4", ln.Addr().String()}} {
		b.Run(c.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for range b.N {
				if _, err := conn.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			conn.(*net.TCPConn).CloseWrite()
			if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
				b.Fatal(err)
			}
		})
	}
}
