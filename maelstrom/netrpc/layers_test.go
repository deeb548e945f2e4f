package netrpc_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netrpc"
	"github.com/distsys-curriculum/distsys/maelstrom/netrpc/proto"
)

// layerServer serves each accepted connection with serve, one goroutine
// per connection unless serial (the flaw of an accept loop that handles
// one connection at a time).
func layerServer(t *testing.T, serial bool, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if serial {
				serve(c)
				c.Close()
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func echoBytes(c net.Conn) { io.Copy(c, c) }

// frames answers every frame with reply's answer; trust reads any length
// up to 64 MiB (the flaw of a reader that trusts the prefix).
func frames(trust bool, reply func([]byte) ([]byte, bool)) func(net.Conn) {
	return func(c net.Conn) {
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if n > 1<<20 && (!trust || n > 64<<20) {
				return
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			out, ok := reply(body)
			if !ok {
				return
			}
			if _, err := c.Write(proto.AppendFrame(nil, out)); err != nil {
				return
			}
		}
	}
}

func same(b []byte) ([]byte, bool) { return b, true }

// canonical answers a record as the lesson specifies, with the grader's
// codec; skipUnknown false is the flaw of a decoder that keeps what it
// does not know.
func canonical(skipUnknown bool) func([]byte) ([]byte, bool) {
	return func(b []byte) ([]byte, bool) {
		fs, err := proto.ParseFields(b)
		if err != nil {
			return nil, false
		}
		want := map[uint64]int{1: proto.WireVarint, 2: proto.WireVarint, 3: proto.WireBytes, 4: proto.WireFixed64, 5: proto.WireBytes, 6: proto.WireFixed32}
		last := map[uint64]proto.Field{}
		var tags, unknown []proto.Field
		for _, f := range fs {
			w, known := want[f.Num]
			switch {
			case !known:
				unknown = append(unknown, f)
			case w != f.Type:
				return nil, false
			case f.Num == 5:
				tags = append(tags, f)
			default:
				last[f.Num] = f
			}
		}
		var out []byte
		for num := uint64(1); num <= 6; num++ {
			if num == 5 {
				for _, f := range tags {
					out = proto.AppendField(out, f)
				}
				continue
			}
			if f, ok := last[num]; ok && (f.Varint != 0 || len(f.Bytes) > 0) {
				out = proto.AppendField(out, f)
			}
		}
		if !skipUnknown {
			for _, f := range unknown {
				out = proto.AppendField(out, f)
			}
		}
		return out, true
	}
}

func gradeLayer(t *testing.T, addr, layer string) netrpc.Report {
	t.Helper()
	rep, err := netrpc.CheckLayer(context.Background(), addr, layer,
		netrpc.Options{Duration: 1600 * time.Millisecond, RejectWithin: time.Second, Concurrency: 4, Abusers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	return rep
}

func TestLayerChecks(t *testing.T) {
	for _, tc := range []struct {
		name, layer string
		serial      bool
		serve       func(net.Conn)
		want        string // "" for valid, else a part of the violation
	}{
		{"tcp echo", netrpc.LayerTCP, false, echoBytes, ""},
		{"tcp echo one connection at a time", netrpc.LayerTCP, true, echoBytes, "answer"},
		{"frame echo", netrpc.LayerFraming, false, frames(false, same), ""},
		{"frame echo trusting the length", netrpc.LayerFraming, false, frames(true, same), "above the frame limit"},
		{"byte echo at the framing layer", netrpc.LayerFraming, false, echoBytes, "kept a connection open"},
		{"records", netrpc.LayerSerialization, false, frames(false, canonical(true)), ""},
		{"records keeping unknown fields", netrpc.LayerSerialization, false, frames(false, canonical(false)), "answered differently"},
		{"frame echo at the serialization layer", netrpc.LayerSerialization, false, frames(false, same), "answered differently"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := gradeLayer(t, layerServer(t, tc.serial, tc.serve), tc.layer)
			switch {
			case tc.want == "" && !rep.Valid:
				t.Fatalf("judged invalid: %s", rep.Violation)
			case tc.want == "" && (rep.Counts.Calls == 0 || rep.Counts.Probes == 0):
				t.Fatalf("nothing was exchanged: %+v", rep.Counts)
			case tc.want != "" && rep.Valid:
				t.Fatalf("a flawed server was judged valid")
			case tc.want != "" && !strings.Contains(rep.Violation, tc.want):
				t.Fatalf("violation %q does not mention %q", rep.Violation, tc.want)
			}
		})
	}
}
