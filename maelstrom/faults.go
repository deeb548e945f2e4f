package maelstrom

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
	"github.com/distsys-curriculum/distsys/maelstrom/workload"
)

// This file holds the runner's side of the process faults (kill, pause),
// the per-node data directories, the fault schedule of the summary and
// results.json, and the hooks through which workloads reach nodes past the
// client protocol (raw stdin lines, per-node environment).

// dataDirs returns the root of the nodes' data directories: data/ in the
// run's folder when results are stored (kept, to look at after a run), or
// a temporary directory removed by clean.
func dataDirs(outDir string) (root string, clean func(), err error) {
	if outDir != "" {
		// Absolute: node processes run in another working directory.
		if root, err = filepath.Abs(filepath.Join(outDir, "data")); err != nil {
			return "", nil, err
		}
		return root, func() {}, os.MkdirAll(root, 0o755)
	}
	root, err = os.MkdirTemp("", "maelstrom-data-")
	if err != nil {
		return "", nil, err
	}
	return root, func() { os.RemoveAll(root) }, nil
}

// logMarker appends a line to a node's stderr log (node-logs/<node>.log),
// which runs on across restarts, so that a reader sees where one
// incarnation ended and the next began.
func (c *cluster) logMarker(n *node, text string) {
	line := "--- " + text + " ---"
	n.mu.Lock()
	n.log.WriteString(line)
	n.log.WriteByte('\n')
	n.mu.Unlock()
	if c.stderrW != nil {
		fmt.Fprintf(c.stderrW, "%s | %s\n", n.id, line)
	}
}

// process looks up a node and reads its current process and whether the
// nemesis killed it.
func (e *faultEnv) process(id string) (n *node, p *proc, killed bool, err error) {
	n = e.r.cl.nodes[id]
	if n == nil {
		return nil, nil, false, fmt.Errorf("no node %q", id)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n, n.p, n.killed, nil
}

// Pause stops a node: SIGSTOP for a process, a closed program.Gate for an
// in-process node (its runtime stops handling input and firing timers).
// Either way the runner also holds the node's input and output until
// Resume, so messages to it queue up and are delivered afterwards.
func (e *faultEnv) Pause(_ context.Context, id string) error {
	n, p, killed, err := e.process(id)
	if err != nil {
		return err
	}
	if p == nil || killed {
		return fmt.Errorf("node %s is down", id)
	}
	n.gate.Pause()
	if err := p.pause(); err != nil {
		n.gate.Resume()
		return err
	}
	e.r.cl.logMarker(n, fmt.Sprintf("paused by the nemesis at %.3fs", e.r.net.Since().Seconds()))
	return nil
}

// Resume continues a paused node (SIGCONT); what queued up is delivered.
func (e *faultEnv) Resume(_ context.Context, id string) error {
	n, p, killed, err := e.process(id)
	if err != nil {
		return err
	}
	if p != nil && !killed {
		// A node killed while paused has nothing to continue: the kill
		// ended the pause (and its restart, if any, began unpaused).
		err = p.resume()
	}
	n.gate.Resume()
	e.r.cl.logMarker(n, fmt.Sprintf("resumed by the nemesis at %.3fs", e.r.net.Since().Seconds()))
	return err
}

// lockedWriter serialises writes to a node's stdin, so that a raw line
// injected by a workload never lands inside a message being written.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// writeRaw writes one line straight to a node's current stdin.
func (c *cluster) writeRaw(id string, line []byte) error {
	n := c.nodes[id]
	if n == nil {
		return fmt.Errorf("no node %q", id)
	}
	n.mu.Lock()
	w, killed := n.stdin, n.killed
	n.mu.Unlock()
	if w == nil || killed {
		return fmt.Errorf("node %s is down", id)
	}
	_ = n.gate.Wait(context.Background())
	if _, err := w.Write(append(append([]byte(nil), line...), '\n')); err != nil {
		return fmt.Errorf("write to the stdin of %s: %w", id, err)
	}
	return nil
}

// connectWorkload wires the optional workload hooks to the cluster.
func (r *run) connectWorkload() {
	if sw, ok := r.inst.(workload.StdinWriter); ok {
		sw.SetStdin(r.cl.writeRaw)
	}
	if ne, ok := r.inst.(workload.NodeEnver); ok {
		r.cl.env = ne.NodeEnv
	}
	if dr, ok := r.inst.(workload.DataReader); ok {
		dr.SetDataReader(r.cl.readData)
	}
}

// readData returns the files of a node's data directory, relative path →
// contents (workload.DataReader).
func (c *cluster) readData(id string) (map[string][]byte, error) {
	n, ok := c.nodes[id]
	if !ok {
		return nil, fmt.Errorf("no node %s", id)
	}
	out := map[string][]byte{}
	rel := func(p string) string {
		if r, err := filepath.Rel(n.dataDir, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	if n.disk != nil {
		for _, p := range n.disk.FilesUnder(n.dataDir) {
			b, err := storage.ReadFile(n.disk, p)
			if err != nil {
				return out, err
			}
			out[rel(p)] = b
		}
		return out, nil
	}
	err := filepath.WalkDir(n.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		out[rel(p)] = b
		return err
	})
	return out, err
}

// checkMode refuses nodes a workload cannot grade (net-rpc in-process).
func checkMode(spec workload.Spec, nodes Nodes) error {
	if _, inProc := nodes.(InProcess); inProc && spec.ProcessOnly != "" {
		return &UsageError{Msg: fmt.Sprintf("workload %s runs only with --bin (process mode): %s", spec.Name, spec.ProcessOnly)}
	}
	return nil
}

// FaultStep is one step of the fault schedule: when, what (kill,
// restart, pause, resume, start-partition, ...) and to which nodes.
type FaultStep struct {
	Time  time.Duration `json:"time"`
	F     string        `json:"f"`
	Value any           `json:"value"`
}

// faultSchedule extracts the nemesis steps from a history. With the same
// --seed a run draws the same steps (kinds, nodes, partitions) at the
// same offsets; in-process runs replay them exactly.
func faultSchedule(h history.History) []FaultStep {
	var out []FaultStep
	for _, op := range h {
		if op.Process == NemesisProcess {
			out = append(out, FaultStep{Time: op.Time, F: op.F, Value: op.Value})
		}
	}
	return out
}

// maxScheduleLines bounds the schedule printed in the summary; results.json
// has all of it.
const maxScheduleLines = 12

// writeSchedule renders the fault schedule for the summary.
func writeSchedule(b *strings.Builder, steps []FaultStep) {
	if len(steps) == 0 {
		return
	}
	counts := map[string]int{}
	var names []string
	for _, s := range steps {
		if counts[s.F] == 0 {
			names = append(names, s.F)
		}
		counts[s.F]++
	}
	b.WriteString("faults:")
	for _, f := range names {
		fmt.Fprintf(b, " %s ×%d", f, counts[f])
	}
	b.WriteString("\nfault schedule (time, step, nodes):\n")
	for i, s := range steps {
		if i == maxScheduleLines {
			fmt.Fprintf(b, "  ... %d more in results.json (faults)\n", len(steps)-i)
			break
		}
		fmt.Fprintf(b, "  %8.3fs  %-16s %s\n", s.Time.Seconds(), s.F, describeStep(s.Value))
	}
}

// describeStep renders a step's value compactly: a node list, a partition
// (receiver -> senders it ignores), or the value as JSON.
func describeStep(v any) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, " ")
	case map[string][]string:
		if len(x) == 0 {
			return "(no effect)"
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+" ignores "+strings.Join(x[k], ","))
		}
		return strings.Join(parts, "; ")
	case string:
		return x
	case nil:
		return ""
	}
	return jsonString(v)
}

// crashInfo turns a crash report into what a CrashJudge gets.
func crashInfo(c *Crash, at time.Duration) workload.Crash {
	return workload.Crash{Node: c.Node, Time: at, What: c.What, ExitStatus: c.ExitStatus, Stderr: c.Stderr}
}

// judgeCrash lets a CrashJudge workload turn a crash into a verdict: the
// history up to the crash is judged, and the crash itself is the reason.
// It reports whether it did.
func (r *run) judgeCrash(rep *Report, h history.History) bool {
	cj, ok := r.inst.(workload.CrashJudge)
	if !ok || rep.Crash == nil {
		return false
	}
	res := cj.JudgeCrash(h, crashInfo(rep.Crash, rep.Crash.Time))
	// Stats and availability would only echo the crash: the ops it cut
	// short never succeeded.
	rep.Results = []checker.Result{res, protocolResult(rep, r.opts.StrictProtocol)}
	rep.Valid = checker.Valid
	for _, x := range rep.Results {
		rep.Valid = checker.Worst(rep.Valid, x.Valid)
	}
	if rep.Valid == checker.Valid {
		// A crash is never a pass, whatever the judge says.
		rep.Valid = checker.Unknown
	}
	return true
}

// leaderWindow is how much recent traffic the leader guess looks at: a few
// heartbeat intervals.
const leaderWindow = 500 * time.Millisecond

// Leader guesses the current leader from the traffic between nodes, for
// the faults aimed at it (nemesis.LeaderGuesser).
func (e *faultEnv) Leader() string { return e.r.net.Broadcaster(e.r.ids, leaderWindow) }

// CorruptData flips one bit in every non-empty regular file under a
// killed node's data directory (nemesis.Corrupter): on its simulated disk
// in-process, in the real files for a process. Files are visited in path
// order; each gets a byte offset uniform in [0, size) and a bit uniform in
// 0..7 from rng, so a seed replays the same damage. Each flip is logged
// to the node's log.
func (e *faultEnv) CorruptData(_ context.Context, id string, rng *rand.Rand) ([]string, error) {
	n, p, killed, err := e.process(id)
	if err != nil {
		return nil, err
	}
	if p != nil && !killed {
		return nil, fmt.Errorf("node %s is running", id)
	}
	flips, err := corruptDir(n, rng)
	for _, f := range flips {
		e.r.cl.logMarker(n, "data corrupted by the nemesis: "+f)
	}
	return flips, err
}

func corruptDir(n *node, rng *rand.Rand) ([]string, error) {
	type file struct {
		path string
		size int64
	}
	var files []file
	if n.disk != nil {
		for _, p := range n.disk.FilesUnder(n.dataDir) {
			fi, err := n.disk.Stat(p)
			if err != nil {
				return nil, err
			}
			files = append(files, file{p, fi.Size()})
		}
	} else {
		err := filepath.WalkDir(n.dataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, file{p, fi.Size()})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	var flips []string
	for _, f := range files {
		if f.size == 0 {
			continue
		}
		off, bit := rng.Int64N(f.size), rng.IntN(8)
		var err error
		if n.disk != nil {
			err = n.disk.FlipBit(f.path, off*8+int64(bit))
		} else {
			err = flipFileBit(f.path, off, bit)
		}
		if err != nil {
			return flips, err
		}
		rel, rerr := filepath.Rel(filepath.FromSlash(n.dataDir), filepath.FromSlash(f.path))
		if rerr != nil {
			rel = f.path
		}
		flips = append(flips, fmt.Sprintf("%s: byte %d bit %d", filepath.ToSlash(rel), off, bit))
	}
	return flips, nil
}

// flipFileBit flips one bit of a real file in place.
func flipFileBit(path string, off int64, bit int) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		f.Close()
		return err
	}
	b[0] ^= 1 << bit
	_, err = f.WriteAt(b, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// targetFaults narrows each fault's choice of victims to the nodes the
// workload allows it (workload.FaultTargeter); faults the workload
// leaves alone are returned as they are.
func (r *run) targetFaults(faults []nemesis.Fault) []nemesis.Fault {
	ft, ok := r.inst.(workload.FaultTargeter)
	if !ok {
		return faults
	}
	out := make([]nemesis.Fault, len(faults))
	for i, f := range faults {
		nodes := ft.FaultTargets(f.Name(), slices.Clone(r.ids))
		if slices.Equal(nodes, r.ids) || len(nodes) == 0 {
			out[i] = f
			continue
		}
		out[i] = targetedFault{Fault: f, nodes: nodes}
	}
	return out
}

// targetedFault is a fault that sees only some nodes.
type targetedFault struct {
	nemesis.Fault
	nodes []string
}

func (t targetedFault) env(env nemesis.Env) nemesis.Env {
	if fe, ok := env.(*faultEnv); ok {
		return targetedEnv{faultEnv: fe, nodes: t.nodes}
	}
	return env
}

func (t targetedFault) Start(ctx context.Context, env nemesis.Env, rng *rand.Rand) (string, any, error) {
	return t.Fault.Start(ctx, t.env(env), rng)
}

func (t targetedFault) Stop(ctx context.Context, env nemesis.Env) (string, any, error) {
	return t.Fault.Stop(ctx, t.env(env))
}

// targetedEnv is the run's fault environment with fewer nodes to choose
// from; everything else (kill, restart, corrupt, leader guess) is the
// run's own.
type targetedEnv struct {
	*faultEnv
	nodes []string
}

func (e targetedEnv) Nodes() []string { return e.nodes }
