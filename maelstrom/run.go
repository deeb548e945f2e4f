package maelstrom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
	"github.com/distsys-curriculum/distsys/maelstrom/services"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// initTimeout is how long a node has to answer init, as in Maelstrom.
const initTimeout = 10 * time.Second

// Crash says why a run ended without analysis: a node exited, or never
// answered init.
type Crash struct {
	Node       string   `json:"node"`
	What       string   `json:"what"`
	ExitStatus string   `json:"exit_status,omitempty"`
	LastStdout string   `json:"last_stdout,omitempty"`
	Stderr     []string `json:"stderr,omitempty"` // last lines
	// Time is when the runner learned of it, on the run's clock.
	Time time.Duration `json:"time"`
}

func (c *Crash) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s: %s", c.Node, c.What)
	if c.ExitStatus != "" {
		fmt.Fprintf(&b, "\n  exit status: %s", c.ExitStatus)
	}
	if c.LastStdout != "" {
		fmt.Fprintf(&b, "\n  last line on stdout: %s", c.LastStdout)
	}
	if len(c.Stderr) > 0 {
		fmt.Fprintf(&b, "\n  last %d lines of stderr:\n    %s", len(c.Stderr), strings.Join(c.Stderr, "\n    "))
	} else {
		b.WriteString("\n  (nothing on stderr)")
	}
	return b.String()
}

// run is the state of one test run.
type run struct {
	opts    Options
	spec    workload.Spec
	inst    workload.Instance
	threads int
	timeout time.Duration
	ids     []string
	net     *netsim.Net
	rec     *recorder
	cl      *cluster
	ctx     context.Context
	// fail ends the run with a crash report (a node that did not come back
	// after a restart).
	fail func(*Crash)

	mu         sync.Mutex
	nextClient int
}

func (r *run) newClient(node string, timeout time.Duration) *caller {
	r.mu.Lock()
	id := fmt.Sprintf("c%d", r.nextClient)
	r.nextClient++
	r.mu.Unlock()
	return &caller{c: r.net.NewClient(id), node: node, timeout: timeout}
}

// caller binds a network client to a node (workload.Caller).
type caller struct {
	c       *netsim.Client
	node    string
	timeout time.Duration
}

func (k *caller) ID() string   { return k.c.ID() }
func (k *caller) Node() string { return k.node }
func (k *caller) RPC(ctx context.Context, body map[string]any) (json.RawMessage, error) {
	return k.c.RPC(ctx, k.node, body, k.timeout)
}

// Run runs one test and analyses it. The error is non-nil only for bad
// options (a *UsageError) or when the run could not be set up at all;
// node crashes and init failures come back as a Report with Crash set.
func Run(ctx context.Context, opts Options, nodes Nodes) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if nodes == nil {
		return nil, &UsageError{Msg: "no nodes to test: give --bin PATH"}
	}
	spec, _ := workload.Lookup(opts.Workload)
	if err := checkMode(spec, nodes); err != nil {
		return nil, err
	}
	threads, _ := opts.Threads()
	r := &run{opts: opts, spec: spec, threads: threads, timeout: spec.RPCTimeout(opts.Latency)}
	r.ids = opts.IDs()
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(opts.Seed, stream)) }
	var err error
	// The journal feeds the store (messages.jsonl, report.html) and the
	// checks of workloads that read it (Spec.Journal).
	dist := netsim.Dist(opts.LatencyDist)
	if opts.Latency == 0 {
		dist = netsim.Constant // as Maelstrom, which ignores the distribution then
	}
	r.net, err = netsim.New(netsim.Config{Latency: opts.Latency, Dist: dist, Seed: opts.Seed,
		NoJournal: opts.StoreDir == "" && !spec.Journal, Log: netLogger(opts)})
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	defer r.net.Close()
	r.rec = newRecorder(r.net.Since)

	outDir := ""
	if opts.StoreDir != "" {
		var err error
		if outDir, err = makeRunDir(opts.StoreDir, opts.Workload, time.Now()); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	flags, err := spec.FlagValues(opts.WorkloadFlags)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	r.inst, err = spec.New(workload.Params{
		NodeIDs: r.ids, Concurrency: threads, Rand: rng(1), Topology: opts.Topology,
		KeyCount: opts.KeyCount, MaxTxnLength: opts.MaxTxnLength, MaxWritesPerKey: opts.MaxWritesPerKey,
		ConsistencyModels: opts.ConsistencyModels, Latency: opts.Latency, OutDir: outDir, IDOrder: opts.IDOrder,
		Timestamps: opts.Timestamps, Network: r.net, Flags: flags,
	})
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	for i, name := range services.Names {
		svc, err := services.New(name, rng(100+uint64(i)))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		r.net.Register(name, func(m netsim.Message) {
			if reply, ok := svc.Handle(m.Src, m.Body); ok {
				_, _ = r.net.Send(name, m.Src, reply) // the asker may be gone
			}
		})
	}

	if sp, ok := r.inst.(workload.ServiceProvider); ok {
		for _, name := range sp.Services() {
			send := func(dest string, body json.RawMessage) { _, _ = r.net.Send(name, dest, body) }
			r.net.Register(name, func(m netsim.Message) { sp.HandleService(name, m.Src, m.Body, send) })
		}
	}

	// Faults that talk to nodes (the clock fault) send from this endpoint;
	// nodes' answers to it, if any, are dropped.
	r.net.Register(nemesis.ControlSource, func(netsim.Message) {})

	// Each node's MAELSTROM_DATA_DIR survives its restarts; with a store
	// it is kept in the run's folder (data/<node>) for inspection.
	dataRoot, cleanData, err := dataDirs(outDir)
	if err != nil {
		return nil, fmt.Errorf("create node data directories: %w", err)
	}
	defer cleanData()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx = runCtx
	r.cl = &cluster{l: nodes.launcher(), net: r.net, ids: r.ids, nodes: map[string]*node{},
		rec: r.rec, crashed: make(chan *node, len(r.ids))}
	if opts.LogStderr {
		r.cl.stderrW = opts.Stderr
	}
	if o, ok := r.inst.(workload.MessageObserver); ok {
		r.cl.observe = func(src, dest string, body json.RawMessage) { o.ObserveMessage(r.net.Since(), src, dest, body) }
	}
	r.cl.keys = nodeKeys(opts.Seed, r.ids)
	r.connectWorkload() // stdin injection, per-node environment (faults.go)
	rep := &Report{Options: opts, Seed: opts.Seed, StorePath: outDir}

	// A crash ends the run: the watcher cancels every client.
	var crashMu sync.Mutex
	var crash *Crash
	setCrash := func(c *Crash) {
		crashMu.Lock()
		if crash == nil {
			c.Time = r.net.Since()
			crash = c
		}
		crashMu.Unlock()
		cancel()
	}
	r.fail = setCrash
	r.cl.fail = setCrash
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case n := <-r.cl.crashed:
			setCrash(n.crashReport("crashed during the test (a node must keep running until the grader stops it)"))
		case <-runCtx.Done():
		}
	}()

	for _, id := range r.ids {
		n := &node{id: id, dataDir: dataRoot + string(os.PathSeparator) + id}
		err := os.MkdirAll(n.dataDir, 0o755)
		if err == nil && r.cl.l.simulatedDisk() {
			n.disk = memfs.New()
			err = n.disk.MkdirAll(n.dataDir, 0o755)
		}
		if err != nil {
			return nil, err
		}
		r.cl.nodes[id] = n
	}
	if err := r.cl.startAll(); err != nil {
		return nil, err
	}
	stopProgress := r.progress()
	stopLag := measureLag(nodes)

	if c := r.initAll(runCtx); c != nil {
		setCrash(c)
	}
	crashMu.Lock()
	ok := crash == nil
	crashMu.Unlock()
	if ok {
		if c := r.main(runCtx); c != nil {
			setCrash(c)
		}
	}
	stopProgress()
	rep.Lag = stopLag()

	// Teardown: nodes are killed, not asked to stop, as in Maelstrom.
	crashMu.Lock()
	crashed := crash
	crashMu.Unlock()
	if crashed == nil {
		select {
		case n := <-r.cl.crashed:
			crashed = n.crashReport("crashed during the test (a node must keep running until the grader stops it)")
			crashed.Time = r.net.Since()
		default:
		}
	}
	if err := r.cl.killAll(); err != nil {
		r.rec.warn(err.Error())
	}
	cancel()
	<-watchDone
	if crashed == nil {
		crashed = crash
	}
	rep.Crash = crashed
	rep.SimDuration = r.net.Since()
	r.analyse(rep)
	rep.judgeLag()
	if outDir != "" {
		if err := rep.store(r); err != nil {
			return rep, fmt.Errorf("write results to %s: %w", outDir, err)
		}
	}
	return rep, nil
}

// netLogger prints messages as they are sent or delivered, for
// --log-net-send and --log-net-recv.
func netLogger(o Options) func(netsim.Event) {
	if (!o.LogNetSend && !o.LogNetRecv) || o.Stderr == nil {
		return nil
	}
	w := o.Stderr
	return func(e netsim.Event) {
		if (e.Kind == "send" && o.LogNetSend) || (e.Kind == "recv" && o.LogNetRecv) {
			fmt.Fprintf(w, "%9.3fs %-4s %s -> %s %s\n", e.Time.Seconds(), e.Kind, e.Src, e.Dest, e.Body)
		}
	}
}

// initAll sends init to every node from fresh clients c0..c(N-1).
func (r *run) initAll(ctx context.Context) *Crash {
	callers := make([]*caller, len(r.ids))
	for i, id := range r.ids {
		callers[i] = r.newClient(id, initTimeout)
	}
	// Every node's outcome is kept, and the first node's in id order
	// reported, so that a seed names the same node every time.
	crashes := make([]*Crash, len(r.ids))
	var g errgroup.Group
	for i, id := range r.ids {
		g.Go(func() error {
			defer callers[i].c.Close()
			crashes[i] = r.initNode(ctx, callers[i], id)
			return nil
		})
	}
	_ = g.Wait()
	for _, c := range crashes {
		if c != nil {
			return c
		}
	}
	return nil
}

func (r *run) initNode(ctx context.Context, c *caller, id string) *Crash {
	raw, err := c.RPC(ctx, map[string]any{"type": "init", "node_id": id, "node_ids": r.ids})
	n := r.cl.nodes[id]
	switch {
	case ctx.Err() != nil:
		return nil // the crash watcher has the story
	case err == netsim.ErrTimeout:
		return n.crashReport(fmt.Sprintf("did not answer init within %v (reply {\"type\":\"init_ok\",\"in_reply_to\":1} on stdout, and flush it)", initTimeout))
	case err != nil:
		return n.crashReport("could not be sent init: " + err.Error())
	}
	if _, err := workload.Decode(raw, "init_ok", workload.Field{Name: "node_id", Optional: true}); err != nil {
		return n.crashReport(fmt.Sprintf("answered init with %s: %v", string(raw), err))
	}
	n.mu.Lock()
	n.inited = true
	n.mu.Unlock()
	return nil
}

// worker is one client thread: a Jepsen process bound to one node.
type worker struct {
	thread, process int
	cl              *caller
}

func (r *run) invoke(ctx context.Context, w *worker, inv workload.Invocation, final bool) {
	base := history.Op{Process: w.process, F: inv.F, Value: inv.Value, Node: w.cl.node, Client: w.cl.ID(), Final: final}
	op := base
	op.Type = history.Invoke
	r.rec.add(op)
	comp := r.inst.Invoke(ctx, w.cl, w.thread, inv)
	done := base
	done.Type, done.Error = comp.Type, comp.Error
	if comp.Value != nil || comp.Type == history.OK {
		done.Value = comp.Value
	}
	r.rec.add(done)
	if comp.Type == history.Info {
		w.process += r.threads
		if !r.spec.Reusable {
			w.cl.c.Close()
			w.cl = r.newClient(w.cl.node, r.timeout)
			if cr, ok := r.inst.(workload.ClientResetter); ok {
				cr.ResetClient(w.thread)
			}
		}
	}
}

// main runs setup, the main phase with the nemesis, and the final phase.
// It returns a Crash when setup fails.
func (r *run) main(ctx context.Context) *Crash {
	setupClients := make([]*caller, len(r.ids))
	for i, id := range r.ids {
		setupClients[i] = r.newClient(id, 5*time.Second)
	}
	defer func() {
		for _, c := range setupClients {
			c.c.Close()
		}
	}()
	var setup errgroup.Group
	for i, id := range r.ids {
		setup.Go(func() error { return r.inst.Setup(ctx, id, setupClients[i]) })
	}
	if setupErr := setup.Wait(); setupErr != nil && ctx.Err() == nil {
		// As in Maelstrom, a node that fails setup (e.g. never answers
		// topology) aborts the run.
		id := setupNode(setupErr, r.ids)
		if n := r.cl.nodes[id]; n != nil {
			return n.crashReport("failed setup: " + setupErr.Error())
		}
		return &Crash{Node: id, What: "failed setup: " + setupErr.Error()}
	}

	faults, _ := nemesis.Parse(strings.Join(r.opts.Nemesis, ","))
	faults = nemesis.ConfigureClock(faults, r.opts.ClockSkew, r.opts.ClockDrift)
	faults = nemesis.ConfigureByzantine(faults, r.opts.ByzantineCount, r.opts.ByzantineLies)
	faults = append(faults, r.opts.Faults...)
	faults = r.targetFaults(faults)
	sched := nemesis.NewSchedule(faults, r.opts.NemesisInterval, r.opts.Seed+7)
	sched.Tail = r.spec.QuietTail
	env := &faultEnv{r: r}
	if rp, ok := r.inst.(workload.Reaper); ok {
		rp.SetKill(env.Kill)
	}
	record := func(f string, value any) {
		r.rec.add(history.Op{Type: history.Info, Process: NemesisProcess, F: f, Value: value})
	}
	mainCtx, stopMain := context.WithTimeout(ctx, r.opts.TimeLimit)
	defer stopMain()
	sched.Begin(mainCtx, env, record) // before any operation, so a seed replays the order
	nemDone := make(chan struct{})
	go func() { defer close(nemDone); sched.Run(mainCtx, env, record) }()

	workers := make([]*worker, r.threads)
	for t := range workers {
		workers[t] = &worker{thread: t, process: t, cl: r.newClient(r.ids[t%len(r.ids)], r.timeout)}
	}
	r.dispatch(ctx, mainCtx, workers)
	<-nemDone

	if r.spec.Final && ctx.Err() == nil {
		sched.StopAll(ctx, env, record)
		r.net.Heal()
		if !sleepCtx(ctx, r.opts.RecoveryTime) {
			return nil
		}
		var fw sync.WaitGroup
		for _, w := range workers {
			fw.Add(1)
			go func() {
				defer fw.Done()
				// A workload may choose each final op after seeing the last
				// one (kafka polls until caught up); others give a list.
				if g, ok := r.inst.(interface {
					FinalNext(thread int) (workload.Invocation, bool)
				}); ok {
					for inv, more := g.FinalNext(w.thread); more && ctx.Err() == nil; inv, more = g.FinalNext(w.thread) {
						r.invoke(ctx, w, inv, true)
					}
					return
				}
				for _, inv := range r.inst.Final(w.thread) {
					if ctx.Err() != nil {
						return
					}
					r.invoke(ctx, w, inv, true)
				}
			}()
		}
		fw.Wait()
	}
	sched.StopAll(ctx, env, record)
	r.net.Heal()
	for _, w := range workers {
		w.cl.c.Close()
	}
	return nil
}

// NemesisProcess is the history process of fault steps.
const NemesisProcess = -1

func setupNode(err error, ids []string) string {
	for _, id := range ids {
		if strings.Contains(err.Error(), " "+id+":") {
			return id
		}
	}
	return ""
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dispatch hands operations to free workers on Maelstrom's stagger
// schedule (see stagger) until mainCtx ends; in-flight ops then finish.
func (r *run) dispatch(ctx, mainCtx context.Context, workers []*worker) {
	if r.opts.Rate <= 0 {
		<-mainCtx.Done()
		return
	}
	type freeW struct{ thread, process int }
	free := make(chan freeW, len(workers))
	jobs := make([]chan workload.Invocation, len(workers))
	var wg sync.WaitGroup
	for t, w := range workers {
		jobs[t] = make(chan workload.Invocation, 1)
		free <- freeW{t, w.process}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inv := range jobs[t] {
				r.invoke(ctx, w, inv, false)
				free <- freeW{t, w.process}
			}
		}()
	}
	defer func() {
		for _, j := range jobs {
			close(j)
		}
		wg.Wait()
	}()
	sched := newStagger(rand.New(rand.NewPCG(r.opts.Seed, 2)), r.opts.Rate, time.Now())
	timer := time.NewTimer(sched.wait(time.Now()))
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-mainCtx.Done():
			return
		}
		var fw freeW
		select {
		case fw = <-free:
		case <-mainCtx.Done():
			return
		}
		jobs[fw.thread] <- r.inst.Next(fw.thread, fw.process)
		now := time.Now()
		sched.advance(now)
		timer.Reset(sched.wait(now))
	}
}

// stagger is Maelstrom's schedule of operations: each op a uniform
// 0..2/rate seconds after the previous one's intended time. Scheduling
// from intended times, not from when a timer fired, keeps the rate: a
// timer fires a little late every time (more on a loaded machine), and
// re-arming from the firing would add every overshoot up (--rate 1000
// delivered about 640 ops/s that way). An op whose time has passed goes
// out at once; when no client was free for a while, the backlog is
// bounded (maxLag), so a stall is not followed by a burst.
type stagger struct {
	rng  *rand.Rand
	gap  float64 // the longest gap, 2/rate, in nanoseconds
	next time.Time
}

// maxLag is how far the schedule may fall behind the clock.
const maxLag = time.Second

func newStagger(rng *rand.Rand, rate float64, start time.Time) *stagger {
	return &stagger{rng: rng, gap: float64(2*time.Second) / rate, next: start}
}

// wait is how long to wait at now for the next op's time.
func (s *stagger) wait(now time.Time) time.Duration { return max(s.next.Sub(now), 0) }

// advance moves to the next op's time, after an op went out at now.
func (s *stagger) advance(now time.Time) {
	s.next = s.next.Add(time.Duration(s.rng.Float64() * s.gap))
	if behind := now.Add(-maxLag); s.next.Before(behind) {
		s.next = behind
	}
}

// faultEnv is what faults may do to this run.
//
// Several faults may kill (kill and kill-leader in one run, or corrupt):
// each Kill is a hold on the node, released by one Restart, and the node
// is down while any hold remains. A fault that restarts the node another
// still holds down does not revive it: the other fault chose a node to be
// down until its own stop, and reviving it early would both break that
// fault's promise and, worse, start a second incarnation over the first
// when the other fault restarts it in turn (a node that outlives the
// run). The node comes back with the last release, as one incarnation.
type faultEnv struct {
	r *run

	mu    sync.Mutex
	holds map[string]int // node -> kills not yet matched by a restart
}

func (e *faultEnv) Nodes() []string                     { return e.r.ids }
func (e *faultEnv) Partition(rules map[string][]string) { e.r.net.Partition(rules) }
func (e *faultEnv) Heal()                               { e.r.net.Heal() }
func (e *faultEnv) Kill(_ context.Context, id string) error {
	n := e.r.cl.nodes[id]
	if n == nil {
		return fmt.Errorf("no node %q", id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.holds == nil {
		e.holds = map[string]int{}
	}
	e.holds[id]++
	if h := e.holds[id]; h > 1 {
		e.r.cl.logMarker(n, fmt.Sprintf("killed again by the nemesis at %.3fs while down (now held down %d times)", e.r.net.Since().Seconds(), h))
		return nil
	}
	e.r.net.SetDown(id, true) // from now on messages to it are lost
	exited := e.r.cl.kill(n)
	e.r.cl.logMarker(n, fmt.Sprintf("killed by the nemesis at %.3fs", e.r.net.Since().Seconds()))
	if !exited {
		// The restart goes ahead: the nemesis schedule is the run's.
		e.r.rec.warn(fmt.Sprintf("node %s did not exit within %v of being killed by the nemesis", id, killWait))
	}
	return nil
}

// Control sends a control message to a node from the nemesis endpoint
// (nemesis.Controller), e.g. the clock fault's new clock settings.
func (e *faultEnv) Control(_ context.Context, id string, body map[string]any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode control message: %w", err)
	}
	_, err = e.r.net.Send(nemesis.ControlSource, id, raw)
	return err
}

// Restart releases one hold on a killed node; with the last, it starts
// the node again with the same data directory and sends it init from a
// fresh client.
func (e *faultEnv) Restart(ctx context.Context, id string) error {
	n := e.r.cl.nodes[id]
	if n == nil {
		return fmt.Errorf("no node %q", id)
	}
	// Held across the restart, so that a Kill from another goroutine waits
	// for a whole incarnation to start rather than kill it half-way.
	e.mu.Lock()
	defer e.mu.Unlock()
	switch h := e.holds[id]; {
	case h == 0:
		// Starting it would run a second incarnation beside the live one.
		return fmt.Errorf("node %s is not down", id)
	case h > 1:
		e.holds[id]--
		e.r.cl.logMarker(n, fmt.Sprintf("restart by the nemesis at %.3fs deferred: still held down %d more times", e.r.net.Since().Seconds(), h-1))
		return nil
	}
	delete(e.holds, id)
	e.r.cl.logMarker(n, fmt.Sprintf("restarted by the nemesis at %.3fs", e.r.net.Since().Seconds()))
	if err := e.r.cl.startNode(n); err != nil {
		return err
	}
	e.r.net.SetDown(id, false)
	c := e.r.newClient(id, initTimeout)
	defer c.c.Close()
	if cr := e.r.initNode(ctx, c, id); cr != nil {
		// A node that cannot come back (e.g. it chokes on its own data
		// directory) ends the run: nothing after that could be judged.
		cr.What = "did not come back after the nemesis restarted it: " + cr.What
		if e.r.fail != nil && ctx.Err() == nil {
			e.r.fail(cr)
		}
		return fmt.Errorf("%s", cr.What)
	}
	return nil
}

// progress prints a status line every few seconds (every second on a
// terminal) until stopped.
func (r *run) progress() (stop func()) {
	w := r.opts.Stderr
	if w == nil || r.opts.ProgressEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.printProgress(w, r.opts.ProgressTerminal)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if r.opts.ProgressTerminal {
			fmt.Fprintln(w)
		}
	}
}

func (r *run) printProgress(w io.Writer, terminal bool) {
	ok, fail, info := r.rec.counts()
	s := r.net.Stats()
	line := fmt.Sprintf("%6.1fs  ops ok %d  fail %d  info %d  msgs %d", r.net.Since().Seconds(), ok, fail, info, s.All.MsgCount)
	if terminal {
		fmt.Fprintf(w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(w, line)
	}
}
