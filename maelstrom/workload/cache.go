package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/zipf"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// cache: the caches track's workload (ours). Clients read and write
// integer keys drawn from a Zipf distribution through the nodes, which
// cache in front of a slow backing store that the grader runs itself and
// whose calls it counts:
//
//	client -> node  {"type":"read","key":k}           -> {"type":"read_ok","value":v|null}
//	client -> node  {"type":"write","key":k,"value":v} -> {"type":"write_ok"}
//	node -> backend {"type":"read","key":k}           -> {"type":"read_ok","value":v|null,"version":n}
//	node -> backend {"type":"write","key":k,"value":v} -> {"type":"write_ok","version":n}
//
// The backend answers after --backend-latency; version counts a key's
// writes in the order the backend applied them (0: never written). Every
// written value is unique, so the backend's log dates every value a read
// returns, and the cache checker judges staleness against it.
const cacheBackend = "backend"

func init() {
	Register(func() Spec {
		return Spec{Name: "cache", Description: "Zipf reads and writes through caching nodes in front of a slow backing store (ours)",
			Reusable: true,
			Timeout:  func(lat time.Duration) time.Duration { return max(10*lat, 2*time.Second) },
			Flags: []Flag{
				{Name: "skew", Default: "1.0", Usage: "Zipf skew of key popularity (0 is uniform)"},
				{Name: "keys", Default: "100", Usage: "number of distinct keys"},
				{Name: "write-ratio", Default: "0.1", Usage: "fraction of operations that are writes"},
				{Name: "backend-latency", Default: "20", Usage: "milliseconds before the backing store answers"},
				{Name: "mode", Default: "read-after-write", Usage: "what the stage promises: read-after-write or ttl"},
				{Name: "ttl", Default: "0", Usage: "in ttl mode, milliseconds a read may lag the last acknowledged write"},
			},
			New: newCache,
		}
	})
}

func newCache(p Params) (Instance, error) {
	f := p.Flags
	skew, err := strconv.ParseFloat(f["skew"], 64)
	if err != nil {
		return nil, fmt.Errorf("--skew %q: %v", f["skew"], err)
	}
	keys, err := strconv.Atoi(f["keys"])
	if err != nil || keys < 1 {
		return nil, fmt.Errorf("--keys %q: want a positive integer", f["keys"])
	}
	z, err := zipf.New(keys, skew)
	if err != nil {
		return nil, fmt.Errorf("--skew: %v", err)
	}
	wr, err := strconv.ParseFloat(f["write-ratio"], 64)
	if err != nil || wr < 0 || wr > 1 {
		return nil, fmt.Errorf("--write-ratio %q: want a number from 0 to 1", f["write-ratio"])
	}
	lat, err := strconv.Atoi(f["backend-latency"])
	if err != nil || lat < 0 {
		return nil, fmt.Errorf("--backend-latency %q: want milliseconds ≥ 0", f["backend-latency"])
	}
	ttl, err := strconv.Atoi(f["ttl"])
	if err != nil || ttl < 0 {
		return nil, fmt.Errorf("--ttl %q: want milliseconds ≥ 0", f["ttl"])
	}
	switch f["mode"] {
	case "read-after-write":
	case "ttl":
		if ttl == 0 {
			return nil, fmt.Errorf("--mode ttl needs --ttl, the staleness the stage allows in milliseconds")
		}
	default:
		return nil, fmt.Errorf("--mode %q: want read-after-write or ttl", f["mode"])
	}
	start := time.Now()
	if p.Network != nil {
		start = p.Network.Start()
	}
	return &cacheWL{p: p, z: z, writeRatio: wr, latency: time.Duration(lat) * time.Millisecond,
		opts:  checker.CacheOptions{Mode: f["mode"], TTL: time.Duration(ttl) * time.Millisecond},
		start: start, store: map[int64]cacheCell{}, inFlight: map[int64]int{}}, nil
}

type cacheCell struct{ value, version int64 }

type cacheWL struct {
	noSetup
	p          Params
	z          *zipf.Zipf
	writeRatio float64
	latency    time.Duration
	opts       checker.CacheOptions
	start      time.Time
	next       int64 // last value written; values are unique

	mu       sync.Mutex // the backend: delivery goroutine and reply timers
	store    map[int64]cacheCell
	backend  checker.CacheBackend
	inFlight map[int64]int // reads per key not yet answered
}

func (w *cacheWL) Next(int, int) Invocation {
	key := int64(w.z.Sample(w.p.Rand))
	if w.p.Rand.Float64() < w.writeRatio {
		w.next++
		v := w.next
		return Invocation{F: "write", Value: history.KV{Key: key, Value: &v}}
	}
	return Invocation{F: "read", Value: history.KV{Key: key}}
}

func (w *cacheWL) Invoke(ctx context.Context, c Caller, _ int, inv Invocation) Completion {
	kv := inv.Value.(history.KV)
	body := map[string]any{"type": inv.F, "key": kv.Key}
	if inv.F == "write" {
		body["value"] = *kv.Value
	}
	idem := inv.F == "read"
	raw, err := c.RPC(ctx, body)
	if err != nil {
		return Outcome(err, true, idem)
	}
	if inv.F == "write" {
		if _, err := Decode(raw, "write_ok"); err != nil {
			return Outcome(err, true, idem)
		}
		return ok(kv)
	}
	m, err := Decode(raw, "read_ok", Field{Name: "value"})
	if err != nil {
		return Outcome(err, true, idem)
	}
	var v *int64
	if err := json.Unmarshal(m["value"], &v); err != nil {
		return Outcome(&MalformedError{Reason: fmt.Sprintf("read value must be an integer or null, got %s", m["value"])}, true, idem)
	}
	kv.Value = v
	return ok(kv)
}

func (w *cacheWL) Services() []string { return []string{cacheBackend} }

type backendRequest struct {
	Type  string `json:"type"`
	MsgID *int64 `json:"msg_id"`
	Key   *int64 `json:"key"`
	Value *int64 `json:"value"`
}

// HandleService is the backing store: it applies a write when the write
// arrives and answers after the configured latency.
func (w *cacheWL) HandleService(_, src string, body json.RawMessage, send func(string, json.RawMessage)) {
	var req backendRequest
	if err := json.Unmarshal(body, &req); err != nil || req.MsgID == nil {
		return // nothing to answer to
	}
	reply := map[string]any{"in_reply_to": *req.MsgID}
	w.mu.Lock()
	var done func()
	switch {
	case req.Type != "read" && req.Type != "write":
		w.backend.Other++
		reply["type"], reply["code"], reply["text"] = "error", 10, fmt.Sprintf("the backend serves read and write, not %q", req.Type)
	case req.Key == nil || (req.Type == "write" && req.Value == nil):
		w.backend.Other++
		reply["type"], reply["code"], reply["text"] = "error", 12, "the backend needs an integer key (and value, to write)"
	case req.Type == "read":
		w.backend.Reads++
		k := *req.Key
		w.inFlight[k]++
		w.backend.MaxInFlightReads = max(w.backend.MaxInFlightReads, w.inFlight[k])
		done = func() { w.mu.Lock(); w.inFlight[k]--; w.mu.Unlock() }
		c, ok := w.store[k]
		reply["type"], reply["version"] = "read_ok", c.version
		if ok {
			reply["value"] = c.value
		} else {
			reply["value"] = nil
		}
	default:
		w.backend.Puts++
		k := *req.Key
		c := cacheCell{value: *req.Value, version: w.store[k].version + 1}
		w.store[k] = c
		w.backend.Writes = append(w.backend.Writes, checker.CacheWrite{Key: k, Value: c.value, Version: c.version, Applied: time.Since(w.start)})
		reply["type"], reply["version"] = "write_ok", c.version
	}
	w.mu.Unlock()
	out, _ := json.Marshal(reply)
	time.AfterFunc(w.latency, func() {
		if done != nil {
			done()
		}
		send(src, out)
	})
}

func (w *cacheWL) Check(h history.History) checker.Result {
	w.mu.Lock()
	b := w.backend
	b.Writes = append([]checker.CacheWrite(nil), w.backend.Writes...)
	w.mu.Unlock()
	return checker.Cache(h, b, w.opts)
}
