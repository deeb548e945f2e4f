// Package l7 is the loadbalancers track's HTTP load balancer: a reverse
// proxy over the backends of a balance.Pool, the same core the Maelstrom
// node and the TCP balancer (l4) use.
//
// What makes it a layer-7 balancer rather than a TCP relay: it reads each
// request, so it balances requests rather than connections, over pools of
// kept-alive connections to the backends (one http.Transport); it retries
// a request on another backend when the first fails, but only when the
// method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), because a
// POST that failed may still have taken effect; it tells backends who the
// client was in X-Forwarded-For; and it sees response codes, so a 502, 503
// or 504 counts as a failure for passive outlier ejection.
package l7

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/balance"
	"github.com/distsys-curriculum/distsys/tracks/loadbalancers/health"
)

// Config configures a Balancer. The pool's backend names are the
// backends' host:port addresses.
type Config struct {
	Pool           *balance.Pool
	Attempts       int           // backends tried per idempotent request (at least 1)
	AttemptTimeout time.Duration // 0: none
	HealthPath     string        // GET here must answer 2xx; "" : /healthz
	MaxRetryBody   int64         // largest body buffered so it can be sent again; 0: 1 MiB
	Transport      *http.Transport
}

// Balancer is an http.Handler that balances requests over the pool.
type Balancer struct {
	c    Config
	rt   *http.Transport
	bufs sync.Pool
}

// New returns a Balancer; a nil Transport gets one that keeps up to 256
// idle connections per backend.
func New(c Config) (*Balancer, error) {
	if c.Pool == nil {
		return nil, errors.New("l7: no pool")
	}
	if c.Attempts < 1 {
		c.Attempts = 1
	}
	if c.HealthPath == "" {
		c.HealthPath = "/healthz"
	}
	if c.MaxRetryBody == 0 {
		c.MaxRetryBody = 1 << 20
	}
	rt := c.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	b := &Balancer{c: c, rt: rt}
	b.bufs.New = func() any { s := make([]byte, 32<<10); return &s }
	return b, nil
}

// idempotent methods may be sent twice (RFC 9110, 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// hopHeaders belong to one connection and are not forwarded (RFC 9110, 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHop(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// failed says whether a backend's answer counts against it.
func failed(resp *http.Response, err error) bool {
	return err != nil || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
}

func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	attempts := 1
	var body []byte
	if idempotent(r.Method) {
		attempts = b.c.Attempts
		if r.Body != nil && r.Body != http.NoBody {
			// A retry must send the body again: keep it, when it is small.
			buf, err := io.ReadAll(io.LimitReader(r.Body, b.c.MaxRetryBody+1))
			if err != nil {
				http.Error(w, "l7: reading the request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if int64(len(buf)) > b.c.MaxRetryBody {
				attempts = 1
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), r.Body))
			} else {
				body = buf
			}
		}
	}
	key := r.Header.Get("X-LB-Key")
	if key == "" {
		key = r.URL.Path
	}
	var tried []int
	var lastErr error
	for a := range attempts {
		i, err := b.c.Pool.Pick(key, tried...)
		if err != nil {
			break
		}
		tried = append(tried, i)
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if b.c.AttemptTimeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, b.c.AttemptTimeout)
		}
		out := b.outbound(ctx, r, b.c.Pool.Name(i), body)
		resp, err := b.rt.RoundTrip(out)
		bad := failed(resp, err)
		if bad && a+1 < attempts && r.Context().Err() == nil {
			b.c.Pool.Done(i, true)
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			cancel()
			lastErr = err
			continue
		}
		if err != nil {
			b.c.Pool.Done(i, true)
			cancel()
			lastErr = err
			break
		}
		b.relay(w, resp)
		resp.Body.Close()
		cancel()
		b.c.Pool.Done(i, bad)
		return
	}
	msg := "l7: no backend available"
	if lastErr != nil {
		msg = fmt.Sprintf("l7: %d backends tried, the last failed: %v", len(tried), lastErr)
	}
	http.Error(w, msg, http.StatusBadGateway)
}

// outbound is r addressed to backend, with the forwarding headers.
func (b *Balancer) outbound(ctx context.Context, r *http.Request, backend string, body []byte) *http.Request {
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = backend
	out.Close = false
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else if r.ContentLength == 0 {
		out.Body = nil
	}
	removeHop(out.Header)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Header.Set("X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	return out
}

func (b *Balancer) relay(w http.ResponseWriter, resp *http.Response) {
	removeHop(resp.Header)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	buf := b.bufs.Get().(*[]byte)
	io.CopyBuffer(w, resp.Body, *buf)
	b.bufs.Put(buf)
}

// CheckHealth probes backend i: GET HealthPath must answer 2xx.
func (b *Balancer) CheckHealth(ctx context.Context, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.c.Pool.Name(i)+b.c.HealthPath, nil)
	if err != nil {
		return err
	}
	resp, err := b.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("l7: %s%s answered %s", b.c.Pool.Name(i), b.c.HealthPath, resp.Status)
	}
	return nil
}

// CheckHealthEvery runs health checks until ctx ends (health.Loop).
func (b *Balancer) CheckHealthEvery(ctx context.Context, interval time.Duration) {
	health.Loop(ctx, b.c.Pool, interval, b.CheckHealth)
}

// Close drops the idle connections to the backends.
func (b *Balancer) Close() { b.rt.CloseIdleConnections() }
