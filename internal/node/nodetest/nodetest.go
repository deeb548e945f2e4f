// Package nodetest runs a node program on in-memory pipes for a track's
// unit tests: the test plays the grader and the network, one line at a
// time, without a grader run. Tracks share it rather than each writing its
// own harness.
package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
)

// Conn is a running node program and the test's end of its streams.
type Conn struct {
	t      testing.TB
	in     *program.Pipe
	out    *bufio.Reader
	stderr *program.Pipe
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the program's result, once done is closed
	once   sync.Once
}

// Start runs prog with args and env (nil for none) on pipes. The test's
// cleanup kills the program if the test did not stop it.
func Start(t testing.TB, prog program.Program, args []string, env map[string]string) *Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := program.NewPipe()
	c := &Conn{t: t, in: program.NewPipe(), out: bufio.NewReader(out), stderr: program.NewPipe(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.err = prog(ctx, program.IO{Stdin: c.in, Stdout: out, Stderr: c.stderr, Args: args, Env: env})
		out.Close()
		c.stderr.Close()
	}()
	t.Cleanup(func() { c.Kill() })
	return c
}

// Line writes one raw input line; the newline is added.
func (c *Conn) Line(s string) {
	c.t.Helper()
	if _, err := c.in.Write([]byte(s + "\n")); err != nil {
		c.t.Fatalf("writing to the node: %v", err)
	}
}

// Send writes a message from src to dest with the given JSON body.
func (c *Conn) Send(src, dest, body string) {
	c.t.Helper()
	c.Line(fmt.Sprintf(`{"src":%q,"dest":%q,"body":%s}`, src, dest, body))
}

// ReadLine returns the node's next output line, newline included; it
// fails with io.EOF once the node has stopped and said everything.
func (c *Conn) ReadLine() (string, error) { return c.out.ReadString('\n') }

// Close closes the node's stdin, as the grader does at the end of a run,
// waits for the program to return, and hands back what it wrote on stdout
// that was not read yet, everything it wrote on stderr, and its error.
func (c *Conn) Close() (unread, stderr string, err error) {
	c.in.Close()
	<-c.done
	rest, _ := io.ReadAll(c.out)
	logs, _ := io.ReadAll(c.stderr)
	return string(rest), string(logs), c.err
}

// Kill stops the node as the grader's kill fault does in-process: its
// context is cancelled and its stdin closed. It returns the program's
// error.
func (c *Conn) Kill() error {
	c.once.Do(func() {
		c.cancel()
		c.in.Close()
	})
	<-c.done
	return c.err
}
