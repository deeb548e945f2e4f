// Package lsm is a log-structured merge tree: writes go to a write-ahead
// log and an in-memory sorted memtable (internal/memtree); a full memtable
// is flushed to an immutable sorted file, an SSTable, with a block index
// and a Bloom filter; SSTables are merged by leveled compaction.
//
// Levels: L0 holds flushed tables, which may overlap (newest wins); each
// deeper level holds non-overlapping tables and may grow to a budget ten
// times the level above. Reads look at the memtable, the frozen memtables
// waiting for a flush, then L0 newest first, then one table per deeper
// level. Deletes write tombstones, which compaction may drop only where no
// deeper level can hold an older value of the key;
// Options.DropTombstonesEarly breaks that rule on purpose, for the track's
// counter-example.
//
// Files in the directory given to Open: NNNNNN.sst tables, wal/ the
// memtable's write-ahead log (internal/wal), MANIFEST (JSON: the tables of
// each level and the last log record already in a table), replaced
// atomically after each flush and compaction, and LOCK, held open so that
// background work can tell when a simulated crash ended its incarnation.
//
// Flushes and compactions run in two background goroutines (see DB);
// reads hold a reference-counted version, the set of tables they read.
package lsm

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/memtree"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/wal"
)

// Options configure a tree. Zero values take the defaults shown.
type Options struct {
	FS   storage.FS // storage.OS
	Sync bool       // fsync the log on every write
	// MemtableBytes: size at which the memtable is frozen and queued for
	// a flush (4 MiB).
	MemtableBytes int
	// MaxImmutable: frozen memtables waiting for a flush before writes
	// stall (2).
	MaxImmutable int
	// TableBytes: target size of a compaction output table (2 MiB).
	TableBytes int
	// BlockBytes: data block size (4 KiB).
	BlockBytes int
	// L0Tables: L0 table count that triggers an L0 compaction (4).
	L0Tables int
	// L0StopTables: L0 table count at which writes stall until a
	// compaction catches up (3 × L0Tables).
	L0StopTables int
	// L1Bytes: budget of L1; each deeper level gets ten times more (10 MiB).
	L1Bytes int64
	// BloomBitsPerKey (10).
	BloomBitsPerKey int
	// CacheBytes: block cache (8 MiB).
	CacheBytes int
	// DropTombstonesEarly is a deliberate bug: compaction drops
	// tombstones at every level, so an older value below comes back.
	DropTombstonesEarly bool
}

const numLevels = 7

type entry struct {
	key   []byte
	value []byte
	tomb  bool
}

func lessEntry(a, b entry) bool { return bytes.Compare(a.key, b.key) < 0 }

// memtable is the sorted in-memory table. The active one takes writes
// under DB.mu; a frozen one is immutable and read without a lock.
type memtable struct {
	tree *memtree.Tree[entry]
	size int
	last uint64 // last log index it holds, set when frozen
	slab []byte // keys and values are carved from here: no allocation per put
}

func newMemtable() *memtable { return &memtable{tree: memtree.New(32, lessEntry)} }

// copyIn copies b into the memtable's slab.
func (m *memtable) copyIn(b []byte) []byte {
	if len(b) > 4<<10 {
		return bytes.Clone(b)
	}
	if cap(m.slab)-len(m.slab) < len(b) {
		m.slab = make([]byte, 0, 64<<10)
	}
	n := len(m.slab)
	m.slab = append(m.slab, b...)
	return m.slab[n:len(m.slab):len(m.slab)]
}

func (m *memtable) apply(key, value []byte, tomb bool) {
	e := entry{key: m.copyIn(key), tomb: tomb}
	if !tomb {
		e.value = m.copyIn(value)
	}
	if old, ok := m.tree.Set(e); ok {
		m.size -= len(old.key) + len(old.value)
	}
	m.size += len(key) + len(value)
}

// version is one immutable set of tables per level. Readers and
// compactions hold a reference to the version they read; a table goes
// (closed, and its file removed once a compaction replaced it) when the
// last version naming it is released, so no read ever finds its file gone.
type version struct {
	levels [numLevels][]*table // L0 oldest first; deeper levels by key
	refs   atomic.Int32
}

func newVersion(levels [numLevels][]*table) *version {
	v := &version{levels: levels}
	v.refs.Store(1)
	for l := range levels {
		for _, t := range levels[l] {
			t.refs.Add(1)
		}
	}
	return v
}

func (v *version) ref() { v.refs.Add(1) }

func (v *version) unref() {
	if v.refs.Add(-1) == 0 {
		for l := range v.levels {
			for _, t := range v.levels[l] {
				t.unref()
			}
		}
	}
}

// DB is an LSM tree. It is safe for concurrent use.
//
// Two background goroutines do the slow work: the flusher writes frozen
// memtables to L0 tables, the compactor merges levels. A write only
// appends to the log and the memtable; it waits (a write stall) only when
// MaxImmutable memtables are queued or L0 holds L0StopTables tables, so
// that neither queue grows without bound.
type DB struct {
	o   Options
	fs  storage.FS
	dir string
	log *wal.Log
	// lock is a file held open while the tree is: a background goroutine
	// checks it before touching a file by name, so that an incarnation a
	// crash ended stops instead of writing into the next one's directory.
	lock   storage.File
	cache  *blockCache
	nextID atomic.Uint64

	mu      sync.Mutex
	cond    *sync.Cond // any change to the fields below
	mem     *memtable
	imms    []*memtable // frozen, oldest first; replaced, never changed in place
	cur     *version
	bgErr   error // sticky: a failed flush or compaction stops writes
	closed  bool
	stats   Stats
	recBuf  []byte
	pointer [numLevels][]byte // compaction pointer per level (LevelDB's rotation)

	// installMu serialises version changes and manifest writes, which
	// both goroutines make, without holding mu across file writes.
	installMu sync.Mutex
	flushed   uint64 // log records up to this index are in tables

	wg sync.WaitGroup
}

// Stats counts bytes for amplification figures.
type Stats struct {
	UserBytes  int64 // keys and values handed to Put and Delete
	LogBytes   int64 // written to the write-ahead log
	TableBytes int64 // written to SSTables by flushes and compactions
	Flushes    int
	Compacts   int
	Stalls     int // writes that waited for the background
}

var _ engine.Engine = (*DB)(nil)

type manifest struct {
	NextID  uint64     `json:"next_id"`
	Flushed uint64     `json:"flushed"`
	Levels  [][]uint64 `json:"levels"`
}

// Open opens or creates the tree in dir and starts its background work;
// Close stops it.
func Open(dir string, o Options) (*DB, error) {
	if o.FS == nil {
		o.FS = storage.OS
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MemtableBytes, 4<<20)
	def(&o.MaxImmutable, 2)
	def(&o.TableBytes, 2<<20)
	def(&o.BlockBytes, 4<<10)
	def(&o.L0Tables, 4)
	def(&o.L0StopTables, 3*o.L0Tables)
	def(&o.BloomBitsPerKey, 10)
	def(&o.CacheBytes, 8<<20)
	if o.L1Bytes <= 0 {
		o.L1Bytes = 10 << 20
	}
	if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := &DB{o: o, fs: o.FS, dir: dir, mem: newMemtable(), cache: newBlockCache(o.CacheBytes)}
	db.cond = sync.NewCond(&db.mu)
	if err := db.load(); err != nil {
		db.closeFiles()
		return nil, err
	}
	db.wg.Add(2)
	go db.flusher()
	go db.compactor()
	return db, nil
}

func (db *DB) path(id uint64, ext string) string {
	return filepath.Join(db.dir, fmt.Sprintf("%06d.%s", id, ext))
}

func (db *DB) load() error {
	var err error
	if db.lock, err = db.fs.OpenFile(filepath.Join(db.dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return err
	}
	var m manifest
	b, err := storage.ReadFile(db.fs, filepath.Join(db.dir, "MANIFEST"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m = manifest{NextID: 1}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%w: %s: %v", engine.ErrCorrupt, filepath.Join(db.dir, "MANIFEST"), err)
		}
	}
	live := map[uint64]bool{}
	var levels [numLevels][]*table
	defer func() {
		// The version takes its own references; on failure this closes
		// what was opened.
		for l := range levels {
			for _, t := range levels[l] {
				t.unref()
			}
		}
	}()
	for l, ids := range m.Levels {
		if l >= numLevels {
			return fmt.Errorf("%w: MANIFEST has %d levels", engine.ErrCorrupt, len(m.Levels))
		}
		for _, id := range ids {
			t, err := db.openTable(id)
			if err != nil {
				return err
			}
			live[id] = true
			levels[l] = append(levels[l], t)
		}
	}
	db.cur = newVersion(levels)
	db.nextID.Store(m.NextID)
	db.flushed = m.Flushed
	// Tables a crash left behind before the manifest named them.
	entries, err := db.fs.ReadDir(db.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		base, ext, _ := strings.Cut(e.Name(), ".")
		id, err := strconv.ParseUint(base, 10, 64)
		if err == nil && ext == "sst" && !live[id] {
			if err := db.fs.Remove(filepath.Join(db.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	policy := wal.SyncNone
	if db.o.Sync {
		policy = wal.SyncEvery
	}
	// Without Sync a write promises nothing until the next flush, so the
	// log buffers appends (64 KiB) instead of a write call per put. The
	// flusher starts a new segment after each flush; the size limit is a
	// backstop.
	if db.log, err = wal.Open(db.fs, filepath.Join(db.dir, "wal"), wal.Options{Sync: policy, SegmentSize: 4 * int64(db.o.MemtableBytes), Buffer: 64 << 10}); err != nil {
		return err
	}
	// The records after the last flush are the memtable.
	if err := db.log.Iterate(db.flushed+1, func(_ uint64, rec []byte) error { return db.replay(rec) }); err != nil {
		return err
	}
	if db.mem.size >= db.o.MemtableBytes {
		db.freeze()
	}
	return db.fs.SyncDir(db.dir)
}

func (db *DB) openTable(id uint64) (*table, error) {
	t, err := openTable(db.fs, db.path(id, "sst"), id, db.cache)
	if err == nil {
		t.db = db
	}
	return t, err
}

func (db *DB) replay(rec []byte) error {
	if len(rec) < 1 {
		return fmt.Errorf("%w: empty log record", engine.ErrCorrupt)
	}
	kl, n := binary.Uvarint(rec[1:])
	if n <= 0 || uint64(len(rec)-1-n) < kl {
		return fmt.Errorf("%w: bad log record", engine.ErrCorrupt)
	}
	key := rec[1+n : 1+n+int(kl)]
	db.mem.apply(key, rec[1+n+int(kl):], rec[0] == 1)
	return nil
}

// alive reports an error once the files this tree opened stopped working
// (its process "lost power" in a simulated crash).
//
// A simulated crash does not stop this incarnation's goroutines: until
// Close returns, the flusher and the compactor may still call the file
// system by name, and those calls work on what the crash left, since they
// go through no file of the dead incarnation. So a check before an
// operation proves nothing (the crash may fall between the two), and a
// directory sync that returns nil may have synced the state after the
// crash, not the rename or removal made before it. The invariant: every
// step that relies on an earlier step being durable (publishing a
// version, dropping log segments, removing obsolete tables) runs only
// after alive succeeded following that earlier step's sync. The crash is
// a single instant, so alive succeeding after a sync proves the sync came
// before it. Breaking this once lost data: a flush's manifest rename was
// undone by the crash, the directory sync after it synced the crashed
// state and returned nil, and the flush went on to drop the log segments
// holding the memtable it had "saved"; the next incarnation read the old
// manifest and no log for those writes, and served older values.
// (memfs.Incarnation now fails every call of a crashed run, as a real kill
// would; the rule stays, since a disk given to Open need not be so strict.)
func (db *DB) alive() error {
	_, err := db.lock.Stat()
	return err
}

// syncDir makes the directory's entries durable and proves, by alive
// afterwards, that the sync ran before any crash.
func (db *DB) syncDir() error {
	if err := db.fs.SyncDir(db.dir); err != nil {
		return err
	}
	return db.alive()
}

// Put sets key to value.
func (db *DB) Put(key, value []byte) error { return db.write(key, value, false) }

// Delete removes key (by writing a tombstone).
func (db *DB) Delete(key []byte) error { return db.write(key, nil, true) }

func (db *DB) stalled() bool {
	return len(db.imms) >= db.o.MaxImmutable || len(db.cur.levels[0]) >= db.o.L0StopTables
}

func (db *DB) write(key, value []byte, tomb bool) error {
	if len(key) == 0 {
		return errors.New("lsm: empty key")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.closed && db.bgErr == nil && db.stalled() {
		db.stats.Stalls++
		for !db.closed && db.bgErr == nil && db.stalled() {
			db.cond.Wait()
		}
	}
	if db.closed {
		return engine.ErrClosed
	}
	if db.bgErr != nil {
		return db.bgErr
	}
	rec := db.recBuf[:0]
	if tomb {
		rec = append(rec, 1)
	} else {
		rec = append(rec, 0)
	}
	rec = binary.AppendUvarint(rec, uint64(len(key)))
	rec = append(rec, key...)
	rec = append(rec, value...)
	db.recBuf = rec
	if _, err := db.log.Append(rec); err != nil {
		return err
	}
	db.stats.LogBytes += int64(len(rec)) + 8
	db.stats.UserBytes += int64(len(key) + len(value))
	db.mem.apply(key, value, tomb)
	if db.mem.size >= db.o.MemtableBytes {
		db.freeze()
	}
	return nil
}

// freeze queues the memtable for the flusher and starts a new one; with
// db.mu held.
func (db *DB) freeze() {
	db.mem.last = db.log.LastIndex()
	db.imms = append(slices.Clip(db.imms), db.mem)
	db.mem = newMemtable()
	db.cond.Broadcast()
}

// Get returns key's value.
func (db *DB) Get(key []byte) ([]byte, bool, error) {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, false, engine.ErrClosed
	}
	e, ok := db.mem.tree.Get(entry{key: key})
	if !ok {
		for i := len(db.imms) - 1; i >= 0 && !ok; i-- {
			e, ok = db.imms[i].tree.Get(entry{key: key})
		}
	}
	if ok {
		db.mu.Unlock()
		if e.tomb {
			return nil, false, nil
		}
		return bytes.Clone(e.value), true, nil
	}
	v := db.cur
	v.ref()
	db.mu.Unlock()
	defer v.unref()
	for i := len(v.levels[0]) - 1; i >= 0; i-- {
		val, tomb, found, err := v.levels[0][i].get(key)
		if err != nil || found {
			return bytes.Clone(val), found && !tomb && err == nil, err
		}
	}
	for l := 1; l < numLevels; l++ {
		t := findTable(v.levels[l], key)
		if t == nil {
			continue
		}
		val, tomb, found, err := t.get(key)
		if err != nil || found {
			return bytes.Clone(val), found && !tomb && err == nil, err
		}
	}
	return nil, false, nil
}

// findTable returns the table of a sorted level whose range holds key.
func findTable(level []*table, key []byte) *table {
	i := sort.Search(len(level), func(i int) bool { return bytes.Compare(level[i].large, key) >= 0 })
	if i < len(level) && bytes.Compare(level[i].smallest, key) <= 0 {
		return level[i]
	}
	return nil
}

// fail records a background error: writes and Flush return it from now on.
func (db *DB) fail(err error) {
	db.mu.Lock()
	if db.bgErr == nil {
		db.bgErr = err
	}
	db.cond.Broadcast()
	db.mu.Unlock()
}

// flusher writes the oldest frozen memtable to an L0 table until Close.
// A memtable still queued at Close stays in the log, replayed by Open.
func (db *DB) flusher() {
	defer db.wg.Done()
	for {
		db.mu.Lock()
		for !db.closed && db.bgErr == nil && len(db.imms) == 0 {
			db.cond.Wait()
		}
		if db.closed || db.bgErr != nil {
			db.mu.Unlock()
			return
		}
		imm := db.imms[0]
		db.mu.Unlock()
		if err := db.flush(imm); err != nil {
			db.fail(err)
			return
		}
	}
}

// flush writes imm to a new L0 table, records it in the manifest with
// the last log record it holds, and drops the log segments before that.
func (db *DB) flush(imm *memtable) error {
	entries := make([]entry, 0, imm.tree.Len())
	imm.tree.AscendAll(func(e entry) bool { entries = append(entries, e); return true })
	var out []*table
	if len(entries) > 0 {
		var err error
		if out, err = db.writeTables(&sliceIter{es: entries}, nil, 0, 0); err != nil {
			return err
		}
	}
	err := db.install(func(levels *[numLevels][]*table) {
		levels[0] = append(slices.Clip(levels[0]), out...)
		db.flushed = imm.last
	}, nil, func() {
		db.imms = db.imms[1:]
		db.stats.Flushes++
	})
	if err != nil {
		return err
	}
	// Start a new log segment, so that a later flush can drop this one.
	// Rolling seals (fsyncs) the segment; fsyncing first, with appends
	// going on, leaves the roll itself little to wait for under the log's
	// lock.
	if err := db.log.Sync(); err != nil {
		return err
	}
	if err := db.log.Roll(); err != nil {
		return err
	}
	return db.log.TruncateFront(imm.last + 1)
}

// install makes a new version from the current one changed by edit,
// saves it in the manifest, then publishes it (and calls publish with
// db.mu held). The tables in gone are removed once no reader holds them.
func (db *DB) install(edit func(*[numLevels][]*table), gone []*table, publish func()) error {
	db.installMu.Lock()
	defer db.installMu.Unlock()
	db.mu.Lock()
	levels := db.cur.levels // only installers change cur, and we hold installMu
	db.mu.Unlock()
	edit(&levels)
	if err := db.alive(); err != nil {
		return err
	}
	if err := db.saveManifest(levels); err != nil {
		return err
	}
	// Only a manifest saved before any crash may be relied on (see
	// alive): the flush drops log segments and the tables in gone are
	// removed on the strength of it.
	if err := db.alive(); err != nil {
		return err
	}
	nv := newVersion(levels)
	for _, t := range gone {
		t.obsolete.Store(true)
	}
	db.mu.Lock()
	old := db.cur
	db.cur = nv
	publish()
	db.cond.Broadcast()
	db.mu.Unlock()
	old.unref()
	return nil
}

func (db *DB) saveManifest(levels [numLevels][]*table) error {
	m := manifest{NextID: db.nextID.Load(), Flushed: db.flushed, Levels: make([][]uint64, numLevels)}
	for l := range levels {
		m.Levels[l] = []uint64{}
		for _, t := range levels[l] {
			m.Levels[l] = append(m.Levels[l], t.id)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return storage.WriteFileAtomic(db.fs, filepath.Join(db.dir, "MANIFEST"), b, 0o644)
}

func levelBytes(level []*table) int64 {
	var n int64
	for _, t := range level {
		n += int64(t.size)
	}
	return n
}

func (db *DB) budget(l int) int64 {
	b := db.o.L1Bytes
	for range l - 1 {
		b *= 10
	}
	return b
}

// pick chooses the next compaction of v, with db.mu held: all of L0 once
// it holds L0Tables tables (they overlap each other; an older L0 table
// left behind would shadow, since reads look at L0 before L1, the newer
// value the compaction moved to L1), else one table of
// the first level over its budget, taken after the level's compaction
// pointer so that successive compactions sweep the key space.
func (db *DB) pick(v *version, advance bool) (int, []*table) {
	if len(v.levels[0]) >= db.o.L0Tables {
		return 0, slices.Clone(v.levels[0])
	}
	for l := 1; l < numLevels-1; l++ {
		if levelBytes(v.levels[l]) > db.budget(l) {
			lv := v.levels[l]
			i := sort.Search(len(lv), func(i int) bool { return bytes.Compare(lv[i].smallest, db.pointer[l]) > 0 })
			if i == len(lv) {
				i = 0
			}
			if advance {
				db.pointer[l] = lv[i].large
			}
			return l, []*table{lv[i]}
		}
	}
	return 0, nil
}

// compactor runs compactions while a level is over its trigger, until
// Close.
func (db *DB) compactor() {
	defer db.wg.Done()
	for {
		db.mu.Lock()
		var l int
		var in []*table
		for !db.closed && db.bgErr == nil {
			if l, in = db.pick(db.cur, true); in != nil {
				break
			}
			db.cond.Wait()
		}
		if db.closed || db.bgErr != nil {
			db.mu.Unlock()
			return
		}
		v := db.cur
		v.ref()
		db.mu.Unlock()
		err := db.compact(v, l, in)
		v.unref()
		if err != nil {
			db.fail(err)
			return
		}
	}
}

// compact merges the tables in (from level l of v) with the tables of
// level l+1 they overlap, into new tables of level l+1. Only the
// compactor changes levels below L0, and the flusher only appends to L0,
// so v's deeper levels are still current when the result is installed.
func (db *DB) compact(v *version, l int, in []*table) error {
	lo, hi := in[0].smallest, in[0].large
	for _, t := range in {
		if bytes.Compare(t.smallest, lo) < 0 {
			lo = t.smallest
		}
		if bytes.Compare(t.large, hi) > 0 {
			hi = t.large
		}
	}
	var below []*table
	for _, t := range v.levels[l+1] {
		if bytes.Compare(t.large, lo) >= 0 && bytes.Compare(t.smallest, hi) <= 0 {
			below = append(below, t)
		}
	}
	// Sources newest first: within L0 the newest table is last.
	var srcs []iterator
	for i := len(in) - 1; i >= 0; i-- {
		it := in[i].iter()
		it.nocache = true
		srcs = append(srcs, it)
	}
	if len(below) > 0 {
		srcs = append(srcs, &levelIter{tables: below, nocache: true})
	}
	mi := newMergeIter(srcs, nil, true)
	out, err := db.writeTables(mi, v, l+1, db.o.TableBytes)
	if err != nil {
		return err
	}
	gone := map[*table]bool{}
	for _, t := range in {
		gone[t] = true
	}
	for _, t := range below {
		gone[t] = true
	}
	return db.install(func(levels *[numLevels][]*table) {
		levels[l] = slices.DeleteFunc(slices.Clone(levels[l]), func(t *table) bool { return gone[t] })
		next := slices.DeleteFunc(slices.Clone(levels[l+1]), func(t *table) bool { return gone[t] })
		next = append(next, out...)
		slices.SortFunc(next, func(a, b *table) int { return bytes.Compare(a.smallest, b.smallest) })
		levels[l+1] = next
	}, append(slices.Clone(in), below...), func() { db.stats.Compacts++ })
}

// deeperHolds reports whether a level of v below out may hold key.
func deeperHolds(v *version, out int, key []byte) bool {
	for l := out + 1; l < numLevels; l++ {
		if findTable(v.levels[l], key) != nil {
			return true
		}
	}
	return false
}

// writeTables writes the entries of it to new tables of level out, cut at
// target bytes (0: one table). In a compaction (v not nil), a tombstone is
// dropped when no deeper level of v can hold the key it deletes. The new
// tables come back with one reference, which the version they join takes
// over.
func (db *DB) writeTables(it iterator, v *version, out int, target int) ([]*table, error) {
	var tables []*table
	var w *tableWriter
	var f storage.File
	var id uint64
	var written int64
	finish := func() error {
		if w == nil {
			return nil
		}
		n, err := w.finish(db.o.BloomBitsPerKey)
		if err == nil {
			written += int64(n)
			var t *table
			t, err = readTable(f, db.path(id, "sst"), id, db.cache)
			if err == nil {
				t.db = db
				tables = append(tables, t)
			}
		}
		if err != nil {
			f.Close()
		}
		w = nil
		return err
	}
	fail := func(err error) ([]*table, error) {
		for _, t := range tables {
			t.close()
			_ = db.fs.Remove(t.name)
		}
		return nil, err
	}
	for it.seek(nil); it.valid(); it.next() {
		k, val, tomb := it.entry()
		if tomb && v != nil && (db.o.DropTombstonesEarly || !deeperHolds(v, out, k)) {
			continue
		}
		if w == nil {
			if err := db.alive(); err != nil {
				return fail(err)
			}
			id = db.nextID.Add(1) - 1
			var err error
			f, err = db.fs.OpenFile(db.path(id, "sst"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return fail(err)
			}
			w = newTableWriter(f, db.o.BlockBytes)
		}
		if err := w.add(k, val, tomb); err != nil {
			f.Close()
			return fail(err)
		}
		if target > 0 && w.size() >= uint64(target) {
			if err := finish(); err != nil {
				return fail(err)
			}
		}
	}
	if err := it.error(); err != nil {
		if w != nil {
			f.Close()
		}
		return fail(err)
	}
	if err := finish(); err != nil {
		return fail(err)
	}
	// A manifest may name these tables only if their names are durable.
	if err := db.syncDir(); err != nil {
		return fail(err)
	}
	db.mu.Lock()
	db.stats.TableBytes += written
	db.mu.Unlock()
	// The version that takes these tables adds its own references.
	for _, t := range tables {
		t.refs.Add(-1)
	}
	return tables, nil
}

// Scan calls fn for the live keys in [start, end), merging the memtables
// and every level. Tables are those of the version current when the scan
// starts; the active memtable is read as it is at each step.
func (db *DB) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return engine.ErrClosed
	}
	srcs := []iterator{&memIter{tree: db.mem.tree, mu: &db.mu}}
	for i := len(db.imms) - 1; i >= 0; i-- {
		srcs = append(srcs, &memIter{tree: db.imms[i].tree})
	}
	v := db.cur
	v.ref()
	db.mu.Unlock()
	defer v.unref()
	for i := len(v.levels[0]) - 1; i >= 0; i-- {
		srcs = append(srcs, v.levels[0][i].iter())
	}
	for l := 1; l < numLevels; l++ {
		if len(v.levels[l]) > 0 {
			srcs = append(srcs, &levelIter{tables: v.levels[l]})
		}
	}
	it := newMergeIter(srcs, end, false)
	for it.seek(start); it.valid(); it.next() {
		k, val, _ := it.entry()
		if !fn(k, val) {
			break
		}
	}
	return it.error()
}

// Stats returns byte counts for amplification figures.
func (db *DB) Stats() Stats {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.stats
}

// DiskBytes is the size of the live tables and log.
func (db *DB) DiskBytes() int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	var n int64
	for _, s := range db.log.Segments() {
		n += s.Size
	}
	for l := range db.cur.levels {
		n += levelBytes(db.cur.levels[l])
	}
	return n
}

// LevelTables is the number of tables per level.
func (db *DB) LevelTables() []int {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]int, numLevels)
	for l := range db.cur.levels {
		out[l] = len(db.cur.levels[l])
	}
	return out
}

// Flush writes the memtable out now and waits until every frozen
// memtable is in a table.
func (db *DB) Flush() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mem.tree.Len() > 0 && !db.closed {
		db.freeze()
	}
	for !db.closed && db.bgErr == nil && len(db.imms) > 0 {
		db.cond.Wait()
	}
	if db.closed {
		return engine.ErrClosed
	}
	return db.bgErr
}

// WaitCompactions waits until no level is over its compaction trigger.
func (db *DB) WaitCompactions() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for !db.closed && db.bgErr == nil {
		if _, in := db.pick(db.cur, false); in == nil {
			break
		}
		db.cond.Wait()
	}
	return db.bgErr
}

// Close stops the background work (a flush or compaction under way
// finishes first), writes out the log's buffer and closes every file.
// Frozen memtables not yet flushed stay in the log, replayed by the next
// Open. Close does not fsync: with Sync every write already was, and
// without it nothing was promised beyond the page cache.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.cond.Broadcast()
	db.mu.Unlock()
	db.wg.Wait()
	return db.closeFiles()
}

func (db *DB) closeFiles() error {
	var err error
	if db.log != nil {
		err = db.log.Close()
	}
	if db.cur != nil {
		db.cur.unref()
	}
	if db.lock != nil {
		db.lock.Close()
	}
	return err
}

// iterator is the common shape of the memtable, table, level and merging
// iterators.
type iterator interface {
	seek(key []byte)
	valid() bool
	next()
	entry() (key, value []byte, tomb bool)
	error() error
}

func (it *tableIter) entry() ([]byte, []byte, bool) { return it.key, it.value, it.tomb }
func (it *tableIter) error() error                  { return it.err }

// sliceIter walks a sorted slice of entries (a frozen memtable).
type sliceIter struct {
	es []entry
	i  int
}

func (s *sliceIter) seek(key []byte) {
	s.i = sort.Search(len(s.es), func(i int) bool { return bytes.Compare(s.es[i].key, key) >= 0 })
}
func (s *sliceIter) valid() bool { return s.i < len(s.es) }
func (s *sliceIter) next()       { s.i++ }
func (s *sliceIter) entry() ([]byte, []byte, bool) {
	e := s.es[s.i]
	return e.key, e.value, e.tomb
}
func (s *sliceIter) error() error { return nil }

// memIter walks the memtable in chunks, so that a scan with a small limit
// does not copy the whole tree.
type memIter struct {
	tree *memtree.Tree[entry]
	mu   *sync.Mutex // held while reading the active memtable; nil for a frozen one
	buf  []entry
	i    int
	done bool
}

func (m *memIter) fill(from []byte, inclusive bool) {
	m.buf, m.i = m.buf[:0], 0
	if m.mu != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	m.tree.Ascend(entry{key: from}, from == nil, func(e entry) bool {
		if !inclusive && bytes.Equal(e.key, from) {
			return true
		}
		m.buf = append(m.buf, e)
		return len(m.buf) < 64
	})
	m.done = len(m.buf) < 64
}

func (m *memIter) seek(key []byte) { m.fill(key, true) }
func (m *memIter) valid() bool     { return m.i < len(m.buf) }
func (m *memIter) next() {
	m.i++
	if m.i == len(m.buf) && !m.done {
		m.fill(m.buf[len(m.buf)-1].key, false)
	}
}
func (m *memIter) entry() ([]byte, []byte, bool) {
	e := m.buf[m.i]
	return e.key, e.value, e.tomb
}
func (m *memIter) error() error { return nil }

// levelIter walks the non-overlapping, sorted tables of one level.
type levelIter struct {
	tables  []*table
	nocache bool // a compaction's reads do not evict the readers' blocks
	ti      int
	cur     *tableIter
}

func (l *levelIter) seek(key []byte) {
	l.ti = sort.Search(len(l.tables), func(i int) bool { return bytes.Compare(l.tables[i].large, key) >= 0 })
	l.open(key)
}

func (l *levelIter) open(key []byte) {
	for l.ti < len(l.tables) {
		l.cur = l.tables[l.ti].iter()
		l.cur.nocache = l.nocache
		l.cur.seek(key)
		if l.cur.valid() || l.cur.err != nil {
			return
		}
		l.ti++
	}
	l.cur = nil
}

func (l *levelIter) valid() bool { return l.cur != nil && l.cur.valid() }
func (l *levelIter) next() {
	l.cur.next()
	if !l.cur.valid() && l.cur.err == nil {
		l.ti++
		l.open(nil)
	}
}
func (l *levelIter) entry() ([]byte, []byte, bool) { return l.cur.entry() }
func (l *levelIter) error() error {
	if l.cur != nil {
		return l.cur.err
	}
	return nil
}

// mergeIter merges sources given newest first: for a key present in
// several, the newest wins and the others are skipped. Unless it keeps
// tombstones (for compaction), deleted keys are skipped too.
type mergeIter struct {
	srcs  []iterator
	h     mergeHeap
	end   []byte
	keep  bool
	err   error
	key   []byte
	value []byte
	tomb  bool
	ok    bool
}

func newMergeIter(srcs []iterator, end []byte, keepTombstones bool) *mergeIter {
	return &mergeIter{srcs: srcs, end: end, keep: keepTombstones}
}

type mergeHeap struct {
	items []int // source indexes
	srcs  []iterator
}

func (h mergeHeap) Len() int { return len(h.items) }
func (h mergeHeap) Less(i, j int) bool {
	ki, _, _ := h.srcs[h.items[i]].entry()
	kj, _, _ := h.srcs[h.items[j]].entry()
	if c := bytes.Compare(ki, kj); c != 0 {
		return c < 0
	}
	return h.items[i] < h.items[j]
}
func (h mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)   { h.items = append(h.items, x.(int)) }
func (h *mergeHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

func (m *mergeIter) seek(key []byte) {
	m.h = mergeHeap{srcs: m.srcs}
	for i, s := range m.srcs {
		s.seek(key)
		if err := s.error(); err != nil {
			m.err, m.ok = err, false
			return
		}
		if s.valid() {
			m.h.items = append(m.h.items, i)
		}
	}
	heap.Init(&m.h)
	m.advance()
}

func (m *mergeIter) advance() {
	for {
		if m.err != nil || m.h.Len() == 0 {
			m.ok = false
			return
		}
		top := m.srcs[m.h.items[0]]
		k, v, tomb := top.entry()
		if m.end != nil && bytes.Compare(k, m.end) >= 0 {
			m.ok = false
			return
		}
		m.key = append(m.key[:0], k...)
		m.value, m.tomb = append(m.value[:0], v...), tomb
		// Step every source past this key; the newest copy is kept.
		for m.h.Len() > 0 {
			s := m.srcs[m.h.items[0]]
			if k2, _, _ := s.entry(); !bytes.Equal(k2, m.key) {
				break
			}
			s.next()
			if err := s.error(); err != nil {
				m.err, m.ok = err, false
				return
			}
			if s.valid() {
				heap.Fix(&m.h, 0)
			} else {
				heap.Pop(&m.h)
			}
		}
		if m.tomb && !m.keep {
			continue
		}
		m.ok = true
		return
	}
}

func (m *mergeIter) valid() bool                   { return m.ok }
func (m *mergeIter) next()                         { m.advance() }
func (m *mergeIter) entry() ([]byte, []byte, bool) { return m.key, m.value, m.tomb }
func (m *mergeIter) error() error                  { return m.err }
