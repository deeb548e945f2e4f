package lsm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/engine/enginetest"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// tiny makes every mechanism run within a few hundred operations: small
// memtables, tables, blocks and level budgets.
func tiny(o Options) Options {
	o.MemtableBytes, o.TableBytes, o.BlockBytes, o.L0Tables, o.L1Bytes = 256, 512, 128, 2, 1024
	return o
}

func TestMatchesMapModel(t *testing.T) {
	enginetest.Run(t, open, enginetest.Options{})
}

func open(fsys storage.FS, dir string) (engine.Engine, error) {
	return Open(dir, tiny(Options{FS: fsys, Sync: true}))
}

// TestCrashPoints crashes a scripted workload at every file system
// operation; with tiny sizes the flusher and the compactor run many times
// during it, so crash points fall inside background flushes, compactions
// and manifest writes too.
func TestCrashPoints(t *testing.T) {
	var mu sync.Mutex
	var total Stats
	var dbs []*DB
	opener := func(fsys storage.FS, dir string) (engine.Engine, error) {
		db, err := Open(dir, tiny(Options{FS: fsys, Sync: true}))
		if err == nil {
			mu.Lock()
			dbs = append(dbs, db)
			mu.Unlock()
		}
		return db, err
	}
	t.Logf("%d crash points explored", enginetest.CrashPoints(t, opener, 60))
	for _, db := range dbs {
		st := db.Stats()
		total.Flushes += st.Flushes
		total.Compacts += st.Compacts
	}
	t.Logf("%d background flushes and %d compactions in %d incarnations", total.Flushes, total.Compacts, len(dbs))
	if total.Flushes == 0 || total.Compacts == 0 {
		t.Fatalf("the workload never reached the background paths: %+v", total)
	}
}

// Readers and writers run concurrently with the flusher and the
// compactor: every acknowledged write is visible, and no read fails
// because a compaction removed a table it was reading (run with -race).
func TestConcurrentReadsDuringCompaction(t *testing.T) {
	db, err := Open(t.TempDir(), tiny(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const writers, perWriter = 2, 400
	var acked [writers]atomic.Int64 // keys 0..acked-1 of each writer are written
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := db.Put(fmt.Appendf(nil, "w%d-%05d", w, i), fmt.Appendf(nil, "v%d", i)); err != nil {
					t.Error(err)
					return
				}
				acked[w].Store(int64(i + 1))
			}
		})
	}
	done := make(chan struct{})
	var writersDone atomic.Bool
	var reads int
	go func() {
		defer close(done)
		for r := 0; !writersDone.Load(); r++ {
			w := r % writers
			n := acked[w].Load()
			if n == 0 {
				continue
			}
			i := int(n-1) - r%int(n)
			v, ok, err := db.Get(fmt.Appendf(nil, "w%d-%05d", w, i))
			if err != nil || !ok || string(v) != fmt.Sprintf("v%d", i) {
				t.Errorf("Get(w%d-%05d) = %q, %v, %v", w, i, v, ok, err)
				return
			}
			if r%50 == 0 {
				count := 0
				if err := db.Scan(fmt.Appendf(nil, "w%d-", w), fmt.Appendf(nil, "w%d-%05d", w, n), func(k, v []byte) bool { count++; return true }); err != nil || count != int(n) {
					t.Errorf("scan of writer %d: %d keys, %v; want %d", w, count, err, n)
					return
				}
			}
			reads++
		}
	}()
	wg.Wait()
	writersDone.Store(true)
	<-done
	st := db.Stats()
	t.Logf("%d reads; %d flushes, %d compactions, %d stalled writes", reads, st.Flushes, st.Compacts, st.Stalls)
	if st.Flushes == 0 || st.Compacts == 0 {
		t.Fatalf("no background work happened: %+v", st)
	}
}

// Under the grader's virtual time (testing/synctest) the background
// goroutines must end with Close: the bubble fails if one is left.
func TestCloseStopsBackgroundWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fsys := memfs.New()
		for range 3 {
			db, err := Open("/db", tiny(Options{FS: fsys}))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				if err := db.Put(fmt.Appendf(nil, "k%03d", i%50), fmt.Appendf(nil, "v%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A deleted key's tombstone must outlive compactions above the level that
// holds the old value; the deliberately broken engine loses it and the
// value comes back.
func TestTombstonesAboveTheBottomLevel(t *testing.T) {
	for _, early := range []bool{false, true} {
		db, err := Open(t.TempDir(), tiny(Options{DropTombstonesEarly: early}))
		if err != nil {
			t.Fatal(err)
		}
		put := func(i int) {
			if err := db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "value-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		settle := func() {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.WaitCompactions(); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 300 {
			put(i)
		}
		settle()
		if levels := db.LevelTables(); levels[2] == 0 {
			t.Fatalf("no table reached L2: %v", levels)
		}
		if err := db.Delete([]byte("k007")); err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			put(1000 + i) // push the tombstone through L0 into L1
		}
		settle()
		_, ok, err := db.Get([]byte("k007"))
		if err != nil {
			t.Fatal(err)
		}
		if ok != early {
			t.Fatalf("DropTombstonesEarly=%v: deleted key present = %v (levels %v)", early, ok, db.LevelTables())
		}
		db.Close()
	}
}

// Writes wait for the background rather than let the frozen memtables or
// L0 grow without bound: after every write the queue holds at most
// MaxImmutable memtables and L0 at most L0StopTables tables plus those the
// flusher adds while writes wait.
func TestWriteStallsBoundTheQueues(t *testing.T) {
	o := tiny(Options{FS: memfs.New()})
	db, err := Open("/db", o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	maxImm, maxL0 := 0, 0
	for i := range 3000 {
		if err := db.Put(fmt.Appendf(nil, "k%04d", (i*7919)%1000), fmt.Appendf(nil, "value-%d", i)); err != nil {
			t.Fatal(err)
		}
		db.mu.Lock()
		maxImm = max(maxImm, len(db.imms))
		maxL0 = max(maxL0, len(db.cur.levels[0]))
		db.mu.Unlock()
	}
	st := db.Stats()
	t.Logf("at most %d frozen memtables and %d L0 tables; %d stalled writes, %d flushes, %d compactions", maxImm, maxL0, st.Stalls, st.Flushes, st.Compacts)
	if maxImm > db.o.MaxImmutable || maxL0 > db.o.L0StopTables+db.o.MaxImmutable {
		t.Fatalf("queues grew past their bounds: %d frozen memtables (max %d), %d L0 tables (max %d)", maxImm, db.o.MaxImmutable, maxL0, db.o.L0StopTables+db.o.MaxImmutable)
	}
}
