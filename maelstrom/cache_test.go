package maelstrom

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// cacheNodeConfig selects how a test cache node behaves.
type cacheNodeConfig struct {
	cache     bool          // keep what it reads and writes (never invalidated by other nodes)
	ttl       time.Duration // with cache: entries expire ttl after the backend's answer arrived
	loseWrite bool          // acknowledge writes without telling the backend
	invent    bool          // answer reads of uncached keys with a made-up value
}

// cacheNode is a small cache in front of the cache workload's backend.
func cacheNode(cfg cacheNodeConfig) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		type entry struct {
			value   json.RawMessage
			expires time.Time
		}
		cached := map[int64]entry{}
		pending := map[int64]func(testnodes.Msg){}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			if m.Src == "backend" {
				irt := m.Int("in_reply_to")
				if f := pending[irt]; f != nil {
					delete(pending, irt)
					f(m)
				}
				return nil
			}
			key := m.Int("key")
			switch m.Type() {
			case "read":
				if e, ok := cached[key]; ok && (cfg.ttl == 0 || time.Now().Before(e.expires)) {
					n.Reply(m, map[string]any{"type": "read_ok", "value": e.value})
					return nil
				}
				if cfg.invent {
					n.Reply(m, map[string]any{"type": "read_ok", "value": -7})
					return nil
				}
				pending[n.RPC("backend", map[string]any{"type": "read", "key": key})] = func(r testnodes.Msg) {
					if cfg.cache {
						cached[key] = entry{r.Field("value"), time.Now().Add(cfg.ttl)}
					}
					n.Reply(m, map[string]any{"type": "read_ok", "value": r.Field("value")})
				}
			case "write":
				v := m.Field("value")
				if cfg.loseWrite {
					n.Reply(m, map[string]any{"type": "write_ok"})
					return nil
				}
				pending[n.RPC("backend", map[string]any{"type": "write", "key": key, "value": v})] = func(testnodes.Msg) {
					if cfg.cache {
						cached[key] = entry{v, time.Now().Add(cfg.ttl)}
					}
					n.Reply(m, map[string]any{"type": "write_ok"})
				}
			}
			return nil
		}}
	})
}

func cacheDetails(t *testing.T, rep *Report) checker.CacheDetails {
	t.Helper()
	res, ok := rep.Result("cache")
	if !ok {
		t.Fatalf("no cache checker result\n%s", rep.Summary())
	}
	d, ok := res.Details.(checker.CacheDetails)
	if !ok {
		t.Fatalf("cache details are %T", res.Details)
	}
	return d
}

func TestCacheWriteThroughOnOneNode(t *testing.T) {
	rep := grade(t, cacheNode(cacheNodeConfig{cache: true}), "-w", "cache", "--node-count", "1", "--time-limit", "6",
		"--rate", "100", "--backend-latency", "30", "--keys", "20")
	wantVerdict(t, rep, checker.Valid, "hit ratio", "backend calls per op", "read p50")
	d := cacheDetails(t, rep)
	// 20 keys, all cached after their first read: nearly every read hits,
	// and hits answer without the 30 ms backend round trip.
	if d.HitRatio < 0.9 || d.ReadLatency.P50 >= 30*time.Millisecond || d.BackendWrites == 0 {
		t.Fatalf("hit ratio %.3f, read p50 %v, %d backend writes\n%s", d.HitRatio, d.ReadLatency.P50, d.BackendWrites, rep.Summary())
	}
}

func TestCacheWithoutCachingHitsNothing(t *testing.T) {
	rep := grade(t, cacheNode(cacheNodeConfig{}), "-w", "cache", "--node-count", "3", "--time-limit", "5", "--rate", "50")
	wantVerdict(t, rep, checker.Valid)
	if d := cacheDetails(t, rep); d.HitRatio != 0 || d.BackendCallsPerOp < 0.99 {
		t.Fatalf("a pass-through node: hit ratio %.3f, %.2f backend calls per op", d.HitRatio, d.BackendCallsPerOp)
	}
}

// TestCacheThatNeverInvalidates: three nodes each keep their own copy
// forever; a write through one leaves the others stale.
func TestCacheThatNeverInvalidates(t *testing.T) {
	rep := grade(t, cacheNode(cacheNodeConfig{cache: true}), "-w", "cache", "--node-count", "3", "--time-limit", "6",
		"--rate", "100", "--keys", "10")
	wantVerdict(t, rep, checker.Invalid, "first problem (cache): stale read", "key ", "returned", "had been acknowledged", "read-after-write allows none")
	v := rep.Results[0].First()
	if v.Node == "" || v.Op == nil || v.Time == 0 {
		t.Fatalf("violation lacks node, op or time: %+v", v)
	}
}

// TestCacheTTLBound: entries that expire ttl after the answer arrived,
// not after the question was sent, can outlive the bound by the backend's
// latency; 300 ms entries under a 100 ms bound are plainly too stale,
// while the same nodes pass a bound of ttl plus a backend round trip.
func TestCacheTTLBound(t *testing.T) {
	args := []string{"-w", "cache", "--node-count", "3", "--time-limit", "6", "--rate", "100", "--keys", "10",
		"--mode", "ttl", "--backend-latency", "20"}
	rep := grade(t, cacheNode(cacheNodeConfig{cache: true, ttl: 300 * time.Millisecond}), append(args, "--ttl", "100")...)
	wantVerdict(t, rep, checker.Invalid, "stale read", "the stage's TTL allows 0.100s")
	rep = grade(t, cacheNode(cacheNodeConfig{cache: true, ttl: 300 * time.Millisecond}), append(args, "--ttl", "400")...)
	wantVerdict(t, rep, checker.Valid)
	if d := cacheDetails(t, rep); d.StaleReads == 0 || d.MaxStaleness > 400*time.Millisecond || d.MaxStaleness < 100*time.Millisecond {
		t.Fatalf("%d stale reads, max staleness %v; want some, between 100 and 400 ms", d.StaleReads, d.MaxStaleness)
	}
}

func TestCacheLostWriteAndInventedValue(t *testing.T) {
	rep := grade(t, cacheNode(cacheNodeConfig{loseWrite: true}), "-w", "cache", "--node-count", "1", "--time-limit", "5", "--rate", "50")
	wantVerdict(t, rep, checker.Invalid, "lost write", "the backing store never applied it")
	rep = grade(t, cacheNode(cacheNodeConfig{invent: true}), "-w", "cache", "--node-count", "1", "--time-limit", "5", "--rate", "50")
	wantVerdict(t, rep, checker.Invalid, "value never written", "returned -7")
}

func TestCacheFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "ttl"}, {"--mode", "eventually"}, {"--skew", "-1"}, {"--keys", "0"}, {"--write-ratio", "2"},
	} {
		opts, err := ParseArgs(append([]string{"-w", "cache", "--bin", "x"}, args...))
		if err != nil {
			continue // refused at parse time: fine too
		}
		opts.StoreDir = ""
		if _, err := Run(t.Context(), opts, InProcess{Program: cacheNode(cacheNodeConfig{})}); err == nil ||
			!strings.Contains(err.Error(), "--") {
			t.Errorf("%v: accepted (%v)", args, err)
		}
	}
}
