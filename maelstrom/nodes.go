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
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/rawjson"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

// Nodes says how to run the system under test: Binary or InProcess.
type Nodes interface{ launcher() launcher }

// Binary runs every node as a process of the same executable, in a
// process group of its own, under Limits.
type Binary struct {
	Path string
	Args []string
	// Limits bound each node process; the zero value means DefaultLimits.
	Limits Limits
	// NoLimits runs nodes under the grader's own limits.
	NoLimits bool
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

// Limits bound each node process (0: the grader's own limit).
type Limits struct {
	// Memory is the address space (RLIMIT_AS) in bytes: everything the
	// process maps, heap, stacks, libraries and reservations alike.
	Memory uint64
	// OpenFiles is the most file descriptors open at once (RLIMIT_NOFILE).
	OpenFiles uint64
	// Processes is the most processes and threads (RLIMIT_NPROC). The
	// kernel counts every process of the user the node runs as, not only
	// the node's, and does not enforce it for root.
	Processes uint64
}

// DefaultLimits are generous for any honest node, in any language, and
// stop a runaway one before it takes the machine: 8 GiB of address space
// (a JVM or V8 reserves far more than it uses), 4096 open files and 4096
// processes.
func DefaultLimits() Limits {
	return Limits{Memory: 8 << 30, OpenFiles: 4096, Processes: 4096}
}

func (b Binary) launcher() launcher    { return b }
func (p InProcess) launcher() launcher { return p }

// proc is one running incarnation of a node.
type proc struct {
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader
	// wait returns when the node's own process (or program) has exited,
	// and for a process, after killing everything it left behind in its
	// group; it does not wait for the output pipes.
	wait func() error
	// kill ends the node and everything it started.
	kill func()
	// release frees the pipes once the readers are done or gave up.
	release func()
	// pause and resume stop and continue the node (SIGSTOP and SIGCONT to
	// its process group, or the in-process program.Gate).
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
	cmd.SysProcAttr = groupAttr()
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
	pid := cmd.Process.Pid
	if !b.NoLimits {
		l := b.Limits
		if l == (Limits{}) {
			l = DefaultLimits()
		}
		if err := applyLimits(pid, l); err != nil {
			_ = killGroup(pid)
			_ = cmd.Wait()
			return nil, fmt.Errorf("limit %s for %s: %w", b.Path, id, err)
		}
	}
	// cmd.Wait would close the output pipes as soon as the process exits,
	// losing what a reader had not read yet, and block until every
	// process holding them (a wrapper's child) is gone: the runner waits
	// for the process alone, kills its group, then closes the pipes.
	files := []io.Closer{stdin, stdout.(io.Closer), stderr.(io.Closer)}
	// Signals go to the group only while its leader is not reaped, so
	// that its id cannot have been handed to another process meanwhile.
	var mu sync.Mutex
	reaped := false
	signal := func(f func(int) error) error {
		mu.Lock()
		defer mu.Unlock()
		if reaped {
			return nil
		}
		return f(pid)
	}
	return &proc{stdin: stdin, stdout: stdout, stderr: stderr,
		wait: func() error {
			waitExited(pid)
			// Whatever the node started dies with it (a wrapper script's
			// child), whether it was killed or exited by itself.
			mu.Lock()
			_ = killGroup(pid)
			reaped = true
			mu.Unlock()
			st, err := cmd.Process.Wait()
			if err != nil {
				return err
			}
			if !st.Success() {
				return &exec.ExitError{ProcessState: st}
			}
			return nil
		},
		kill: func() { _ = signal(killGroup) },
		release: func() {
			for _, f := range files {
				_ = f.Close()
			}
		},
		pause:  func() error { return signal(stopGroup) },
		resume: func() error { return signal(continueGroup) }}, nil
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
		kill:    func() { gate.Resume(); cancel(); in.Close() },
		release: func() {},
		pause:   func() error { gate.Pause(); return nil },
		resume:  func() error { gate.Resume(); return nil }}, nil
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

	mu      sync.Mutex
	p       *proc
	killed  bool // exit was asked for, not a crash
	exited  chan struct{}
	exitErr error
	tail    []string // last stderr lines
	panicAt string   // the first panic or fatal error line, kept even when the stack pushes it out of tail
	lastOut []byte   // last stdout line (a string only for crash reports)
	log     bytes.Buffer
	// stderrBytes counts everything the node wrote to stderr, logDropped
	// what the log could not keep (maxLogBytes).
	stderrBytes, logDropped int64
	// inited says the current incarnation answered init.
	inited   bool
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
	// keys are each node's key variables (keys.go).
	keys map[string]map[string]string
	// tamper, while the byzantine nemesis is on, rewrites what its liars
	// send to other nodes (keys.go).
	tamper atomic.Pointer[nemesis.Tamper]
	// fail ends the run with a crash report (a node that cannot be
	// listened to any longer).
	fail func(*Crash)
}

func (c *cluster) startNode(n *node) error {
	var env map[string]string
	if c.env != nil {
		env = c.env(n.id)
	}
	if k := c.keys[n.id]; k != nil {
		if env == nil {
			env = map[string]string{}
		}
		for name, v := range k {
			env[name] = v
		}
	}
	var disk storage.FS
	if n.disk != nil {
		disk = n.disk.Incarnation() // a killed run cannot touch the next one's files
	}
	p, err := c.l.start(n.id, n.dataDir, env, disk)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.p, n.killed, n.exited, n.exitErr, n.inited = p, false, make(chan struct{}), nil, false
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
		err := p.wait() // for a process, its group is killed too
		// The readers drain what the node printed before it exited. A
		// process that left the node's group may hold the pipes open, so
		// they get a bounded time before the pipes are closed under them.
		readersDone := make(chan struct{})
		go func() { n.lineWait.Wait(); close(readersDone) }()
		t := time.NewTimer(drainTimeout)
		select {
		case <-readersDone:
		case <-t.C:
		}
		t.Stop()
		p.release()
		<-readersDone
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

// drainTimeout bounds how long the runner reads a node's output after its
// process exited.
const drainTimeout = 2 * time.Second

// startAll starts every node at once; if one cannot be started, those
// that were are killed and the first error is returned.
func (c *cluster) startAll() error {
	var g errgroup.Group
	for _, id := range c.ids {
		g.Go(func() error { return c.startNode(c.nodes[id]) })
	}
	err := g.Wait()
	if err != nil {
		_ = c.killAll()
	}
	return err
}

// killAll kills every node at once (the end of a run) and says which did
// not exit in time.
func (c *cluster) killAll() error {
	var g errgroup.Group
	for _, id := range c.ids {
		g.Go(func() error {
			if !c.kill(c.nodes[id]) {
				return fmt.Errorf("node %s did not exit within %v of being killed", id, killWait)
			}
			return nil
		})
	}
	return g.Wait()
}

// killWait bounds how long kill waits for a node to exit.
const killWait = 5 * time.Second

// kill stops a node and everything it started and waits for it to exit
// (at most killWait); it reports whether the node exited.
func (c *cluster) kill(n *node) bool {
	n.mu.Lock()
	p, exited := n.p, n.exited
	n.killed = true
	n.mu.Unlock()
	if p == nil {
		return true
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
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-exited:
		return true
	case <-t.C:
		return false
	}
}

// MaxLineBytes is the longest line a node may print on stdout: a message
// of 16 MiB. A longer line is a protocol error that ends the run; the
// grader reads no further, so its memory stays bounded whatever a node
// prints.
const MaxLineBytes = 16 << 20

// maxLogBytes is how much of a node's stderr the grader keeps (its
// node-logs/<node>.log, across restarts); the rest is counted and
// dropped, and the summary says so.
const maxLogBytes = 8 << 20

// maxStderrLine is the longest stderr line kept whole; longer ones are
// cut (the rest counted as dropped).
const maxStderrLine = 64 << 10

var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most max bytes (without the newline)
// into a fresh slice. A longer line returns errLineTooLong after reading
// max bytes of it, and nothing more.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		content := len(line) + len(frag)
		if len(frag) > 0 && frag[len(frag)-1] == '\n' {
			content--
		}
		if content > max {
			if len(line) == 0 {
				line = append(line, frag[:min(len(frag), 200)]...)
			}
			return line, errLineTooLong
		}
		if len(line)+len(frag) > cap(line) && len(line) > 0 {
			// Double, where append grows large slices by a quarter: a
			// long line then costs at most twice its length in garbage.
			grown := make([]byte, len(line), min(2*(len(line)+len(frag)), max+1+br.Size()))
			copy(grown, line)
			line = grown
		}
		line = append(line, frag...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

func (c *cluster) readStdout(n *node, r io.Reader, gate *program.Gate) {
	defer n.lineWait.Done()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, MaxLineBytes)
		_ = gate.Wait(context.Background()) // a paused node says nothing
		if err == errLineTooLong {
			c.lineTooLong(n, line)
			return // read no further; the run is over
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n.mu.Lock()
			n.lastOut = bytes.TrimRight(line, "\n") // line is fresh: no copy needed
			n.mu.Unlock()
			c.route(n, bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// lineTooLong ends the run: a node printed a line over MaxLineBytes.
func (c *cluster) lineTooLong(n *node, start []byte) {
	msg := fmt.Sprintf("node %s printed a line longer than %d MiB on stdout without a newline, more than any message may be; the grader read no further and ended the run (does the node print a huge value, or forget the newline after each message?)", n.id, MaxLineBytes>>20)
	c.rec.protocolError(n.id, string(start[:min(len(start), 200)]), msg)
	if c.fail != nil {
		cr := n.crashReport(strings.TrimPrefix(msg, "node "+n.id+" "))
		cr.LastStdout = string(start[:min(len(start), 200)]) + "..."
		c.fail(cr)
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

// route validates one line node n printed and sends it on the network.
func (c *cluster) route(n *node, line []byte) {
	from := n.id
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
	if src != from {
		c.spoofed(n, src, line)
		return
	}
	if c.observe != nil && slices.Contains(c.ids, src) && slices.Contains(c.ids, dest) {
		c.observe(src, dest, body)
	}
	if t := c.tamper.Load(); t != nil && t.Lies(src) && slices.Contains(c.ids, dest) {
		for _, f := range t.Apply(src, dest, body) {
			_, _ = c.net.Send(f.Src, f.Dest, f.Body) // a node may be down: lost like any message to it
		}
		return
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

// spoofed drops a line whose src is not the node that printed it: a node
// may speak only as itself, never as a client, a service or another
// node. Before the node has answered init this ends the run at once: its
// output cannot be a reply (a --bin that echoes its input, like cat,
// would otherwise send init back to itself forever).
func (c *cluster) spoofed(n *node, src string, line []byte) {
	msg := fmt.Sprintf("node %s sent a message with src %q; a node may only send as itself (src %q), never as a client, a service or another node; the line was dropped", n.id, src, n.id)
	n.mu.Lock()
	inited := n.inited
	n.mu.Unlock()
	if !inited && c.fail != nil {
		msg += ". It did so before answering init, so the grader ended the run: does --bin echo its input back (like cat) instead of answering it?"
		c.rec.spoof(n.id, string(line), msg)
		cr := n.crashReport(strings.TrimPrefix(msg, "node "+n.id+" "))
		cr.LastStdout = string(line)
		c.fail(cr)
		return
	}
	c.rec.spoof(n.id, string(line), msg)
}

// readStderr keeps a node's stderr: the log (up to maxLogBytes), the last
// lines for crash reports, and the --log-stderr echo. It reads to the end
// whatever the node writes, so that a node is never blocked on stderr.
func (c *cluster) readStderr(n *node, r io.Reader) {
	defer n.lineWait.Done()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		raw, cut, err := readStderrLine(br)
		if len(raw) > 0 || cut > 0 || err == nil {
			line := strings.TrimRight(string(raw), "\r\n")
			if cut > 0 {
				line += fmt.Sprintf(" ... (%d more bytes of this line dropped)", cut)
			}
			n.mu.Lock()
			n.stderrBytes += int64(len(raw)) + cut
			if n.log.Len()+len(line)+1 <= maxLogBytes {
				n.log.WriteString(line)
				n.log.WriteByte('\n')
			} else {
				n.logDropped += int64(len(raw)) + cut
			}
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
		if err != nil {
			return
		}
	}
}

// readStderrLine reads one stderr line, keeping at most maxStderrLine
// bytes of it and counting the rest.
func readStderrLine(br *bufio.Reader) (line []byte, cut int64, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if room := maxStderrLine - len(line); room > 0 {
			line = append(line, frag[:min(room, len(frag))]...)
			cut += int64(len(frag) - min(room, len(frag)))
		} else {
			cut += int64(len(frag))
		}
		if err != bufio.ErrBufferFull {
			return line, cut, err
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
