// Package searcher is the reference solution of the searcher track:
// distributed full-text search, graded by the search workload.
//
// Documents are sharded by id over the nodes; each shard has Replicas
// copies on consecutive nodes. A write goes to every replica of its shard
// (each appends it to its translog, an internal/wal, before answering)
// and is acknowledged only when all have it, so that any one replica can
// answer for the shard. Replicas make writes searchable at each refresh
// (package index: near-real-time segments). Any node coordinates a query:
// first it gathers every shard's statistics for the query's terms (live
// documents, tokens, document frequencies) from one replica each, sums
// them, then asks the same replicas, at the same reader generation, for
// their top k scored with the global statistics, and merges (query then
// fetch with distributed frequencies, as Elasticsearch's dfs_query_then_fetch).
// A shard none of whose replicas answers is left out and the answer says
// partial.
//
// tracks/searcher/stages.tsv says how each stage is graded and README.md is
// the lesson.
package searcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/internal/wal"
	"github.com/distsys-curriculum/distsys/tracks/searcher/analysis"
	"github.com/distsys-curriculum/distsys/tracks/searcher/index"
)

// Options configure a searcher node.
type Options struct {
	Shards   int // 0: one per node
	Replicas int
	Refresh  time.Duration
	// Try bounds one request to one replica before the next is tried;
	// Budget bounds a whole query, retries included.
	Try, Budget time.Duration
	// PerShard is the counter-example (--scoring per-shard): each shard
	// scores with its own statistics.
	PerShard bool
}

// DefaultOptions: a shard per node, two replicas, 100 ms refreshes.
func DefaultOptions() Options {
	return Options{Replicas: 2, Refresh: 100 * time.Millisecond, Try: 400 * time.Millisecond, Budget: 1500 * time.Millisecond}
}

const usage = "usage: searcher [--shards N] [--replicas R] [--refresh D] [--try D] [--budget D] [--scoring global|per-shard]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("searcher")
	fs.IntVar(&o.Shards, "shards", o.Shards, "number of shards (0: one per node)")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "copies of each shard")
	fs.DurationVar(&o.Refresh, "refresh", o.Refresh, "how often buffered writes become searchable")
	fs.DurationVar(&o.Try, "try", o.Try, "how long to wait for one replica")
	fs.DurationVar(&o.Budget, "budget", o.Budget, "how long a query may take before it answers partial")
	scoring := fs.String("scoring", "global", "global statistics, or per-shard (counter-example)")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *scoring {
	case "global":
	case "per-shard":
		o.PerShard = true
	default:
		return o, fmt.Errorf("searcher: --scoring %q: want global or per-shard", *scoring)
	}
	if o.Shards < 0 || o.Replicas < 1 || o.Refresh <= 0 || o.Try <= 0 || o.Budget <= 0 {
		return o, fmt.Errorf("searcher: want --shards ≥ 0, --replicas ≥ 1, positive --refresh, --try and --budget (%s)", usage)
	}
	return o, nil
}

// Configure sets up a node from its arguments: node.Main(Configure) is the
// process, node.Program(Configure) the in-process program the grader runs.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

// Server is one node: replicas of some shards, and a query coordinator.
type Server struct {
	n      *node.Node
	o      Options
	ids    []string
	shards map[int]*index.Shard // the shards this node holds
	log    *wal.Log             // nil without a data directory
	rr     atomic.Uint64        // spreads queries over replicas
	ready  atomic.Bool          // start has laid out the shards
}

// record is one translog entry.
type record struct {
	Shard int    `json:"s"`
	Op    string `json:"op"` // index, delete
	ID    int64  `json:"id"`
	Text  string `json:"text,omitempty"`
}

// Setup serves the search workload's messages on n.
func Setup(n *node.Node, o Options) *Server {
	s := &Server{n: n, o: o, shards: map[int]*index.Shard{}}
	n.OnInit(s.start)
	node.HandleTyped(n, "index", func(_ node.Message, r clientWrite) (any, error) {
		if r.ID == nil || r.Text == nil {
			return nil, node.NewRPCError(12, "index needs an integer id and a string text")
		}
		return s.write(record{ID: *r.ID, Text: *r.Text}, "index")
	})
	node.HandleTyped(n, "delete", func(_ node.Message, r clientWrite) (any, error) {
		if r.ID == nil {
			return nil, node.NewRPCError(12, "delete needs an integer id")
		}
		return s.write(record{ID: *r.ID}, "delete")
	})
	node.HandleTyped(n, "shard_write", func(_ node.Message, r record) (any, error) {
		if err := s.apply(r); err != nil {
			return nil, err
		}
		return map[string]any{"type": "shard_write_ok"}, nil
	})
	node.HandleTyped(n, "shard_stats", func(_ node.Message, r statsReq) (any, error) {
		sh := s.shards[r.Shard]
		if sh == nil {
			return nil, node.NewRPCError(20, fmt.Sprintf("shard %d is not here", r.Shard))
		}
		rd := sh.Reader(0)
		return statsResp{Type: "shard_stats_ok", Gen: rd.Gen, Stats: rd.Stats(r.Terms)}, nil
	})
	node.HandleTyped(n, "shard_search", func(_ node.Message, r searchReq) (any, error) {
		hits, err := s.localSearch(r)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "shard_search_ok", "hits": hits}, nil
	})
	node.HandleTyped(n, "search", func(_ node.Message, r clientSearch) (any, error) {
		return s.search(r)
	})
	n.Every(o.Refresh, func(context.Context) {
		if !s.ready.Load() {
			return
		}
		for _, sh := range s.shards {
			sh.Refresh()
		}
	})
	return s
}

// start lays out the shards, replays the translog and refreshes, so a
// restarted replica answers with everything it acknowledged.
func (s *Server) start() error {
	s.ids = slices.Clone(s.n.NodeIDs())
	slices.Sort(s.ids)
	if s.o.Shards == 0 {
		s.o.Shards = len(s.ids)
	}
	s.o.Replicas = min(s.o.Replicas, len(s.ids))
	for sh := range s.o.Shards {
		if slices.Contains(s.replicas(sh), s.n.ID()) {
			s.shards[sh] = index.NewShard()
		}
	}
	if dir := s.n.DataDir(); dir != "" {
		l, err := wal.Open(s.n.Storage(), path.Join(dir, "translog"), wal.Options{Sync: wal.SyncGroup})
		if err != nil {
			return fmt.Errorf("searcher: open the translog: %w", err)
		}
		s.log = l
		err = l.Iterate(l.FirstIndex(), func(_ uint64, rec []byte) error {
			var r record
			if err := json.Unmarshal(rec, &r); err != nil {
				return err
			}
			s.applyMem(r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("searcher: replay the translog: %w", err)
		}
	}
	for _, sh := range s.shards {
		sh.Refresh()
	}
	s.ready.Store(true)
	return nil
}

// ShardOf places a document.
func (s *Server) shardOf(id int64) int {
	h := fnv.New32a()
	h.Write([]byte(strconv.FormatInt(id, 10)))
	return int(h.Sum32() % uint32(s.o.Shards))
}

// replicas are the nodes holding a shard: Replicas consecutive nodes.
func (s *Server) replicas(shard int) []string {
	out := make([]string, 0, s.o.Replicas)
	for i := range s.o.Replicas {
		out = append(out, s.ids[(shard+i)%len(s.ids)])
	}
	return out
}

// apply makes a write durable in the translog, then buffers it.
func (s *Server) apply(r record) error {
	if s.shards[r.Shard] == nil {
		return node.NewRPCError(20, fmt.Sprintf("shard %d is not here", r.Shard))
	}
	if s.log != nil {
		b, _ := json.Marshal(r)
		if _, err := s.log.Append(b); err != nil {
			return node.NewRPCError(13, "translog: "+err.Error())
		}
	}
	s.applyMem(r)
	return nil
}

func (s *Server) applyMem(r record) {
	sh := s.shards[r.Shard]
	if sh == nil {
		return
	}
	if r.Op == "delete" {
		sh.Delete(r.ID)
		return
	}
	sh.Index(index.Doc{ID: r.ID, Text: r.Text, Tokens: analysis.Tokens(nil, r.Text)})
}

// write sends an index or delete to every replica of its shard and
// answers once all have it.
func (s *Server) write(r record, op string) (any, error) {
	r.Op, r.Shard = op, s.shardOf(r.ID)
	reps := s.replicas(r.Shard)
	errs := make([]error, len(reps))
	var wg sync.WaitGroup
	for i, rep := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rep == s.n.ID() {
				errs[i] = s.apply(r)
				return
			}
			ctx, cancel := context.WithTimeout(s.n.Context(), 2*s.o.Try)
			defer cancel()
			body := map[string]any{"type": "shard_write", "s": r.Shard, "op": r.Op, "id": r.ID, "text": r.Text}
			_, errs[i] = s.n.SyncRPC(ctx, rep, body)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, node.NewRPCError(13, fmt.Sprintf("%s %d: not every replica of shard %d has it: %v", op, r.ID, r.Shard, err))
	}
	return map[string]any{"type": op + "_ok"}, nil
}

// clientWrite is an index or delete from a client; pointers tell a
// missing field from a zero one.
type clientWrite struct {
	ID   *int64  `json:"id"`
	Text *string `json:"text"`
}

type statsReq struct {
	Shard int      `json:"shard"`
	Terms []string `json:"terms"`
}

type statsResp struct {
	Type  string      `json:"type"`
	Gen   uint64      `json:"gen"`
	Stats index.Stats `json:"stats"`
}

type searchReq struct {
	Shard int         `json:"shard"`
	Gen   uint64      `json:"gen"`
	Query index.Query `json:"query"`
	K     int         `json:"k"`
	Stats index.Stats `json:"stats"`
}

type clientSearch struct {
	Query index.Query `json:"query"`
	K     int         `json:"k"`
}

func (s *Server) localSearch(r searchReq) ([]index.Hit, error) {
	sh := s.shards[r.Shard]
	if sh == nil {
		return nil, node.NewRPCError(20, fmt.Sprintf("shard %d is not here", r.Shard))
	}
	rd := sh.Reader(r.Gen)
	if rd == nil {
		return nil, node.NewRPCError(20, fmt.Sprintf("shard %d no longer keeps generation %d", r.Shard, r.Gen))
	}
	hits := rd.Search(r.Query, r.Stats, r.K)
	if hits == nil {
		hits = []index.Hit{}
	}
	return hits, nil
}

// call runs a request on a replica: locally, or by RPC within Try (and
// within ctx).
func call[Resp any](ctx context.Context, s *Server, rep string, local func() (Resp, error), body any) (Resp, error) {
	if rep == s.n.ID() {
		return local()
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Try)
	defer cancel()
	return node.Call[Resp](ctx, s.n, rep, body)
}

// order lists a shard's replicas to try: this node first if it holds the
// shard, the others from a rotating start.
func (s *Server) order(shard int) []string {
	reps := s.replicas(shard)
	start := int(s.rr.Add(1) % uint64(len(reps)))
	out := append(slices.Clone(reps[start:]), reps[:start]...)
	if i := slices.Index(out, s.n.ID()); i > 0 {
		out[0], out[i] = out[i], out[0]
	}
	return out
}

// search is the coordinator. It runs the two phases again while some shard
// is missing and Budget lasts: a slow replica is not a lost one, and an
// answer is partial only when a shard stayed out of reach that long.
func (s *Server) search(r clientSearch) (any, error) {
	if r.K <= 0 {
		return nil, node.NewRPCError(12, "search needs k ≥ 1")
	}
	switch r.Query.Kind {
	case "term", "and", "or", "phrase":
	default:
		return nil, node.NewRPCError(12, fmt.Sprintf("query kind %q: want term, and, or or phrase", r.Query.Kind))
	}
	q := index.Query{Kind: r.Query.Kind, Terms: analysis.Tokens(nil, strings.Join(r.Query.Terms, " "))}
	ctx, cancel := context.WithTimeout(s.n.Context(), s.o.Budget)
	defer cancel()
	for {
		hits, global, complete := s.scatter(ctx, q, r.K)
		if complete || ctx.Err() != nil {
			if hits == nil {
				hits = []index.Hit{}
			}
			return map[string]any{"type": "search_ok", "hits": hits, "docs": global.Docs, "tokens": global.Tokens, "partial": !complete}, nil
		}
	}
}

// scatter runs both phases once: statistics from one replica of each
// shard (trying them in turn until ctx ends), then scoring at the same
// generations on the same replicas. complete says every shard answered
// both.
func (s *Server) scatter(ctx context.Context, q index.Query, k int) ([]index.Hit, index.Stats, bool) {
	type source struct {
		rep   string
		gen   uint64
		stats index.Stats
		ok    bool
		hits  []index.Hit
	}
	src := make([]source, s.o.Shards)
	var wg sync.WaitGroup
	for sh := range s.o.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				for _, rep := range s.order(sh) {
					resp, err := call(ctx, s, rep, func() (statsResp, error) {
						rd := s.shards[sh].Reader(0)
						return statsResp{Gen: rd.Gen, Stats: rd.Stats(q.Terms)}, nil
					}, map[string]any{"type": "shard_stats", "shard": sh, "terms": q.Terms})
					if err == nil {
						src[sh] = source{rep: rep, gen: resp.Gen, stats: resp.Stats, ok: true}
						return
					}
					if ctx.Err() != nil {
						return
					}
				}
				select { // every replica refused: let a restarting one come up
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	var global index.Stats
	for _, x := range src {
		if x.ok {
			global.Add(x.stats)
		}
	}
	for sh := range s.o.Shards {
		if !src[sh].ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := &src[sh]
			st := global
			if s.o.PerShard {
				st = x.stats
			}
			req := searchReq{Shard: sh, Gen: x.gen, Query: q, K: k, Stats: st}
			type hitsResp struct {
				Hits []index.Hit `json:"hits"`
			}
			resp, err := call(ctx, s, x.rep, func() (hitsResp, error) {
				h, err := s.localSearch(req)
				return hitsResp{h}, err
			}, map[string]any{"type": "shard_search", "shard": sh, "gen": x.gen, "query": q, "k": k, "stats": st})
			x.hits, x.ok = resp.Hits, err == nil
		}()
	}
	wg.Wait()
	complete := true
	var lists [][]index.Hit
	for _, x := range src {
		complete = complete && x.ok
		lists = append(lists, x.hits)
	}
	return index.Merge(k, lists...), global, complete
}
