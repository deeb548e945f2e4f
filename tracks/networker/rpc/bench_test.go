package rpc

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"

	"github.com/distsys-curriculum/distsys/tracks/networker/server"
)

// Our RPC and gRPC side by side on loopback: the same 64-byte echo, one
// connection each, 1 and 64 concurrent callers. gRPC runs without generated
// code: a hand-written ServiceDesc and a codec that passes bytes through, so
// both sides move the same bytes and neither pays for protobuf reflection.

type rawMsg struct{ b []byte }

type rawCodec struct{}

func (rawCodec) Name() string { return "networker-raw" }

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(*rawMsg).b, nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	v.(*rawMsg).b = append([]byte(nil), data...) // gRPC may reuse data
	return nil
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "networker.bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			m := new(rawMsg)
			if err := dec(m); err != nil {
				return nil, err
			}
			return m, nil
		},
	}},
}

type caller func(ctx context.Context, req []byte) ([]byte, error)

func startOurs(b *testing.B) caller {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rs := NewServer(ServerOptions{})
	rs.Handle("echo", func(ctx context.Context, req []byte) ([]byte, error) { return req, nil })
	s := server.New(rs, server.Options{})
	go s.Serve(ln)
	c := NewClient(ln.Addr().String(), ClientOptions{})
	b.Cleanup(func() { c.Close(); s.Close() })
	return func(ctx context.Context, req []byte) ([]byte, error) { return c.Call(ctx, "echo", req) }
}

func startGRPC(b *testing.B) caller {
	encoding.RegisterCodec(rawCodec{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := grpc.NewServer()
	s.RegisterService(&echoDesc, struct{}{})
	go s.Serve(ln)
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.CallContentSubtype(rawCodec{}.Name())))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); s.Stop() })
	return func(ctx context.Context, req []byte) ([]byte, error) {
		out := new(rawMsg)
		err := conn.Invoke(ctx, "/networker.bench.Echo/Echo", &rawMsg{b: req}, out)
		return out.b, err
	}
}

// runCallers makes b.N calls from the given number of goroutines and
// reports throughput and latency quantiles.
func runCallers(b *testing.B, callers int, call caller) {
	req := make([]byte, 64)
	ctx := context.Background()
	for range 100 { // connect and warm up outside the measurement
		if _, err := call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, callers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				got, err := call(ctx, req)
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil || len(got) != len(req) {
					b.Errorf("call: %d bytes, %v", len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

func BenchmarkUnary(b *testing.B) {
	for _, impl := range []struct {
		name  string
		start func(*testing.B) caller
	}{{"ours", startOurs}, {"grpc", startGRPC}} {
		for _, callers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", impl.name, callers), func(b *testing.B) {
				runCallers(b, callers, impl.start(b))
			})
		}
	}
}
