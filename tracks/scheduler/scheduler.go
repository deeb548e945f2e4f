// Package scheduler is the reference solution of the scheduler track: a
// job scheduler whose every node is also a member of the watcher track's
// coordination service, graded by the jobs workload.
//
// Nothing here is replicated by hand: the queue, the claims and the cron
// state are keys in the watcher (tracks/watcher), reached through its Go
// client (tracks/watcher/client) on this node's own server.
//
//   - A submitted job is a key /jobs/q/<job> holding its priority and the
//     time before which it must not run.
//   - Each node runs workers. A worker reads the queue and the claims,
//     takes the ready job of highest priority (oldest first among equals)
//     that nobody has claimed (a new job is left to its home node for a
//     moment, so that the cluster's idle workers do not all race for it),
//     and claims it by creating /jobs/claim/<job> under its node's session
//     lease. A claim whose release failed is found again by its worker. The claim's creation revision is the fencing token:
//     the worker writes to the guarded resource under it, and a worker that
//     paused past its lease (its claim deleted, the job claimed again under
//     a higher revision) is refused by the resource.
//   - Cron jobs are keys /cron/<job>; the node that wins the election
//     /cron-leader enqueues each fire as the job <job>@<unix seconds> and
//     records the last time fired in /cron-last/<job>, so that a new leader
//     carries on where the old one stopped, catching up missed fires.
//
// tracks/scheduler/stages.tsv says how each stage is graded and README.md
// is the lesson.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/scheduler/cron"
	"github.com/distsys-curriculum/distsys/tracks/watcher"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// Options configure a scheduler node.
type Options struct {
	Watcher watcher.Options
	// Workers per node, and how long a run lasts between its two writes.
	Workers int
	Run     time.Duration
	// TTL is the lease of a worker's and of the cron leader's session.
	TTL time.Duration
	// NoFencing is the counter-example (--fencing off): runs are written
	// under token 0, so the resource cannot tell an old holder from a new.
	NoFencing bool
}

// DefaultOptions: the watcher's defaults, 2 workers per node, 50 ms runs,
// 1 s leases.
func DefaultOptions() Options {
	return Options{Watcher: watcher.DefaultOptions(), Workers: 2, Run: 50 * time.Millisecond, TTL: time.Second}
}

const usage = "usage: scheduler [--fencing on|off] [--workers N] [--run D] [--ttl D] [watcher flags]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("scheduler")
	o.Watcher.Raft.RegisterFlags(fs)
	fencing := fs.String("fencing", "on", "on: runs carry the claim's revision as fencing token; off: token 0 (counter-example)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "workers per node")
	fs.DurationVar(&o.Run, "run", o.Run, "how long a run lasts between its begin and end writes")
	fs.DurationVar(&o.TTL, "ttl", o.TTL, "lease of the workers' and the cron leader's sessions")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *fencing {
	case "on":
	case "off":
		o.NoFencing = true
	default:
		return o, fmt.Errorf("scheduler: --fencing %q: want on or off", *fencing)
	}
	if o.Workers < 1 || o.TTL <= 0 {
		return o, fmt.Errorf("scheduler: --workers and --ttl must be positive (%s)", usage)
	}
	return o, nil
}

// Configure sets up a node from its arguments.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// job is a queued job's value.
type job struct {
	ID        string `json:"id"`
	Priority  int    `json:"priority"`
	NotBefore int64  `json:"not_before"` // Unix milliseconds, by the submitting node's clock
}

// cronJob is a registered cron job's value.
type cronJob struct {
	Spec string `json:"spec"`
	From int64  `json:"from"` // Unix seconds: fires after this
}

// requestDeadline bounds a client request: under the jobs workload's 2 s
// client timeout, long enough to wait out a first election.
const requestDeadline = 1800 * time.Millisecond

// cronPriority puts cron fires ahead of every submitted job (0-9).
const cronPriority = 10

type scheduler struct {
	n   *node.Node
	srv *watcher.Server
	o   Options
	c   client.Client // set at init
	// work is the session the node's workers claim jobs under; the cron
	// leader campaigns under a session of its own (see cronLeader).
	work *sessions
	// taken holds the jobs this node's workers are claiming or running,
	// so that a sibling worker does not try to claim them too.
	mu    sync.Mutex
	taken map[string]bool
}

// Setup serves the jobs workload on n, with the watcher's messages too.
func Setup(n *node.Node, o Options) {
	s := &scheduler{n: n, srv: watcher.Setup(n, o.Watcher), o: o, taken: map[string]bool{}}
	node.HandleTyped(n, "submit", s.submit)
	node.HandleTyped(n, "cron", s.cron)
	n.OnInit(func() error {
		// The service de-duplicates by client identity and sequence number,
		// and a restarted node counts its sequence numbers from 1 again:
		// under the identities of its previous life its requests would be
		// answered as duplicates (an old result, or refused as stale)
		// without being applied. Each life gets identities of its own.
		s.c = client.Client{Conn: s.srv.Conn(fmt.Sprintf("sched-%016x", rand.Uint64()))}
		s.work = newSessions(s.c, o.TTL)
		for i := 0; i < o.Workers; i++ {
			go s.worker(fmt.Sprintf("%s/w%d", n.ID(), i))
		}
		go s.cronLeader()
		return nil
	})
}

type submitRequest struct {
	Job      string `json:"job"`
	Priority int    `json:"priority"`
	Delay    int64  `json:"delay"`
}

func (s *scheduler) submit(_ node.Message, req submitRequest) (any, error) {
	if req.Job == "" || strings.ContainsAny(req.Job, "/@") || req.Priority < 0 || req.Priority > 9 || req.Delay < 0 {
		return nil, node.NewRPCError(node.MalformedRequest, "submit needs a job id without / or @, a priority 0-9 and a delay >= 0")
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), requestDeadline)
	defer cancel()
	// Round up: a job must never run before its delay is over.
	due := s.n.Clock().Now().Add(time.Duration(req.Delay) * time.Millisecond)
	j := job{ID: req.Job, Priority: req.Priority, NotBefore: (due.UnixNano() + 999_999) / 1_000_000}
	if _, err := s.c.Put(ctx, "/jobs/q/"+req.Job, j, 0); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "submit_ok"}, nil
}

type cronRequest struct {
	Job  string `json:"job"`
	Spec string `json:"spec"`
}

func (s *scheduler) cron(_ node.Message, req cronRequest) (any, error) {
	if req.Job == "" || strings.ContainsAny(req.Job, "/@") {
		return nil, node.NewRPCError(node.MalformedRequest, "cron needs a job id without / or @")
	}
	if _, err := cron.Parse(req.Spec); err != nil {
		return nil, node.NewRPCError(node.MalformedRequest, err.Error())
	}
	ctx, cancel := context.WithTimeout(s.n.Context(), requestDeadline)
	defer cancel()
	if _, err := s.c.Put(ctx, "/cron/"+req.Job, cronJob{Spec: req.Spec, From: s.n.Clock().Now().Unix()}, 0); err != nil {
		return nil, err
	}
	return node.MessageBody{Type: "cron_ok"}, nil
}

// sessions hands out one live session, replacing it once the service
// says it is lost. The node's workers share it: one keepalive stream per
// node rather than per worker.
type sessions struct {
	c   client.Client
	ttl time.Duration
	// lock is a channel, not a sync.Mutex: the holder may wait a while for
	// a lease, and the others wait on the channel, which the grader's
	// virtual clock counts as blocked (a goroutine on a mutex keeps it from
	// advancing).
	lock chan struct{}
	cur  *client.Session
}

func newSessions(c client.Client, ttl time.Duration) *sessions {
	return &sessions{c: c, ttl: ttl, lock: make(chan struct{}, 1)}
}

// get returns the live session, making one if there is none; nil once ctx
// has ended.
func (k *sessions) get(ctx context.Context) *client.Session {
	select {
	case k.lock <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	defer func() { <-k.lock }()
	if k.cur != nil {
		select {
		case <-k.cur.Lost():
			k.cur = nil
		default:
			return k.cur
		}
	}
	for ctx.Err() == nil {
		sess, err := client.NewSession(ctx, k.c, k.ttl)
		if err == nil {
			k.cur = sess
			return sess
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return nil
}

// drop forgets sess, so that the next get makes a new session.
func (k *sessions) drop(sess *client.Session) {
	k.lock <- struct{}{}
	defer func() { <-k.lock }()
	if k.cur == sess {
		k.cur = nil
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// recheck bounds how long an idle worker goes without reading the queue
// again when no job was added: a claim dropped after a failed run frees
// its job without any change to the queue.
const recheck = time.Second

// worker claims and runs jobs until the node stops.
func (s *scheduler) worker(name string) {
	ctx := s.n.Context()
	var rev int64
	for ctx.Err() == nil {
		sess := s.work.get(ctx)
		if sess == nil {
			return
		}
		ran, seen, due := s.claimAndRun(ctx, name, sess)
		rev = max(rev, seen)
		if !ran {
			rev = s.idle(ctx, rev, due)
		}
	}
}

// idle waits for a job to be added to the queue (a watch from the
// revision seen), for the delayed job due first to come due, or for
// recheck to pass, and returns the revision seen through. Reading the
// queue is a linearizable read through the Raft leader; waking every
// worker for each job deleted would multiply those reads for nothing.
func (s *scheduler) idle(ctx context.Context, rev int64, due time.Time) int64 {
	clock := s.n.Clock()
	listed := clock.Now()
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
		evs, through, err := s.c.Watch(wctx, "/jobs/q/", rev+1)
		cancel()
		if err != nil {
			sleep(ctx, 50*time.Millisecond)
			return rev
		}
		rev = max(rev, through)
		now := clock.Now()
		if slices.ContainsFunc(evs, func(e client.Event) bool { return e.Type == "put" }) ||
			(!due.IsZero() && !now.Before(due)) || now.Sub(listed) >= recheck {
			return rev
		}
	}
	return rev
}

// fresh is how long a worker goes on taking jobs from one reading of the
// queue before it reads it again. Within it a job added since may wait
// behind lower-priority ones; past it the checker's priority slack would
// not forgive that. Reading once for several jobs spares the Raft leader a
// read per job.
const fresh = 250 * time.Millisecond

// handoff is how long a ready job is left to the node it belongs to (by
// a hash of its id) before every node's workers may claim it. Without it,
// every idle worker in the cluster, woken by the same new job, tries to
// claim it, and all but one of those claims are Raft writes that fail.
// A job whose node is dead, cut off or busy waits this long, well inside
// the priority slack.
const handoff = 300 * time.Millisecond

// home says whether job belongs to this node.
func (s *scheduler) home(job string) bool {
	ids := s.n.NodeIDs()
	h := fnv.New32a()
	h.Write([]byte(job))
	return len(ids) == 0 || ids[int(h.Sum32())%len(ids)] == s.n.ID()
}

// take marks a job as claimed by one of this node's workers; false if a
// sibling has it.
func (s *scheduler) take(job string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken[job] {
		return false
	}
	s.taken[job] = true
	return true
}

func (s *scheduler) untake(job string) {
	s.mu.Lock()
	delete(s.taken, job)
	s.mu.Unlock()
}

// claimAndRun reads the queue and the claims (one read of /jobs/), then
// runs a claim this worker left behind (its release failed, say for want
// of a Raft leader) if there is one, else the ready jobs nobody holds,
// best first, for as long as the reading is fresh. It reports whether it
// ran a job, the revision it read at and when the first job still delayed
// comes due (zero if none).
func (s *scheduler) claimAndRun(ctx context.Context, name string, sess *client.Session) (ran bool, rev int64, due time.Time) {
	clock := s.n.Clock()
	read := clock.Now()
	rctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
	kvs, rev, err := s.c.List(rctx, "/jobs/")
	cancel()
	if err != nil {
		return false, 0, due
	}
	type cand struct {
		j   job
		rev int64
	}
	var ready []cand
	held := map[string]bool{}
	mine := map[string]int64{} // claims this worker left behind: job -> token
	queued := map[string]bool{}
	for _, kv := range kvs {
		if id, ok := strings.CutPrefix(kv.Key, "/jobs/claim/"); ok {
			held[id] = true
			var holder string
			if kv.Lease == sess.Lease && json.Unmarshal(kv.Value, &holder) == nil && holder == name {
				mine[id] = kv.CreateRev
			}
			continue
		}
		var j job
		if !strings.HasPrefix(kv.Key, "/jobs/q/") || json.Unmarshal(kv.Value, &j) != nil {
			continue
		}
		queued[j.ID] = true
		if at := time.UnixMilli(j.NotBefore); at.After(read) {
			if due.IsZero() || at.Before(due) {
				due = at
			}
			continue
		}
		ready = append(ready, cand{j, kv.CreateRev})
	}
	// This worker runs one job at a time, so a claim of its own is one that
	// outlived a run whose release failed. Still queued, the job may not
	// have run to its end: run it again under the same token (at least
	// once). Otherwise only the claim is left to drop.
	for id, token := range mine {
		if queued[id] {
			s.run(ctx, name, id, token)
			return true, rev, due
		}
		s.release(ctx, "/jobs/claim/"+id)
	}
	slices.SortFunc(ready, func(a, b cand) int {
		if a.j.Priority != b.j.Priority {
			return b.j.Priority - a.j.Priority
		}
		return int(a.rev - b.rev)
	})
	for _, c := range ready {
		if held[c.j.ID] {
			continue
		}
		now := clock.Now()
		if ran && now.Sub(read) > fresh {
			break
		}
		if open := time.UnixMilli(c.j.NotBefore).Add(handoff); !s.home(c.j.ID) && now.Before(open) {
			if due.IsZero() || open.Before(due) {
				due = open // look again when it is open to all
			}
			continue
		}
		if !s.take(c.j.ID) {
			continue // a sibling worker has it
		}
		cctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
		token, err := s.c.Create(cctx, "/jobs/claim/"+c.j.ID, name, sess.Lease)
		cancel()
		if err == nil {
			s.run(ctx, name, c.j.ID, token)
			ran = true
		}
		s.untake(c.j.ID)
		if err != nil && client.ErrorCode(err) != node.KeyAlreadyExists {
			break
		}
	}
	return ran, rev, due
}

// release deletes a queue entry or a claim; a failure is left for later
// (the worker finds its own claim again; a dead worker's goes with its
// lease).
func (s *scheduler) release(ctx context.Context, keys ...string) {
	dctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
	defer cancel()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.c.Delete(dctx, k)
		}()
	}
	wg.Wait()
}

type runOK struct {
	Type string `json:"type"`
}

// run writes the job's begin and end to the resource under the token,
// then removes the job from the queue and drops the claim, both at once:
// whichever fails, the job is run again or the claim found again later,
// and at least once allows both. A refused write means a newer holder
// took over: leave the job to it and only drop the claim.
func (s *scheduler) run(ctx context.Context, holder, id string, token int64) {
	if s.o.NoFencing {
		token = 0
	}
	for _, step := range []string{"begin", "end"} {
		if step == "end" {
			sleep(ctx, s.o.Run)
		}
		rctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
		_, err := node.Call[runOK](rctx, s.n, "resource", map[string]any{"type": "run", "job": id, "token": token, "holder": holder, "step": step})
		cancel()
		if err != nil {
			s.release(ctx, "/jobs/claim/"+id)
			return
		}
	}
	s.release(ctx, "/jobs/q/"+id, "/jobs/claim/"+id)
}

// cronLeader campaigns for /cron-leader and, while it leads, enqueues
// every cron fire that has come due. Each campaign has a session of its
// own: a campaign that failed may have left its candidate key behind (a
// put whose answer was lost), ahead of any key a retry would make, so the
// retry starts from a new session and the old one is closed, which
// deletes that key.
func (s *scheduler) cronLeader() {
	ctx := s.n.Context()
	k := newSessions(s.c, s.o.TTL)
	for ctx.Err() == nil {
		sess := k.get(ctx)
		if sess == nil {
			return
		}
		s.campaign(ctx, sess)
		k.drop(sess)
		cctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
		_ = sess.Close(cctx) // if this fails too, the lease expires
		cancel()
		sleep(ctx, 100*time.Millisecond)
	}
}

// campaign waits to lead under sess and leads until the session is lost
// or the node stops.
func (s *scheduler) campaign(ctx context.Context, sess *client.Session) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Lost():
			cancel()
		case <-cctx.Done():
		}
	}()
	if _, err := client.NewElection(sess, "/cron-leader").Campaign(cctx); err == nil {
		s.lead(cctx)
	}
}

// cronState is what the leader knows of one cron job: its schedule and
// the last fire time enqueued (or the registration time, before any).
type cronState struct {
	sched *cron.Schedule
	last  time.Time
}

// lead enqueues due fires every 100 ms until ctx ends (the session lost).
// It reads the cron jobs and their last fires from the service when it
// starts leading and every second after (for new registrations); in
// between it goes by what it wrote itself, as the only writer while it
// leads. A read every tick would cost the Raft leader twenty reads a
// second for nothing.
func (s *scheduler) lead(ctx context.Context) {
	clock := s.n.Clock()
	var crons map[string]*cronState
	var readAt time.Time
	for ctx.Err() == nil {
		if now := clock.Now(); crons == nil || now.Sub(readAt) >= time.Second {
			if c, err := s.readCrons(ctx); err == nil {
				crons, readAt = c, now
			}
		}
		s.fireDue(ctx, crons)
		sleep(ctx, 100*time.Millisecond)
	}
}

// readCrons reads the registered cron jobs and their last fires.
func (s *scheduler) readCrons(ctx context.Context) (map[string]*cronState, error) {
	rctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
	defer cancel()
	regs, _, err := s.c.List(rctx, "/cron/")
	if err != nil {
		return nil, err
	}
	lasts, _, err := s.c.List(rctx, "/cron-last/")
	if err != nil {
		return nil, err
	}
	last := map[string]int64{}
	for _, kv := range lasts {
		var t int64
		if json.Unmarshal(kv.Value, &t) == nil {
			last[strings.TrimPrefix(kv.Key, "/cron-last/")] = t
		}
	}
	out := map[string]*cronState{}
	for _, kv := range regs {
		id := strings.TrimPrefix(kv.Key, "/cron/")
		var cj cronJob
		if json.Unmarshal(kv.Value, &cj) != nil {
			continue
		}
		sched, err := cron.Parse(cj.Spec)
		if err != nil {
			continue
		}
		from := cj.From
		if t, ok := last[id]; ok {
			from = t
		}
		out[id] = &cronState{sched: sched, last: time.Unix(from, 0)}
	}
	return out, nil
}

// fireDue enqueues every fire that has come due, each as a job and then
// as the job's last fire; on a failure it stops and the next tick retries
// (enqueueing a fire twice puts the same key twice).
func (s *scheduler) fireDue(ctx context.Context, crons map[string]*cronState) {
	rctx, cancel := context.WithTimeout(ctx, s.o.Watcher.Deadline)
	defer cancel()
	now := s.n.Clock().Now()
	for id, st := range crons {
		for t := st.sched.Next(st.last); !t.IsZero() && !t.After(now); t = st.sched.Next(t) {
			fire := fmt.Sprintf("%s@%d", id, t.Unix())
			if _, err := s.c.Put(rctx, "/jobs/q/"+fire, job{ID: fire, Priority: cronPriority, NotBefore: t.UnixMilli()}, 0); err != nil {
				return
			}
			if _, err := s.c.Put(rctx, "/cron-last/"+id, t.Unix(), 0); err != nil {
				return
			}
			st.last = t
		}
	}
}
