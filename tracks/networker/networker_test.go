package networker

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc"
	"github.com/distsys-curriculum/distsys/tracks/networker/rpc"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
	"github.com/distsys-curriculum/distsys/tracks/networker/wire"
)

func TestServeAndCheckEndToEnd(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var serveErr bytes.Buffer
	served := make(chan int, 1)
	go func() {
		served <- Main(ctx, []string{"--addr", "127.0.0.1:0", "--shutdown-grace", "2s"}, pw, &serveErr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v (stderr %q)", err, serveErr.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", line)
	}
	go io.Copy(io.Discard, pr)

	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"check", "--addr", addr, "--duration", "1s", "--concurrency", "4", "--abusers", "4", "--reject-within", "2s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("check exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "net-rpc: valid") {
		t.Fatalf("report: %s", out.String())
	}
	stop()
	if code := <-served; code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveErr.String())
	}
}

func TestMainArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"check"}, &out, &errOut); code != 2 {
		t.Fatalf("check without --addr exited %d", code)
	}
	if code := Main(context.Background(), []string{"serve", "--bogus"}, &out, &errOut); code != 2 {
		t.Fatalf("unknown flag exited %d", code)
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"--addr", "0.0.0.0:0"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not a loopback") {
		t.Fatalf("non-loopback address: exit %d, %q", code, errOut.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out.Reset()
	if code := Main(context.Background(), []string{"check", "--addr", addr, "--duration", "200ms"}, &out, &errOut); code != 1 {
		t.Fatalf("check of a closed port exited %d: %s", code, out.String())
	}
}

func TestServiceMethods(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(NewService(rpc.ServerOptions{}), server.Options{})
	go srv.Serve(ln)
	defer srv.Close()
	c := rpc.NewClient(ln.Addr().String(), rpc.ClientOptions{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	code := func(method string, req []byte) rpc.Code {
		_, err := c.Call(ctx, method, req)
		return rpc.StatusCode(err)
	}
	for _, tc := range []struct {
		method string
		req    []byte
		want   rpc.Code
	}{
		{MethodSleep, wire.AppendUvarint(nil, 1), rpc.OK},
		{MethodSleep, nil, rpc.InvalidArgument},
		{MethodSleep, wire.AppendUvarint(nil, MaxSleep+1), rpc.InvalidArgument},
		{MethodSleep, append(wire.AppendUvarint(nil, 1), 0), rpc.InvalidArgument},
		{"missing", nil, rpc.NotFound},
	} {
		if got := code(tc.method, tc.req); got != tc.want {
			t.Errorf("%s(%x): got %v, want %v", tc.method, tc.req, got, tc.want)
		}
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer dcancel()
	if _, err := c.Call(dctx, MethodSleep, wire.AppendUvarint(nil, MaxSleep)); rpc.StatusCode(err) != rpc.DeadlineExceeded {
		t.Errorf("sleep past the deadline: %v", err)
	}
	s, err := c.Stream(ctx, MethodCount, wire.AppendUvarint(nil, MaxCount+1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); rpc.StatusCode(err) != rpc.InvalidArgument {
		t.Errorf("count beyond the limit: %v", err)
	}
}

// The reference service is valid by the grader's own client: the two
// implementations of the protocol meet only on the wire.
func TestReferenceServerIsValid(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(NewService(rpc.ServerOptions{}), server.Options{})
	go srv.Serve(ln)
	defer srv.Close()
	// Every kind of call and abuse must have run: a short ByteDelay and a
	// longer run let the slow request finish even on a loaded machine
	// under the race detector.
	opts := netrpc.Options{Concurrency: 8, Abusers: 4}
	opts.Duration, opts.ByteDelay = 3*time.Second, 300*time.Microsecond
	rep, err := netrpc.Check(context.Background(), ln.Addr().String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if !rep.Valid {
		t.Fatalf("reference server judged invalid: %s", rep.Violation)
	}
	c := rep.Counts
	if c.Echo == 0 || c.Count == 0 || c.Oversized == 0 || c.Garbage == 0 || c.HalfOpen == 0 || c.Slow == 0 || c.Probes == 0 {
		t.Fatalf("some part of the workload did not run: %+v", c)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 {
		t.Fatalf("latency quantiles %+v", rep.Latency)
	}
}
