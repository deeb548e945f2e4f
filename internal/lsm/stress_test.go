package lsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// The stress tests below run with tiny memtables and tables, so that the
// flusher and the compactor work all the time underneath the operations.
// They are what catches the timing-dependent bugs of the background work,
// which a property test reproduces from its seed only by luck: run them
// with -race and a -count.

// write is one Put or Delete of a key, on a logical clock that orders
// every operation's start and end: invoked before the call, acked after.
type write struct {
	value   []byte // nil: deleted
	invoked int64
	acked   int64
}

// read is what one Get, or one Scan for one key of its range, saw.
type read struct {
	key        int
	value      []byte // nil: absent
	start, end int64
	what       string
}

// TestConcurrentReadsSeeRecentWrites hammers Put, Delete, Get and Scan from
// several goroutines and checks every read against each key's write
// history: a read may return the value of any write invoked before the
// read ended, except one superseded by a later write acknowledged before
// the read began. Each key has one writer, so its writes are ordered.
func TestConcurrentReadsSeeRecentWrites(t *testing.T) {
	const (
		writers  = 3
		readers  = 2
		keys     = 24 // key k belongs to writer k % writers
		perWrite = 1500
	)
	db, err := Open("/db", tiny(Options{FS: memfs.New()}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := func(k int) []byte { return fmt.Appendf(nil, "key%03d", k) }
	var clock atomic.Int64
	histories := make([][]write, keys) // each written only by its key's writer until the end
	var writersDone atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWrite {
				k := w + writers*r.IntN(keys/writers)
				var value []byte
				if r.IntN(4) != 0 {
					value = fmt.Appendf(nil, "w%d-%d-%s", w, i, bytes.Repeat([]byte{'x'}, r.IntN(40)))
				}
				wr := write{value: value, invoked: clock.Add(1)}
				var err error
				if value == nil {
					err = db.Delete(key(k))
				} else {
					err = db.Put(key(k), value)
				}
				if err != nil {
					t.Error(err)
					return
				}
				wr.acked = clock.Add(1)
				histories[k] = append(histories[k], wr)
			}
		})
	}
	var reads [readers][]read
	var rg sync.WaitGroup
	for rd := range readers {
		rg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 11))
			for !writersDone.Load() {
				if r.IntN(4) != 0 {
					k := r.IntN(keys)
					start := clock.Add(1)
					v, ok, err := db.Get(key(k))
					end := clock.Add(1)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						v = nil
					} else if v == nil {
						v = []byte{}
					}
					reads[rd] = append(reads[rd], read{key: k, value: v, start: start, end: end, what: "Get"})
					continue
				}
				lo := r.IntN(keys)
				hi := lo + 1 + r.IntN(keys-lo)
				seen := map[int][]byte{}
				start := clock.Add(1)
				err := db.Scan(key(lo), key(hi), func(kb, v []byte) bool {
					var k int
					fmt.Sscanf(string(kb), "key%03d", &k)
					seen[k] = bytes.Clone(v)
					return true
				})
				end := clock.Add(1)
				if err != nil {
					t.Error(err)
					return
				}
				for k := lo; k < hi; k++ {
					reads[rd] = append(reads[rd], read{key: k, value: seen[k], start: start, end: end, what: fmt.Sprintf("Scan[%d,%d)", lo, hi)})
				}
			}
		})
	}
	wg.Wait()
	writersDone.Store(true)
	rg.Wait()
	if t.Failed() {
		return
	}
	checked := 0
	for rd := range readers {
		for _, rr := range reads[rd] {
			if msg := checkRead(histories[rr.key], rr); msg != "" {
				t.Fatalf("%s of key%03d during [%d, %d]: %s", rr.what, rr.key, rr.start, rr.end, msg)
			}
			checked++
		}
	}
	st := db.Stats()
	t.Logf("%d reads checked; %d flushes, %d compactions, %d stalled writes", checked, st.Flushes, st.Compacts, st.Stalls)
	if st.Flushes == 0 || st.Compacts == 0 {
		t.Fatalf("no background work happened: %+v", st)
	}
}

// checkRead returns why r is impossible given the key's writes, or "".
func checkRead(h []write, r read) string {
	// The newest write acknowledged before the read began: the read may
	// return it or anything written after it (the initial state, absent,
	// if there is none).
	floor := -1
	for i, w := range h {
		if w.acked < r.start {
			floor = i
		}
	}
	if floor == -1 && r.value == nil {
		return ""
	}
	for i := max(floor, 0); i < len(h) && h[i].invoked < r.end; i++ {
		if bytes.Equal(h[i].value, r.value) && (h[i].value == nil) == (r.value == nil) {
			return ""
		}
	}
	want := "absent"
	if floor >= 0 && h[floor].value != nil {
		want = fmt.Sprintf("%q", h[floor].value)
	}
	got := "absent"
	if r.value != nil {
		got = fmt.Sprintf("%q", r.value)
	}
	return fmt.Sprintf("got %s, but the last write acknowledged before the read began wrote %s", got, want)
}

// TestCrashWhileBackgroundWorkRuns crashes the file system (memfs, every
// write synced) at random points while the flusher and the compactor run,
// and checks after each reopen that every acknowledged write is there.
// The dead incarnation's goroutines keep calling the file system by name
// until Close stops them; this is the test that caught them dropping log
// segments on the strength of a manifest the crash had undone (see
// DB.alive).
func TestCrashWhileBackgroundWorkRuns(t *testing.T) {
	iterations := 120
	if testing.Short() {
		iterations = 15
	}
	crashes := 0
	for iter := range iterations {
		r := rand.New(rand.NewPCG(uint64(iter), 1))
		fsys := memfs.New()
		open := func() *DB {
			db, err := Open("/db", tiny(Options{FS: fsys, Sync: true}))
			if err != nil {
				t.Fatalf("iteration %d: open: %v", iter, err)
			}
			return db
		}
		db := open()
		model := map[string][]byte{}
		verify := func(when string) {
			got := map[string][]byte{}
			if err := db.Scan(nil, nil, func(k, v []byte) bool { got[string(k)] = bytes.Clone(v); return true }); err != nil {
				t.Fatalf("iteration %d %s: scan: %v", iter, when, err)
			}
			for k, v := range model {
				if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
					t.Fatalf("iteration %d %s: %s = %q (present %v), want %q", iter, when, k, g, ok, v)
				}
			}
			for k := range got {
				if _, ok := model[k]; !ok {
					t.Fatalf("iteration %d %s: deleted key %s is back", iter, when, k)
				}
			}
		}
		for step := range 300 {
			k := fmt.Sprintf("k%04d", r.IntN(64))
			// About 20 writes between crashes: enough to queue a flush
			// or two and start a compaction, for the crash to interrupt.
			switch op := r.IntN(40); {
			case op < 26:
				v := bytes.Repeat([]byte{byte('a' + step%26)}, r.IntN(65))
				if err := db.Put([]byte(k), v); err != nil {
					t.Fatalf("iteration %d step %d: Put: %v", iter, step, err)
				}
				model[k] = v
			case op < 38:
				if err := db.Delete([]byte(k)); err != nil {
					t.Fatalf("iteration %d step %d: Delete: %v", iter, step, err)
				}
				delete(model, k)
			default:
				fsys.Crash()
				db.Close()
				crashes++
				db = open()
				verify(fmt.Sprintf("step %d, after a crash", step))
			}
		}
		db.Close()
	}
	t.Logf("%d crashes during background work, all recovered", crashes)
}
