// Package node is the runtime every Go node of the curriculum runs on.
//
// It speaks the Maelstrom protocol over a program.IO (the process's own
// streams, or in-memory pipes when the grader runs nodes in-process) and
// keeps the names of Maelstrom's Go library (Handle, Reply, Send, RPC,
// SyncRPC, KV) so that code written for that library reads the same. On top
// of it the runtime answers unknown message types with error 10 instead of
// exiting, skips malformed input lines, holds peer messages that arrive
// before init, expires RPC callbacks, treats every "error" reply as an error
// (code 0 included), and offers typed handlers, retries with backoff,
// periodic tasks, KV and TSO clients, and slog logging to stderr.
//
// A track registers its handlers in a setup function; Program turns that
// function into a program.Program for in-process grading and Main into a
// process main.
package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/rawjson"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// MaxLineBytes is the longest input line accepted; longer lines are logged
// and skipped.
const MaxLineBytes = 16 << 20

// DefaultRPCTimeout is how long an RPC callback waits for its reply before
// it is dropped.
const DefaultRPCTimeout = 10 * time.Second

// DefaultMaxHandlers bounds concurrent request handlers per node.
const DefaultMaxHandlers = 1024

// Node is one Maelstrom node. Register handlers and tasks, then Run.
type Node struct {
	pio     program.IO
	clock   program.Clock
	dataDir string
	logger  atomic.Pointer[slog.Logger]
	stderr  *gatedWriter

	// ctx lives as long as the node: cancelled when Run's context ends or
	// after an orderly EOF shutdown. Tasks and SyncRPCs watch it.
	ctx    context.Context
	cancel context.CancelFunc
	// inputDone is closed at EOF: pending SyncRPCs fail instead of waiting.
	inputDone chan struct{}

	// srcID mirrors id for the send path, which should not contend on mu.
	srcID atomic.Value

	mu         sync.Mutex
	id         string
	nodeIDs    []string
	initState  int // initNone, initRunning, initDone
	held       []Message
	handlers   map[string]HandlerFunc
	onInit     []func() error
	nextMsgID  int
	callbacks  map[int]*pending
	rpcTimeout time.Duration
	tasks      []func()
	running    bool
	tasksOn    bool
	// Request handlers: at most maxHandlers goroutines, then a backlog.
	// Guarded by qmu, apart from mu, so workers do not contend with routing.
	qmu            sync.Mutex
	maxHandlers    int
	activeHandlers int
	backlog        []job
	// tasksClosed: no task may start any more (tasksWG is being waited on).
	tasksClosed bool

	wmu     sync.Mutex
	w       *bufio.Writer
	stopped bool

	handlersWG sync.WaitGroup // message handlers and callbacks
	tasksWG    sync.WaitGroup // Every and After
}

const (
	initNone = iota
	initRunning
	initDone
)

// pending is a registered reply callback.
type pending struct {
	cb     HandlerFunc
	inline bool        // cheap and non-blocking: run on the read loop
	timer  *time.Timer // nil: removed by its owner (SyncRPC)
}

// New makes a node reading pio.Stdin and writing pio.Stdout. Logs go to
// pio.Stderr through log/slog.
func New(pio program.IO) *Node {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		pio:         pio,
		clock:       newSkewClock(pio.NowClock()),
		dataDir:     pio.Getenv(program.EnvDataDir),
		ctx:         ctx,
		cancel:      cancel,
		inputDone:   make(chan struct{}),
		handlers:    map[string]HandlerFunc{},
		callbacks:   map[int]*pending{},
		rpcTimeout:  DefaultRPCTimeout,
		maxHandlers: DefaultMaxHandlers,
	}
	stdout := pio.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	n.w = bufio.NewWriterSize(stdout, 64<<10)
	stderr := pio.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	n.stderr = &gatedWriter{w: stderr}
	n.logger.Store(slog.New(slog.NewTextHandler(n.stderr, nil)))
	return n
}

// ID is this node's id, "" until init.
func (n *Node) ID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// NodeIDs lists every node of the cluster, this one included, in the same
// order on every node.
func (n *Node) NodeIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.nodeIDs)
}

// Peers lists the other nodes of the cluster.
func (n *Node) Peers() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.nodeIDs))
	for _, id := range n.nodeIDs {
		if id != n.id {
			out = append(out, id)
		}
	}
	return out
}

// Clock is the node's physical clock (skewed by the grader's clock nemesis
// when run in-process).
func (n *Node) Clock() program.Clock { return n.clock }

// DataDir is a directory that survives a kill and restart of this node, or
// "" when the runner provides none. It lives on Storage().
func (n *Node) DataDir() string { return n.dataDir }

// Getenv reads the node's environment as the grader set it (the keys of
// program.EnvNodeKey, for one).
func (n *Node) Getenv(key string) string { return n.pio.Getenv(key) }

// Storage is the file system the data directory lives on: the real disk
// in a node process; in the grader's in-process mode, a simulated disk
// where a kill loses every write the node did not sync. Code that
// persists goes through it, never through package os.
func (n *Node) Storage() storage.FS { return n.pio.Storage() }

// Logger logs to stderr, tagged with the node id once known.
func (n *Node) Logger() *slog.Logger { return n.logger.Load() }

// Context lives as long as the node. Handlers that block (SyncRPC, Retry)
// should use it, or a context derived from it, so they end with the node.
func (n *Node) Context() context.Context { return n.ctx }

// Args are the node's command-line arguments.
func (n *Node) Args() []string { return n.pio.Args }

// SetRPCTimeout sets how long RPC callbacks wait for a reply.
func (n *Node) SetRPCTimeout(d time.Duration) {
	n.mu.Lock()
	n.rpcTimeout = d
	n.mu.Unlock()
}

// Init sets the node's identity, as the init message does. Tests call it
// to skip the handshake. Messages held while waiting for init are
// dispatched and periodic tasks start (once Run is running).
func (n *Node) Init(id string, nodeIDs []string) {
	n.mu.Lock()
	n.setIdentity(id, nodeIDs)
	n.mu.Unlock()
	n.finishInit()
}

// setIdentity requires n.mu.
func (n *Node) setIdentity(id string, nodeIDs []string) {
	n.id = id
	n.srcID.Store(id)
	n.nodeIDs = slices.Clone(nodeIDs)
	n.logger.Store(slog.New(slog.NewTextHandler(n.stderr, nil)).With("node", id))
}

// OnInit registers a hook run when init arrives, after the id is set and
// before init_ok is sent. A hook error is sent back instead of init_ok
// (which makes the grader abort the run).
func (n *Node) OnInit(fn func() error) {
	n.mu.Lock()
	n.onInit = append(n.onInit, fn)
	n.mu.Unlock()
}

// Handle registers the handler for one message type. Registering a type
// twice panics: it is a programming error. A handler for "init" is allowed
// and runs like an OnInit hook.
func (n *Node) Handle(typ string, fn HandlerFunc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.handlers[typ]; ok {
		panic(fmt.Sprintf("node: duplicate handler for message type %q", typ))
	}
	n.handlers[typ] = fn
}

// Run reads messages until EOF or until ctx is cancelled.
//
// Requests are handled on goroutines (at most SetMaxConcurrentHandlers at
// once, the rest queued in arrival order); replies go straight to their
// callbacks. At EOF Run fails pending
// SyncRPCs with ErrInputClosed, waits for in-flight handlers, stops the
// periodic tasks and returns nil. When ctx is cancelled (the in-process
// kill) Run returns nil at once and the node writes nothing more; the
// goroutine blocked reading stdin ends when the runner closes stdin.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("node: Run called twice")
	}
	n.running = true
	n.mu.Unlock()
	n.maybeStartTasks()

	// Silence the node the moment ctx ends, whichever goroutine is busy.
	defer context.AfterFunc(ctx, n.stop)()

	readDone := make(chan error, 1)
	go func() { readDone <- n.readLoop() }()

	select {
	case <-ctx.Done():
		n.stop()
		return nil
	case err := <-readDone:
		if ctx.Err() != nil {
			// Killed and stdin closed together: a kill, not an orderly EOF.
			n.stop()
			return nil
		}
		close(n.inputDone)
		n.handlersWG.Wait()
		n.cancel()
		n.mu.Lock()
		n.tasksClosed = true
		n.mu.Unlock()
		n.tasksWG.Wait()
		n.dropCallbacks()
		if ctx.Err() != nil {
			n.stop()
			return nil
		}
		n.wmu.Lock()
		ferr := n.w.Flush()
		n.wmu.Unlock()
		return errors.Join(err, ferr)
	}
}

// stop silences the node: no write reaches stdout or stderr afterwards.
func (n *Node) stop() {
	n.wmu.Lock()
	n.stopped = true
	n.wmu.Unlock()
	n.stderr.close()
	n.cancel()
	n.dropCallbacks()
}

func (n *Node) dropCallbacks() {
	n.mu.Lock()
	for id, p := range n.callbacks {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(n.callbacks, id)
	}
	n.mu.Unlock()
}

func (n *Node) readLoop() error {
	r := bufio.NewReaderSize(n.pio.Stdin, 64<<10)
	var buf []byte
	for {
		line, tooLong, err := readLine(r, buf[:0])
		buf = line
		if tooLong {
			n.Logger().Warn("skipping input line longer than the limit", "limit_bytes", MaxLineBytes)
		} else if len(bytes.TrimSpace(line)) > 0 {
			// A paused node (program.IO.Gate) takes no input until resumed.
			if n.pio.Gate.Wait(n.ctx) != nil || n.ctx.Err() != nil {
				return nil
			}
			n.dispatch(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
}

// readLine appends the next line (without its newline) to buf. A line
// longer than MaxLineBytes is consumed and reported as tooLong.
func readLine(r *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+1 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		return buf, tooLong, err
	}
}

// dispatch routes one input line. It runs on the read loop, so it only
// decodes and hands off.
func (n *Node) dispatch(line []byte) {
	msg, err := decodeMessage(line)
	if err != nil {
		n.Logger().Warn("skipping input line that is not a JSON message", "err", err, "line", truncate(line))
		return
	}
	switch {
	case msg.Src == "":
		n.Logger().Warn("skipping message without src", "line", truncate(line))
		return
	case len(msg.Body) == 0 || msg.Body[0] != '{':
		n.Logger().Warn("skipping message whose body is not a JSON object", "line", truncate(line))
		return
	}
	h, err := decodeHeader(msg.Body, true) // the line decoded: body is valid JSON
	if err != nil {
		n.Logger().Warn("skipping message with malformed reserved body fields (type, msg_id, in_reply_to, code)", "err", err, "line", truncate(line))
		return
	}

	if n.control(msg, h.Type) {
		return // the grader's control message (clock.go), never a handler's
	}
	if h.InReplyTo != 0 {
		n.mu.Lock()
		p := n.callbacks[h.InReplyTo]
		delete(n.callbacks, h.InReplyTo)
		n.mu.Unlock()
		if p == nil {
			n.Logger().Info("dropping reply with no waiting callback (late, duplicate or unknown)", "src", msg.Src, "in_reply_to", h.InReplyTo, "type", h.Type)
			return
		}
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.inline {
			_ = p.cb(msg)
			return
		}
		n.goHandle(msg, func(m Message) error {
			if err := p.cb(m); err != nil {
				n.Logger().Warn("rpc callback failed", "src", m.Src, "in_reply_to", h.InReplyTo, "err", err)
			}
			return nil
		})
		return
	}

	if h.Type == "init" {
		n.mu.Lock()
		state := n.initState
		if state == initNone {
			n.initState = initRunning
		}
		n.mu.Unlock()
		if state != initNone {
			n.Logger().Warn("ignoring repeated init", "src", msg.Src)
			n.goHandle(msg, func(Message) error {
				return NewRPCError(Abort, "node already initialized or initializing")
			})
			return
		}
		n.goHandle(msg, n.handleInit)
		return
	}

	n.mu.Lock()
	if n.initState != initDone {
		// A fast peer may message us before our init arrives; answering now
		// would put an empty src on the wire.
		n.held = append(n.held, msg)
		n.mu.Unlock()
		return
	}
	fn := n.handlers[h.Type]
	n.mu.Unlock()
	n.route(msg, h, fn)
}

func (n *Node) route(msg Message, h header, fn HandlerFunc) {
	if fn != nil {
		n.queueHandle(msg, fn)
		return
	}
	switch {
	case h.Type == "error":
		// Never answer an error with an error: two nodes would ping-pong.
		n.Logger().Warn("dropping unsolicited error message", "src", msg.Src, "code", h.Code, "text", h.Text)
	case h.MsgID == 0:
		n.Logger().Warn("dropping message of unknown type (no msg_id, so no error reply)", "src", msg.Src, "type", h.Type)
	default:
		n.Logger().Warn("unknown message type; replying not-supported", "src", msg.Src, "type", h.Type)
		n.queueHandle(msg, func(Message) error {
			return NewRPCError(NotSupported, fmt.Sprintf("unsupported message type %q", h.Type))
		})
	}
}

// job is a request waiting for a handler goroutine.
type job struct {
	msg Message
	fn  HandlerFunc
}

// queueHandle runs a request handler on a goroutine, at most
// maxHandlers at a time; beyond that requests wait in order in a backlog.
// The read loop never blocks here, so replies keep flowing to waiting
// SyncRPCs even when every handler slot is busy waiting for one.
func (n *Node) queueHandle(msg Message, fn HandlerFunc) {
	n.handlersWG.Add(1)
	n.qmu.Lock()
	if n.activeHandlers >= n.maxHandlers {
		n.backlog = append(n.backlog, job{msg, fn})
		n.qmu.Unlock()
		return
	}
	n.activeHandlers++
	n.qmu.Unlock()
	go n.worker(job{msg, fn})
}

// worker runs j, then whatever the backlog holds, then gives back its slot.
func (n *Node) worker(j job) {
	for {
		n.answerError(j.msg, j.fn(j.msg))
		n.handlersWG.Done()
		n.qmu.Lock()
		if len(n.backlog) == 0 {
			n.activeHandlers--
			n.backlog = nil // release the backing array after a burst
			n.qmu.Unlock()
			return
		}
		j = n.backlog[0]
		n.backlog[0] = job{}
		n.backlog = n.backlog[1:]
		n.qmu.Unlock()
	}
}

// SetMaxConcurrentHandlers bounds how many request handlers run at once
// (default DefaultMaxHandlers). Reply callbacks are not counted: they must
// never wait behind the handlers that wait for them.
func (n *Node) SetMaxConcurrentHandlers(max int) {
	if max < 1 {
		panic("node: SetMaxConcurrentHandlers needs at least 1")
	}
	n.qmu.Lock()
	n.maxHandlers = max
	n.qmu.Unlock()
}

// goHandle runs fn on its own goroutine and answers its error. It is for
// init and reply callbacks, which must not queue behind request handlers.
func (n *Node) goHandle(msg Message, fn HandlerFunc) {
	n.handlersWG.Add(1)
	go func() {
		defer n.handlersWG.Done()
		n.answerError(msg, fn(msg))
	}()
}

func (n *Node) answerError(msg Message, err error) {
	if err == nil {
		return
	}
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) {
		n.Logger().Error("handler failed; replying crash", "src", msg.Src, "type", msg.Type(), "err", err)
		rpcErr = NewRPCError(Crash, err.Error())
	}
	if rerr := n.Reply(msg, rpcErr); rerr != nil && !errors.Is(rerr, ErrStopped) {
		n.Logger().Warn("could not send error reply", "dest", msg.Src, "err", rerr)
	}
}

func (n *Node) handleInit(msg Message) error {
	var body InitMessageBody
	if err := json.Unmarshal(msg.Body, &body); err != nil {
		n.resetInit()
		return NewRPCError(MalformedRequest, fmt.Sprintf("init body: %v", err))
	}
	if body.NodeID == "" {
		n.resetInit()
		return NewRPCError(MalformedRequest, "init without node_id")
	}
	n.mu.Lock()
	n.setIdentity(body.NodeID, body.NodeIDs)
	hooks := slices.Clone(n.onInit)
	if h := n.handlers["init"]; h != nil {
		hooks = append(hooks, func() error { return h(msg) })
	}
	n.mu.Unlock()
	for _, hook := range hooks {
		if err := hook(); err != nil {
			n.resetInit()
			return err
		}
	}
	if err := n.Reply(msg, MessageBody{Type: "init_ok"}); err != nil {
		return err
	}
	n.Logger().Info("initialized", "node_ids", body.NodeIDs)
	n.finishInit()
	return nil
}

func (n *Node) resetInit() {
	n.mu.Lock()
	n.initState = initNone
	n.mu.Unlock()
}

// finishInit marks the node initialized, dispatches held messages and
// starts the periodic tasks.
func (n *Node) finishInit() {
	n.mu.Lock()
	n.initState = initDone
	held := n.held
	n.held = nil
	n.mu.Unlock()
	for _, msg := range held {
		h, _ := decodeHeader(msg.Body, true) // already validated by dispatch
		n.mu.Lock()
		fn := n.handlers[h.Type]
		n.mu.Unlock()
		n.route(msg, h, fn)
	}
	n.maybeStartTasks()
}

// Reply answers req with body, setting in_reply_to to req's msg_id. An
// *RPCError body becomes an error reply.
func (n *Node) Reply(req Message, body any) error {
	h, err := decodeHeader(req.Body, false)
	if err != nil {
		return fmt.Errorf("reply to %s: request body: %w", req.Src, err)
	}
	raw, err := marshalBody(body)
	if err != nil {
		return fmt.Errorf("reply to %s: %w", req.Src, err)
	}
	raw, err = setField(raw, "in_reply_to", h.MsgID)
	if err != nil {
		return fmt.Errorf("reply to %s: %w", req.Src, err)
	}
	return n.sendRaw(req.Src, raw)
}

// Send sends body to dest as one JSON line.
func (n *Node) Send(dest string, body any) error {
	raw, err := marshalBody(body)
	if err != nil {
		return fmt.Errorf("send to %s: %w", dest, err)
	}
	return n.sendRaw(dest, raw)
}

// RPC sends body to dest with a fresh msg_id and calls cb with the reply
// (error replies included; see Message.RPCError, or compare Type() with
// "error"). If no reply arrives within the RPC timeout the callback is
// dropped, so callbacks never accumulate.
func (n *Node) RPC(dest string, body any, cb HandlerFunc) error {
	n.mu.Lock()
	timeout := n.rpcTimeout
	n.mu.Unlock()
	p := &pending{cb: cb}
	id := n.register(p)
	p.timer = time.AfterFunc(timeout, func() {
		n.mu.Lock()
		_, ok := n.callbacks[id]
		delete(n.callbacks, id)
		n.mu.Unlock()
		if ok {
			n.Logger().Info("rpc got no reply in time; callback dropped", "dest", dest, "msg_id", id, "timeout", timeout)
		}
	})
	if err := n.sendRPC(dest, body, id); err != nil {
		p.timer.Stop()
		n.unregister(id)
		return err
	}
	return nil
}

// SyncRPC sends body to dest and waits for the reply, ctx's end or the
// node's end, whichever comes first; its callback is removed in every case.
// A reply of type "error" is returned as *RPCError, whatever its code.
func (n *Node) SyncRPC(ctx context.Context, dest string, body any) (Message, error) {
	select {
	case <-n.inputDone:
		return Message{}, fmt.Errorf("rpc to %s: %w", dest, ErrInputClosed)
	default:
	}
	ch := make(chan Message, 1)
	id := n.register(&pending{cb: func(m Message) error { ch <- m; return nil }, inline: true})
	if err := n.sendRPC(dest, body, id); err != nil {
		n.unregister(id)
		return Message{}, err
	}
	select {
	case m := <-ch:
		if err := replyError(m); err != nil {
			return m, err
		}
		return m, nil
	case <-ctx.Done():
		n.unregister(id)
		return Message{}, fmt.Errorf("rpc to %s (msg_id %d): %w", dest, id, ctx.Err())
	case <-n.ctx.Done():
		n.unregister(id)
		return Message{}, fmt.Errorf("rpc to %s: %w", dest, ErrStopped)
	case <-n.inputDone:
		n.unregister(id)
		return Message{}, fmt.Errorf("rpc to %s: %w", dest, ErrInputClosed)
	}
}

func (n *Node) register(p *pending) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextMsgID++
	n.callbacks[n.nextMsgID] = p
	return n.nextMsgID
}

func (n *Node) unregister(id int) {
	n.mu.Lock()
	delete(n.callbacks, id)
	n.mu.Unlock()
}

// pendingCallbacks counts registered reply callbacks (for tests).
func (n *Node) pendingCallbacks() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.callbacks)
}

func (n *Node) sendRPC(dest string, body any, id int) error {
	raw, err := marshalBody(body)
	if err != nil {
		return fmt.Errorf("rpc to %s: %w", dest, err)
	}
	if raw, err = setField(raw, "msg_id", id); err != nil {
		return fmt.Errorf("rpc to %s: %w", dest, err)
	}
	return n.sendRaw(dest, raw)
}

// sendRaw writes one envelope line and flushes it.
func (n *Node) sendRaw(dest string, body []byte) error {
	src, _ := n.srcID.Load().(string)
	if src == "" {
		return fmt.Errorf("send to %s: %w", dest, ErrNotInitialized)
	}
	if dest == "" {
		return errors.New("send: empty destination")
	}
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if n.stopped {
		return ErrStopped
	}
	// The line is built in the writer's free space (empty after each
	// flush), so a send allocates nothing unless the line is huge.
	line := n.w.AvailableBuffer()
	line = append(line, `{"src":`...)
	line = rawjson.AppendString(line, src)
	line = append(line, `,"dest":`...)
	line = rawjson.AppendString(line, dest)
	line = append(line, `,"body":`...)
	line = append(line, body...)
	line = append(line, "}\n"...)
	if _, err := n.w.Write(line); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	if err := n.w.Flush(); err != nil {
		return fmt.Errorf("flush stdout: %w", err)
	}
	return nil
}

// marshalBody encodes a message body, which must be a JSON object.
func marshalBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case *RPCError:
		body = toErrorBody(b)
	case RPCError:
		body = toErrorBody(&b)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("body must encode to a JSON object, got %s", truncate(raw))
	}
	return raw, nil
}

// setField sets a top-level integer field of a JSON object. The common
// case (field absent) splices it in without decoding the object.
func setField(obj []byte, key string, v int) ([]byte, error) {
	quoted := `"` + key + `"`
	if !bytes.Contains(obj, []byte(quoted)) {
		out := make([]byte, 0, len(obj)+len(quoted)+24)
		out = append(out, '{')
		out = append(out, quoted...)
		out = append(out, ':')
		out = strconv.AppendInt(out, int64(v), 10)
		if rest := bytes.TrimSpace(obj[1:]); len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, obj[1:]...), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, fmt.Errorf("set %s: %w", key, err)
	}
	m[key] = json.RawMessage(strconv.Itoa(v))
	return json.Marshal(m)
}

func truncate(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// gatedWriter stops passing writes through once closed, so a stopped node
// is silent on stderr too.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gatedWriter) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(b), nil
	}
	return g.w.Write(b)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
