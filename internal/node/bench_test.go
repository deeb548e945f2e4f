package node

import (
	"bufio"
	"context"
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// BenchmarkEchoRoundTrip measures a node's message handling: decode, route
// to a typed handler on its own goroutine, encode and flush the reply,
// with many requests in flight.
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, limit := range []int{DefaultMaxHandlers, 1 << 30} {
		b.Run(fmt.Sprintf("handlers=%d", limit), func(b *testing.B) { benchEcho(b, limit) })
	}
}

func benchEcho(b *testing.B, limit int) {
	in, out := program.NewPipe(), program.NewPipe()
	n := New(program.IO{Stdin: in, Stdout: out, Stderr: program.NewPipe()})
	echoSetup(n)
	n.SetMaxConcurrentHandlers(limit)
	n.Init("n1", []string{"n1"})
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	r := bufio.NewReader(out)

	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"id":%d,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":%d,"echo":"Please echo %d"}}`+"\n", i, i+1, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := range b.N {
			in.Write(lines[i%len(lines)])
		}
	}()
	for range b.N {
		if _, err := r.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	in.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEchoSequential measures one request at a time: the latency of a
// round trip through the read loop, a handler goroutine and the writer.
func BenchmarkEchoSequential(b *testing.B) {
	in, out := program.NewPipe(), program.NewPipe()
	n := New(program.IO{Stdin: in, Stdout: out, Stderr: program.NewPipe()})
	echoSetup(n)
	n.Init("n1", []string{"n1"})
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	r := bufio.NewReader(out)
	line := []byte(`{"id":1,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"Please echo 1"}}` + "\n")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in.Write(line)
		if _, err := r.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	in.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
