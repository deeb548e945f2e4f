package rpc

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/tracks/networker/frame"
	"github.com/distsys-curriculum/distsys/tracks/networker/server"
)

// FuzzServer sends arbitrary bytes to a live server and then checks that it
// still answers on a fresh connection. A panic anywhere in the server's
// connection handling would crash the test binary, which the fuzzer reports.
func FuzzServer(f *testing.F) {
	req := func(e Envelope) []byte { return frame.AppendFrame(nil, AppendEnvelope(nil, &e)) }
	f.Add(req(Envelope{Type: Request, Stream: 1, Method: "echo", Payload: []byte("hi")}))
	f.Add(req(Envelope{Type: Request, Stream: 1, Method: "count", Payload: []byte{5}}))
	f.Add(append(req(Envelope{Type: Request, Stream: 3, Method: "block", Timeout: 1000}), req(Envelope{Type: Cancel, Stream: 3})...))
	f.Add(req(Envelope{Type: Request, Stream: 1, Method: "panic"}))
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<31))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte{0, 0, 0, 3, 0x08, 0x01, 0x10})

	ts := newTestServer(ServerOptions{MaxFrame: 4096})
	ts.blocked = make(chan error, 1<<16) // no test drains them here
	ts.started = make(chan struct{}, 1<<16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := server.New(ts, server.Options{ReadTimeout: time.Second})
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	c := NewClient(addr, ClientOptions{MaxFrame: 4096})
	f.Cleanup(func() { c.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write(data)
		nc.(*net.TCPConn).CloseWrite()
		// Whatever the server answers must be well-formed frames.
		fr := frame.NewReader(nc, 4096)
		for {
			p, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if _, err := ParseEnvelope(p); err != nil {
				t.Fatalf("the server sent a malformed envelope: %v", err)
			}
		}
		io.Copy(io.Discard, nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if got, err := c.Call(ctx, "echo", []byte("alive")); err != nil || string(got) != "alive" {
			t.Fatalf("server not answering after the input: %q, %v", got, err)
		}
	})
}
