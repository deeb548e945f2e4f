package enginebench

// The engines side by side with the libraries the lesson compares them
// to, in one run, with the same keys (16 bytes), values (100 bytes) and
// sync setting (no fsync per write, for both sides), and for the LSMs the
// same Bloom filters (10 bits per key):
//
//	go test -run '^$' -bench . -benchtime 2s ./tracks/indexes/enginebench/
//	go test -run '^$' -bench BenchmarkLSM -benchtime 500ms -count 3 ./tracks/indexes/enginebench/
//
// Writes are random puts over a key space of benchKeys (so they overwrite);
// reads are random gets of a store loaded with benchKeys keys; scans read
// the whole loaded store in order (MB/s counts keys and values). The write
// benchmarks also report write amplification (bytes the engine wrote per
// byte of keys and values put, the log included on both sides) and space
// amplification (bytes on disk per byte of the live keys and values: each
// key put at least once, counted once).

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	gbtree "github.com/google/btree"
	bolt "go.etcd.io/bbolt"

	"github.com/distsys-curriculum/distsys/internal/diskbtree"
	"github.com/distsys-curriculum/distsys/internal/lsm"
	"github.com/distsys-curriculum/distsys/internal/memtree"
)

const (
	benchKeys  = 50_000
	benchValue = 100
)

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%012d", i) }

var benchVal = bytes.Repeat([]byte{'v'}, benchValue)

func liveBytes() int64 { return benchKeys * int64(16+benchValue) }

// dirBytes sums the sizes of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func BenchmarkInMemoryBTree(b *testing.B) {
	less := func(a, b int) bool { return a < b }
	keys := rand.Perm(benchKeys)
	// Inserts into a tree that is rebuilt from empty every benchKeys
	// inserts, so both sides work on trees of the same sizes.
	b.Run("ours/insert", func(b *testing.B) {
		var t *memtree.Tree[int]
		for i := 0; b.Loop(); i++ {
			if i%benchKeys == 0 {
				t = memtree.New(32, less)
			}
			t.Set(keys[i%benchKeys])
		}
	})
	b.Run("google/insert", func(b *testing.B) {
		var t *gbtree.BTreeG[int]
		for i := 0; b.Loop(); i++ {
			if i%benchKeys == 0 {
				t = gbtree.NewG(32, less)
			}
			t.ReplaceOrInsert(keys[i%benchKeys])
		}
	})
	ours, theirs := memtree.New(32, less), gbtree.NewG(32, less)
	for _, k := range keys {
		ours.Set(k)
		theirs.ReplaceOrInsert(k)
	}
	b.Run("ours/get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ours.Get(keys[i%benchKeys])
		}
	})
	b.Run("google/get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			theirs.Get(keys[i%benchKeys])
		}
	})
	b.Run("ours/delete-insert", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ours.Delete(keys[i%benchKeys])
			ours.Set(keys[i%benchKeys])
		}
	})
	b.Run("google/delete-insert", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			theirs.Delete(keys[i%benchKeys])
			theirs.ReplaceOrInsert(keys[i%benchKeys])
		}
	})
	b.Run("ours/ascend", func(b *testing.B) {
		for b.Loop() {
			n := 0
			ours.AscendAll(func(int) bool { n++; return true })
		}
	})
	b.Run("google/ascend", func(b *testing.B) {
		for b.Loop() {
			n := 0
			theirs.Ascend(func(int) bool { n++; return true })
		}
	})
}

// kvStore is what the disk benchmarks need of each side.
type kvStore struct {
	put   func(k, v []byte) error
	get   func(k []byte) error
	scan  func(fn func(k, v []byte)) error
	flush func() error
	// written is the bytes the engine has written so far.
	written func() int64
	close   func() error
}

func benchDisk(b *testing.B, open func(dir string) kvStore) {
	r := rand.New(rand.NewPCG(1, 2))
	b.Run("put", func(b *testing.B) {
		dir := b.TempDir()
		s := open(dir)
		defer s.close()
		var user int64
		distinct := map[int]bool{}
		for b.Loop() {
			i := r.IntN(benchKeys)
			k := benchKey(i)
			if err := s.put(k, benchVal); err != nil {
				b.Fatal(err)
			}
			user += int64(len(k) + len(benchVal))
			distinct[i] = true
		}
		b.StopTimer()
		if err := s.flush(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(s.written())/float64(user), "write-amp")
		live := int64(len(distinct)) * int64(16+benchValue)
		b.ReportMetric(float64(dirBytes(dir))/float64(live), "space-amp")
	})
	dir := b.TempDir()
	s := open(dir)
	defer s.close()
	for i := range benchKeys {
		if err := s.put(benchKey(i), benchVal); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.flush(); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if err := s.get(benchKey(r.IntN(benchKeys))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(liveBytes())
		for b.Loop() {
			n := 0
			if err := s.scan(func(k, v []byte) { n++ }); err != nil || n != benchKeys {
				b.Fatalf("scan: %d keys, %v", n, err)
			}
		}
	})
}

func BenchmarkDiskBTree(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		benchDisk(b, func(dir string) kvStore {
			db, err := diskbtree.Open(dir, diskbtree.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return kvStore{put: db.Put,
				get: func(k []byte) error { _, _, err := db.Get(k); return err },
				scan: func(fn func(k, v []byte)) error {
					return db.Scan(nil, nil, func(k, v []byte) bool { fn(k, v); return true })
				},
				flush:   func() error { return nil },
				written: func() int64 { return db.Stats().PagesWritten * 4096 },
				close:   db.Close}
		})
	})
	b.Run("bbolt", func(b *testing.B) {
		benchDisk(b, func(dir string) kvStore {
			db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o644, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			bucket := []byte("b")
			db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err })
			return kvStore{
				put: func(k, v []byte) error {
					return db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(k, v) })
				},
				get: func(k []byte) error {
					return db.View(func(tx *bolt.Tx) error { tx.Bucket(bucket).Get(k); return nil })
				},
				scan: func(fn func(k, v []byte)) error {
					return db.View(func(tx *bolt.Tx) error {
						return tx.Bucket(bucket).ForEach(func(k, v []byte) error { fn(k, v); return nil })
					})
				},
				flush: func() error { return nil },
				written: func() int64 {
					st := db.Stats().TxStats
					return st.GetWrite() * int64(db.Info().PageSize)
				},
				close: db.Close}
		})
	})
}

func BenchmarkLSM(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		benchDisk(b, func(dir string) kvStore {
			db, err := lsm.Open(dir, lsm.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return kvStore{put: db.Put,
				get: func(k []byte) error { _, _, err := db.Get(k); return err },
				scan: func(fn func(k, v []byte)) error {
					return db.Scan(nil, nil, func(k, v []byte) bool { fn(k, v); return true })
				},
				flush: db.Flush,
				written: func() int64 {
					st := db.Stats()
					return st.LogBytes + st.TableBytes
				},
				close: db.Close}
		})
	})
	b.Run("pebble", func(b *testing.B) {
		benchDisk(b, func(dir string) kvStore {
			// The same Bloom filters as ours (10 bits per key) on every
			// level; pebble's default has none.
			o := &pebble.Options{Logger: quietLogger{}}
			o.Levels = make([]pebble.LevelOptions, 7)
			for i := range o.Levels {
				o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
			}
			db, err := pebble.Open(dir, o)
			if err != nil {
				b.Fatal(err)
			}
			return kvStore{
				put: func(k, v []byte) error { return db.Set(k, v, pebble.NoSync) },
				get: func(k []byte) error {
					_, c, err := db.Get(k)
					if err == nil {
						c.Close()
					}
					return err
				},
				scan: func(fn func(k, v []byte)) error {
					it, err := db.NewIter(nil)
					if err != nil {
						return err
					}
					for it.First(); it.Valid(); it.Next() {
						fn(it.Key(), it.Value())
					}
					return it.Close()
				},
				flush: db.Flush,
				written: func() int64 {
					// The log counts on both sides.
					m := db.Metrics()
					t := m.Total()
					return int64(m.WAL.BytesWritten + t.BytesFlushed + t.BytesCompacted)
				},
				close: db.Close}
		})
	})
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
