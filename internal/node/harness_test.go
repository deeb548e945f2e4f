package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs a node on pipes; the test plays the network.
type harness struct {
	t      *testing.T
	n      *Node
	in     *program.Pipe
	out    *program.Pipe
	errp   *program.Pipe
	r      *bufio.Reader
	done   chan error
	cancel context.CancelFunc
}

func start(t *testing.T, setup func(n *Node)) *harness {
	t.Helper()
	h := &harness{
		t:    t,
		in:   program.NewPipe(),
		out:  program.NewPipe(),
		errp: program.NewPipe(),
		done: make(chan error, 1),
	}
	h.r = bufio.NewReader(h.out)
	h.n = New(program.IO{Stdin: h.in, Stdout: h.out, Stderr: h.errp})
	if setup != nil {
		setup(h.n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.n.Run(ctx) }()
	return h
}

// line writes one raw input line.
func (h *harness) line(s string) {
	h.t.Helper()
	if _, err := h.in.Write([]byte(s + "\n")); err != nil {
		h.t.Fatal(err)
	}
}

// send writes a message from src to n1.
func (h *harness) send(src, body string) {
	h.t.Helper()
	h.line(fmt.Sprintf(`{"id":7,"src":%q,"dest":"n1","body":%s}`, src, body))
}

// out is one decoded output line.
type outMsg struct {
	Src  string         `json:"src"`
	Dest string         `json:"dest"`
	Body map[string]any `json:"body"`
	raw  string
}

func (h *harness) recv() outMsg {
	h.t.Helper()
	line, err := h.r.ReadString('\n')
	if err != nil {
		h.t.Fatalf("reading node output: %v (partial %q)", err, line)
	}
	var m outMsg
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		h.t.Fatalf("node wrote a line that is not an envelope {src,dest,body}: %q: %v", line, err)
	}
	m.raw = line
	return m
}

func (h *harness) init(ids ...string) {
	h.t.Helper()
	if len(ids) == 0 {
		ids = []string{"n1"}
	}
	b, _ := json.Marshal(ids)
	h.send("c0", fmt.Sprintf(`{"type":"init","msg_id":1,"node_id":"n1","node_ids":%s}`, b))
	m := h.recv()
	if m.Body["type"] != "init_ok" || m.Body["in_reply_to"] != 1.0 || m.Dest != "c0" || m.Src != "n1" {
		h.t.Fatalf("want init_ok to c0 in reply to 1, got %s", m.raw)
	}
}

// finish closes stdin, waits for Run, and returns what is left on stdout
// and everything written to stderr.
func (h *harness) finish() (stdout, stderr string) {
	h.t.Helper()
	h.in.Close()
	if err := <-h.done; err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	h.cancel()
	h.out.Close()
	h.errp.Close()
	rest, _ := io.ReadAll(h.r)
	logs, _ := io.ReadAll(h.errp)
	return string(rest), string(logs)
}

func echoSetup(n *Node) {
	type echo struct {
		MessageBody
		Echo any `json:"echo"`
	}
	HandleTyped(n, "echo", func(_ Message, req echo) (any, error) {
		return echo{MessageBody: MessageBody{Type: "echo_ok"}, Echo: req.Echo}, nil
	})
}

func readAll(h *harness) (stdout, stderr string) {
	rest, _ := io.ReadAll(h.r)
	logs, _ := io.ReadAll(h.errp)
	return string(rest), string(logs)
}

func testIO() program.IO {
	return program.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
}
