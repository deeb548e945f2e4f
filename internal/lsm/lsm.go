// Package lsm is a log-structured merge tree: writes go to a write-ahead
// log and an in-memory sorted memtable (internal/memtree); a full memtable
// is flushed to an immutable sorted file, an SSTable, with a block index
// and a Bloom filter; SSTables are merged by leveled compaction.
//
// Levels: L0 holds flushed tables, which may overlap (newest wins); each
// deeper level holds non-overlapping tables and may grow to a budget ten
// times the level above. Reads look at the memtable, then L0 newest first,
// then one table per deeper level. Deletes write tombstones, which
// compaction may drop only where no deeper level can hold an older value
// of the key; Options.DropTombstonesEarly breaks that rule on purpose, for
// the track's counter-example.
//
// Files in the directory given to Open: NNNNNN.sst tables, wal/ the
// memtable's write-ahead log (internal/wal), MANIFEST (JSON: the tables of
// each level and the last log record already in a table), replaced
// atomically after each flush and compaction.
// Compactions run inside the write that triggers them.
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

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/memtree"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/wal"
)

// Options configure a tree. Zero values take the defaults shown.
type Options struct {
	FS   storage.FS // storage.OS
	Sync bool       // fsync the log on every write
	// MemtableBytes: flush threshold (4 MiB).
	MemtableBytes int
	// TableBytes: target size of a compaction output table (2 MiB).
	TableBytes int
	// BlockBytes: data block size (4 KiB).
	BlockBytes int
	// L0Tables: L0 table count that triggers an L0 compaction (4).
	L0Tables int
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

// DB is an LSM tree. It is safe for concurrent use.
type DB struct {
	mu      sync.Mutex
	o       Options
	fs      storage.FS
	dir     string
	mem     *memtree.Tree[entry]
	memSize int
	log     *wal.Log
	flushed uint64 // log records up to this index are in tables
	nextID  uint64
	levels  [numLevels][]*table // L0 oldest first; deeper levels by key
	cache   *blockCache
	closed  bool
	stats   Stats
}

// Stats counts bytes for amplification figures.
type Stats struct {
	UserBytes  int64 // keys and values handed to Put and Delete
	LogBytes   int64 // written to the write-ahead log
	TableBytes int64 // written to SSTables by flushes and compactions
	Flushes    int
	Compacts   int
}

var _ engine.Engine = (*DB)(nil)

type manifest struct {
	NextID  uint64     `json:"next_id"`
	Flushed uint64     `json:"flushed"`
	Levels  [][]uint64 `json:"levels"`
}

// Open opens or creates the tree in dir.
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
	def(&o.TableBytes, 2<<20)
	def(&o.BlockBytes, 4<<10)
	def(&o.L0Tables, 4)
	def(&o.BloomBitsPerKey, 10)
	def(&o.CacheBytes, 8<<20)
	if o.L1Bytes <= 0 {
		o.L1Bytes = 10 << 20
	}
	if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := &DB{o: o, fs: o.FS, dir: dir, mem: memtree.New(32, lessEntry), cache: newBlockCache(o.CacheBytes)}
	if err := db.load(); err != nil {
		db.closeFiles()
		return nil, err
	}
	return db, nil
}

func (db *DB) path(id uint64, ext string) string {
	return filepath.Join(db.dir, fmt.Sprintf("%06d.%s", id, ext))
}

func (db *DB) load() error {
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
	for l, ids := range m.Levels {
		if l >= numLevels {
			return fmt.Errorf("%w: MANIFEST has %d levels", engine.ErrCorrupt, len(m.Levels))
		}
		for _, id := range ids {
			t, err := openTable(db.fs, db.path(id, "sst"), id, db.cache)
			if err != nil {
				return err
			}
			live[id] = true
			db.levels[l] = append(db.levels[l], t)
		}
	}
	db.nextID, db.flushed = m.NextID, m.Flushed
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
	// log buffers appends (64 KiB) instead of a write call per put.
	if db.log, err = wal.Open(db.fs, filepath.Join(db.dir, "wal"), wal.Options{Sync: policy, SegmentSize: int64(db.o.MemtableBytes) * 2, Buffer: 64 << 10}); err != nil {
		return err
	}
	// The records after the last flush are the memtable.
	if err := db.log.Iterate(db.flushed+1, func(_ uint64, rec []byte) error { return db.replay(rec) }); err != nil {
		return err
	}
	return db.fs.SyncDir(db.dir)
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
	db.apply(bytes.Clone(key), bytes.Clone(rec[1+n+int(kl):]), rec[0] == 1)
	return nil
}

func (db *DB) apply(key, value []byte, tomb bool) {
	if old, ok := db.mem.Set(entry{key: key, value: value, tomb: tomb}); ok {
		db.memSize -= len(old.key) + len(old.value)
	}
	db.memSize += len(key) + len(value)
}

// Put sets key to value.
func (db *DB) Put(key, value []byte) error { return db.write(key, value, false) }

// Delete removes key (by writing a tombstone).
func (db *DB) Delete(key []byte) error { return db.write(key, nil, true) }

func (db *DB) write(key, value []byte, tomb bool) error {
	if len(key) == 0 {
		return errors.New("lsm: empty key")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	rec := make([]byte, 0, 1+binary.MaxVarintLen32+len(key)+len(value))
	if tomb {
		rec = append(rec, 1)
	} else {
		rec = append(rec, 0)
	}
	rec = binary.AppendUvarint(rec, uint64(len(key)))
	rec = append(rec, key...)
	rec = append(rec, value...)
	if _, err := db.log.Append(rec); err != nil {
		return err
	}
	db.stats.LogBytes += int64(len(rec)) + 8
	db.stats.UserBytes += int64(len(key) + len(value))
	db.apply(bytes.Clone(key), bytes.Clone(value), tomb)
	if db.memSize >= db.o.MemtableBytes {
		return db.flush()
	}
	return nil
}

// Get returns key's value.
func (db *DB) Get(key []byte) ([]byte, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, false, engine.ErrClosed
	}
	if e, ok := db.mem.Get(entry{key: key}); ok {
		if e.tomb {
			return nil, false, nil
		}
		return bytes.Clone(e.value), true, nil
	}
	for i := len(db.levels[0]) - 1; i >= 0; i-- {
		v, tomb, found, err := db.levels[0][i].get(key)
		if err != nil || found {
			return bytes.Clone(v), found && !tomb && err == nil, err
		}
	}
	for l := 1; l < numLevels; l++ {
		t := findTable(db.levels[l], key)
		if t == nil {
			continue
		}
		v, tomb, found, err := t.get(key)
		if err != nil || found {
			return bytes.Clone(v), found && !tomb && err == nil, err
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

// flush writes the memtable to a new L0 table, starts a new log, records
// both in the manifest, then compacts if a level is over budget.
func (db *DB) flush() error {
	if db.mem.Len() == 0 {
		return nil
	}
	var entries []entry
	db.mem.AscendAll(func(e entry) bool { entries = append(entries, e); return true })
	t, err := db.writeTables(&sliceIter{es: entries}, false, 0, 0)
	if err != nil {
		return err
	}
	db.levels[0] = append(db.levels[0], t...)
	db.flushed = db.log.LastIndex()
	if err := db.saveManifest(); err != nil {
		return err
	}
	// The flushed records now live in a table: start a new segment and
	// drop the old ones.
	if err := db.log.Roll(); err != nil {
		return err
	}
	if err := db.log.TruncateFront(db.flushed + 1); err != nil {
		return err
	}
	db.mem.Clear()
	db.memSize = 0
	db.stats.Flushes++
	return db.maybeCompact()
}

func (db *DB) saveManifest() error {
	m := manifest{NextID: db.nextID, Flushed: db.flushed, Levels: make([][]uint64, numLevels)}
	for l := range db.levels {
		m.Levels[l] = []uint64{}
		for _, t := range db.levels[l] {
			m.Levels[l] = append(m.Levels[l], t.id)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return storage.WriteFileAtomic(db.fs, filepath.Join(db.dir, "MANIFEST"), b, 0o644)
}

func (db *DB) levelBytes(l int) int64 {
	var n int64
	for _, t := range db.levels[l] {
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

func (db *DB) maybeCompact() error {
	if len(db.levels[0]) >= db.o.L0Tables {
		// All of L0 (it overlaps itself) with the L1 tables it overlaps.
		in := slices.Clone(db.levels[0])
		if err := db.compact(0, in); err != nil {
			return err
		}
	}
	for l := 1; l < numLevels-1; l++ {
		for db.levelBytes(l) > db.budget(l) {
			// One table at a time; the first is as good as any for a
			// teaching engine (LevelDB rotates a compaction pointer).
			if err := db.compact(l, []*table{db.levels[l][0]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// compact merges the tables in (from level l) with the tables of level l+1
// they overlap, into new tables of level l+1.
func (db *DB) compact(l int, in []*table) error {
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
	for _, t := range db.levels[l+1] {
		if bytes.Compare(t.large, lo) >= 0 && bytes.Compare(t.smallest, hi) <= 0 {
			below = append(below, t)
		}
	}
	// Sources newest first: within L0 the newest table is last.
	var srcs []iterator
	for i := len(in) - 1; i >= 0; i-- {
		srcs = append(srcs, in[i].iter())
	}
	if len(below) > 0 {
		srcs = append(srcs, &levelIter{tables: below})
	}
	mi := newMergeIter(srcs, nil, true)
	out, err := db.writeTables(mi, true, l+1, db.o.TableBytes)
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
	db.levels[l] = slices.DeleteFunc(db.levels[l], func(t *table) bool { return gone[t] })
	next := slices.DeleteFunc(db.levels[l+1], func(t *table) bool { return gone[t] })
	next = append(next, out...)
	slices.SortFunc(next, func(a, b *table) int { return bytes.Compare(a.smallest, b.smallest) })
	db.levels[l+1] = next
	if err := db.saveManifest(); err != nil {
		return err
	}
	for t := range gone {
		db.cache.drop(t.id, t)
		t.close()
		_ = db.fs.Remove(t.name)
	}
	db.stats.Compacts++
	return nil
}

// deeperHolds reports whether a level below out may hold key.
func (db *DB) deeperHolds(out int, key []byte) bool {
	for l := out + 1; l < numLevels; l++ {
		if findTable(db.levels[l], key) != nil {
			return true
		}
	}
	return false
}

// writeTables writes the entries of it to new tables of level out, cut at
// target bytes (0: one table). In a compaction, a tombstone is dropped
// when no deeper level can hold the key it deletes.
func (db *DB) writeTables(it iterator, compaction bool, out int, target int) ([]*table, error) {
	var tables []*table
	var w *tableWriter
	var f storage.File
	var id uint64
	finish := func() error {
		if w == nil {
			return nil
		}
		n, err := w.finish(db.o.BloomBitsPerKey)
		if err == nil {
			db.stats.TableBytes += int64(n)
			var t *table
			t, err = readTable(f, db.path(id, "sst"), id, db.cache)
			if err == nil {
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
		k, v, tomb := it.entry()
		if tomb && compaction && (db.o.DropTombstonesEarly || !db.deeperHolds(out, k)) {
			continue
		}
		if w == nil {
			id = db.nextID
			db.nextID++
			var err error
			f, err = db.fs.OpenFile(db.path(id, "sst"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return fail(err)
			}
			w = newTableWriter(f, db.o.BlockBytes)
		}
		if err := w.add(k, v, tomb); err != nil {
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
	if err := db.fs.SyncDir(db.dir); err != nil {
		return fail(err)
	}
	return tables, nil
}

// Scan calls fn for the live keys in [start, end), merging the memtable
// and every level.
func (db *DB) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	srcs := []iterator{&memIter{tree: db.mem}}
	for i := len(db.levels[0]) - 1; i >= 0; i-- {
		srcs = append(srcs, db.levels[0][i].iter())
	}
	for l := 1; l < numLevels; l++ {
		if len(db.levels[l]) > 0 {
			srcs = append(srcs, &levelIter{tables: db.levels[l]})
		}
	}
	it := newMergeIter(srcs, end, false)
	for it.seek(start); it.valid(); it.next() {
		k, v, _ := it.entry()
		if !fn(k, v) {
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
	for l := range db.levels {
		n += db.levelBytes(l)
	}
	return n
}

// LevelTables is the number of tables per level.
func (db *DB) LevelTables() []int {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]int, numLevels)
	for l := range db.levels {
		out[l] = len(db.levels[l])
	}
	return out
}

// Flush writes the memtable out now.
func (db *DB) Flush() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return engine.ErrClosed
	}
	return db.flush()
}

// Close syncs the log and closes every file. The memtable stays in the
// log, to be replayed by the next Open.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	err := db.log.Sync()
	if cerr := db.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (db *DB) closeFiles() error {
	var err error
	if db.log != nil {
		err = db.log.Close()
	}
	for l := range db.levels {
		for _, t := range db.levels[l] {
			if cerr := t.close(); err == nil {
				err = cerr
			}
		}
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
	buf  []entry
	i    int
	done bool
}

func (m *memIter) fill(from []byte, inclusive bool) {
	m.buf, m.i = m.buf[:0], 0
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
	tables []*table
	ti     int
	cur    *tableIter
}

func (l *levelIter) seek(key []byte) {
	l.ti = sort.Search(len(l.tables), func(i int) bool { return bytes.Compare(l.tables[i].large, key) >= 0 })
	l.open(key)
}

func (l *levelIter) open(key []byte) {
	for l.ti < len(l.tables) {
		l.cur = l.tables[l.ti].iter()
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
