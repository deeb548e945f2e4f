package maelstrom

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/rawjson"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

// Nodes says how to run the system under test: Binary or InProcess.
type Nodes interface{ launcher() launcher }

// Binary runs every node as a process of the same executable.
type Binary struct {
	Path string
	Args []string
}

// InProcess runs every node as a goroutine executing Program on in-memory
// pipes. Under testing/synctest the whole run is in virtual time.
//
// Each node's disk is simulated too (program.IO.FS, a memfs.FS holding its
// MAELSTROM_DATA_DIR): a kill is a power failure that loses every write
// the node did not fsync, as in the FoundationDB and TigerBeetle
// simulators. A killed node process, by contrast, keeps what it wrote in
// the OS page cache.
type InProcess struct {
	Program program.Program
	Args    []string
	// Clock, if set, gives each node its clock (a clock fault hands out
	// skewed ones); nil means the system clock.
	Clock func(node string) program.Clock
}

func (b Binary) launcher() launcher    { return b }
func (p InProcess) launcher() launcher { return p }

// proc is one running incarnation of a node.
type proc struct {
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader
	wait   func() error // returns when the node has exited
	kill   func()
	// pause and resume stop and continue the node (SIGSTOP and SIGCONT,
	// or the in-process program.Gate).
	pause, resume func() error
}

type launcher interface {
	// start runs one incarnation of node id; env adds variables a workload
	// gives that node (e.g. net-rpc's NETRPC_ADDR); disk is its simulated
	// disk (in-process only, nil for processes).
	start(id, dataDir string, env map[string]string, disk storage.FS) (*proc, error)
	// simulatedDisk says whether nodes get a memfs.FS as their disk.
	simulatedDisk() bool
}

func (Binary) simulatedDisk() bool    { return false }
func (InProcess) simulatedDisk() bool { return true }

func (b Binary) start(id, dataDir string, extraEnv map[string]string, _ storage.FS) (*proc, error) {
	path, err := filepath.Abs(b.Path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, b.Args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), program.EnvDataDir+"="+dataDir, program.EnvNodeID+"="+id)
	for k, v := range extraEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s for %s: %w", b.Path, id, err)
	}
	return &proc{stdin: stdin, stdout: stdout, stderr: stderr,
		wait:   cmd.Wait,
		kill:   func() { _ = cmd.Process.Kill() },
		pause:  func() error { return stopProcess(cmd.Process) },
		resume: func() error { return continueProcess(cmd.Process) }}, nil
}

func (p InProcess) start(id, dataDir string, extraEnv map[string]string, disk storage.FS) (*proc, error) {
	if p.Program == nil {
		return nil, errors.New("InProcess needs a Program")
	}
	in, out, errp := program.NewPipe(), program.NewPipe(), program.NewPipe()
	ctx, cancel := context.WithCancel(context.Background())
	gate := program.NewGate()
	env := map[string]string{program.EnvDataDir: dataDir, program.EnvNodeID: id}
	for k, v := range extraEnv {
		env[k] = v
	}
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				// As a process would, leave the panic and its stack on stderr
				// so that the crash report shows where it happened.
				fmt.Fprintf(errp, "panic: %v\n\n%s", r, debug.Stack())
				runErr = fmt.Errorf("panic: %v", r)
			}
			out.Close()
			errp.Close()
		}()
		var clock program.Clock
		if p.Clock != nil {
			clock = p.Clock(id)
		}
		runErr = p.Program(ctx, program.IO{Stdin: in, Stdout: out, Stderr: errp, Args: p.Args, Clock: clock,
			Env: env, Gate: gate, FS: disk})
	}()
	return &proc{stdin: in, stdout: out, stderr: errp,
		wait: func() error {
			<-done
			if runErr == nil {
				return errors.New("program returned")
			}
			return runErr
		},
		kill:   func() { gate.Resume(); cancel(); in.Close() },
		pause:  func() error { gate.Pause(); return nil },
		resume: func() error { gate.Resume(); return nil }}, nil
}

// stderrKeep is how many stderr lines a crash report shows.
const stderrKeep = 20

// node is a server node and its current incarnation.
type node struct {
	id      string
	dataDir string
	// disk is the node's simulated disk in-process (nil for processes):
	// kept across restarts, crashed by every kill.
	disk *memfs.FS

	mu       sync.Mutex
	p        *proc
	killed   bool // exit was asked for, not a crash
	exited   chan struct{}
	exitErr  error
	tail     []string // last stderr lines
	panicAt  string   // the first panic or fatal error line, kept even when the stack pushes it out of tail
	lastOut  []byte   // last stdout line (a string only for crash reports)
	log      bytes.Buffer
	lineWait sync.WaitGroup
	// gate withholds the node's input and output while it is paused
	// (faults.go), in both modes, so that the network sees the same
	// silence from a stopped process and a paused goroutine.
	gate  *program.Gate
	stdin *lockedWriter // the current incarnation's stdin
}

// cluster runs the server nodes and connects them to the network.
type cluster struct {
	l       launcher
	net     *netsim.Net
	ids     []string
	nodes   map[string]*node
	rec     *recorder
	stderrW io.Writer // --log-stderr echo; nil for none
	crashed chan *node
	// observe, if set, sees every message a node sends to another node
	// (workloads implementing workload.MessageObserver).
	observe func(src, dest string, body json.RawMessage)
	// env, if set, gives each node extra environment variables.
	env func(id string) map[string]string
}

func (c *cluster) startNode(n *node) error {
	var env map[string]string
	if c.env != nil {
		env = c.env(n.id)
	}
	var disk storage.FS
	if n.disk != nil {
		disk = n.disk
	}
	p, err := c.l.start(n.id, n.dataDir, env, disk)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.p, n.killed, n.exited, n.exitErr = p, false, make(chan struct{}), nil
	exited := n.exited
	if n.gate == nil {
		n.gate = program.NewGate()
	}
	gate := n.gate
	// One writer at a time: the network and raw injections (faults.go).
	w := &lockedWriter{w: p.stdin}
	n.stdin = w
	n.mu.Unlock()
	var buf []byte
	c.net.Register(n.id, func(m netsim.Message) {
		_ = gate.Wait(context.Background()) // paused: hold; kill opens the gate
		buf = appendEnvelope(buf[:0], m)
		_, _ = w.Write(buf) // a dead node's pipe just refuses
	})
	n.lineWait.Add(2)
	go c.readStdout(n, p.stdout, gate)
	go c.readStderr(n, p.stderr)
	go func() {
		// Readers first: exec.Cmd.Wait closes the pipes, losing unread lines.
		n.lineWait.Wait()
		err := p.wait()
		n.mu.Lock()
		n.exitErr = err
		killed := n.killed
		n.mu.Unlock()
		close(exited)
		if !killed {
			select {
			case c.crashed <- n:
			default:
			}
		}
	}()
	return nil
}

// kill stops a node and waits for it to exit (at most 5 s).
func (c *cluster) kill(n *node) {
	n.mu.Lock()
	p, exited := n.p, n.exited
	n.killed = true
	n.mu.Unlock()
	if p == nil {
		return
	}
	// SIGKILL ends a stopped process too; the held messages are lost.
	n.gate.Resume()
	// The endpoint stays: messages to a dead node are lost, as they would
	// be on a real network, until it restarts and registers again.
	p.kill()
	if n.disk != nil {
		// The power fails with the kill: what was not synced is gone, and
		// the dying incarnation's open files stop working.
		n.disk.Crash()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
	}
}

func (c *cluster) readStdout(n *node, r io.Reader, gate *program.Gate) {
	defer n.lineWait.Done()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		_ = gate.Wait(context.Background()) // a paused node says nothing
		if len(bytes.TrimSpace(line)) > 0 {
			n.mu.Lock()
			n.lastOut = bytes.TrimRight(line, "\n") // line is fresh: no copy needed
			n.mu.Unlock()
			c.route(n.id, bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// appendEnvelope renders a message as the line a node reads; the body is
// already valid JSON, so only the ids need encoding.
func appendEnvelope(b []byte, m netsim.Message) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"src":`...)
	b = rawjson.AppendString(b, m.Src)
	b = append(b, `,"dest":`...)
	b = rawjson.AppendString(b, m.Dest)
	b = append(b, `,"body":`...)
	b = append(b, m.Body...)
	return append(b, "}\n"...)
}

// envelope is what a node may print: exactly src, dest, body and an
// optional id that the network replaces.
type envelope struct {
	Src  *string         `json:"src"`
	Dest *string         `json:"dest"`
	Body json.RawMessage `json:"body"`
	ID   json.RawMessage `json:"id"`
}

// decodeEnvelope is route's general path, for lines not of the plain shape
// (and for the exact error messages).
func decodeEnvelope(line []byte) (envelope, error) {
	var env envelope
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	err := d.Decode(&env)
	if err == nil && d.More() {
		err = errors.New("more than one JSON value on the line")
	}
	return env, err
}

// route validates one line a node printed and sends it on the network.
func (c *cluster) route(from string, line []byte) {
	var env envelope
	var err error
	if src, dest, body, ok := rawjson.Envelope(line, c.net.Name); ok {
		// The plain shape, validated in one pass; body aliases line, which
		// readStdout never reuses.
		env = envelope{Src: &src, Dest: &dest, Body: body}
	} else {
		env, err = decodeEnvelope(line)
	}
	if err != nil {
		if json.Valid(line) {
			c.rec.protocolError(from, string(line), fmt.Sprintf("node %s sent a malformed message: %v (only src, dest and body are allowed at the top level)", from, err))
			return
		}
		c.rec.protocolError(from, string(line), fmt.Sprintf("node %s printed a line to stdout that is not well-formed JSON (%v); stdout is only for messages, log to stderr instead", from, err))
		return
	}
	var problems []string
	if env.Src == nil || *env.Src == "" {
		problems = append(problems, "src must be a non-empty string")
	}
	if env.Dest == nil || *env.Dest == "" {
		problems = append(problems, "dest must be a non-empty string")
	}
	body := env.Body
	if len(body) == 0 || body[0] != '{' {
		problems = append(problems, "body must be a JSON object")
	}
	if len(problems) > 0 {
		c.rec.protocolError(from, string(line), fmt.Sprintf("node %s sent a malformed message: %s", from, strings.Join(problems, "; ")))
		return
	}
	src, dest := *env.Src, *env.Dest
	if c.observe != nil && slices.Contains(c.ids, src) && slices.Contains(c.ids, dest) {
		c.observe(src, dest, body)
	}
	if _, err := c.net.Send(src, dest, body); err != nil {
		if netsim.IsClient(dest) && !c.net.Registered(dest) && c.net.Registered(src) {
			// A reply to a client that timed out and was replaced: Maelstrom
			// would die here, but it is a normal consequence of timeouts.
			c.rec.lateReply(from, dest)
			return
		}
		c.rec.protocolError(from, string(line), fmt.Sprintf("node %s sent a message that cannot be routed: %v", from, err))
	}
}

func (c *cluster) readStderr(n *node, r io.Reader) {
	defer n.lineWait.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		n.mu.Lock()
		n.log.WriteString(line)
		n.log.WriteByte('\n')
		if n.panicAt == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
			n.panicAt = line
		}
		n.tail = append(n.tail, line)
		if len(n.tail) > stderrKeep {
			n.tail = n.tail[len(n.tail)-stderrKeep:]
		}
		n.mu.Unlock()
		if c.stderrW != nil {
			fmt.Fprintf(c.stderrW, "%s | %s\n", n.id, line)
		}
	}
}

// crashReport describes a node that died or never answered.
func (n *node) crashReport(what string) *Crash {
	n.mu.Lock()
	defer n.mu.Unlock()
	cr := &Crash{Node: n.id, What: what, LastStdout: string(n.lastOut), Stderr: append([]string(nil), n.tail...)}
	if n.panicAt != "" && !slices.Contains(cr.Stderr, n.panicAt) {
		cr.Stderr = append([]string{n.panicAt, "..."}, cr.Stderr...)
	}
	if n.exitErr != nil {
		cr.ExitStatus = n.exitErr.Error()
	}
	return cr
}
