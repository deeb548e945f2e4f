// Package diskbtree is a B+Tree in one file of fixed-size pages, made
// crash-safe by copy-on-write, as LMDB and bbolt do: a change never
// overwrites a page the last committed tree uses. Each Put or Delete
// writes new copies of the pages on the path from the root to its leaf
// (splitting pages that overflow, merging pages that fall below a quarter
// full with a sibling), writes the free list, syncs, and then commits by
// writing a meta page that points at the new root. There are two meta
// pages, written alternately; Open takes the valid one with the highest
// transaction id, so a crash at any point leaves the previous tree whole.
//
// Pages freed by a transaction (the old copies) are reused from the next
// transaction on; the free list is stored in pages of its own, rewritten
// at every commit. Every page carries a CRC-32C: a damaged page is refused
// with an error wrapping engine.ErrCorrupt, never read as data.
//
// Page layout (little-endian; the last 4 bytes of every page are its
// checksum over the rest):
//
//	meta      magic(8) pagesize(4) txid(8) root(8) freelist(8) npages(8)
//	leaf      type=1(1) count(2) then per entry: klen(2) vlen(4) key value
//	branch    type=2(1) count(2) then per entry: klen(2) child(8) key
//	freelist  type=3(1) count(2) next(8) then page ids (8 each)
//
// A branch's key i is the smallest key under child i.
package diskbtree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Options configure a tree.
type Options struct {
	FS storage.FS // storage.OS when nil
	// Sync makes every Put and Delete durable before it returns (two
	// fsyncs: the pages, then the meta page).
	Sync bool
	// PageSize (default 4096).
	PageSize int
	// CachePages bounds the decoded pages kept in memory (default 16384).
	CachePages int
}

const (
	magic      = 0x42545245454b5631 // "BTREEKV1"
	typeLeaf   = 1
	typeBranch = 2
	typeFree   = 3
	// FileName is the tree's file inside its directory.
	FileName = "btree.db"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type pgid = uint64

type meta struct {
	txid, root, freelist, npages uint64
}

type bnode struct {
	leaf     bool
	keys     [][]byte
	vals     [][]byte // leaf
	children []pgid   // branch
}

// Stats counts the work done, for amplification figures.
type Stats struct {
	PagesWritten int64
	Commits      int64
	UserBytes    int64
}

// DB is a copy-on-write B+Tree. It is safe for concurrent use.
type DB struct {
	mu      sync.Mutex
	o       Options
	f       storage.File
	name    string
	ps      int
	meta    meta
	free    []pgid
	pending []pgid // freed by the transaction in progress
	cache   map[pgid]*bnode
	err     error // a failed transaction poisons the handle
	closed  bool
	stats   Stats
}

var _ engine.Engine = (*DB)(nil)

// Open opens or creates the tree in dir.
func Open(dir string, o Options) (*DB, error) {
	if o.FS == nil {
		o.FS = storage.OS
	}
	if o.PageSize <= 0 {
		o.PageSize = 4096
	}
	if o.CachePages <= 0 {
		o.CachePages = 16384
	}
	if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, FileName)
	f, err := o.FS.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	db := &DB{o: o, f: f, name: name, ps: o.PageSize, cache: map[pgid]*bnode{}}
	if err := db.load(dir); err != nil {
		f.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) load(dir string) error {
	st, err := db.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < 2*int64(db.ps) {
		// A new tree (or one whose creation a crash cut short: its name
		// is made durable only after both meta pages are). Both meta
		// pages say "empty", so that one is always valid.
		db.meta = meta{npages: 2}
		for i := range 2 {
			if err := db.writePage(pgid(i), db.encodeMeta(db.meta)); err != nil {
				return err
			}
		}
		if err := db.f.Sync(); err != nil {
			return err
		}
		return db.o.FS.SyncDir(dir)
	}
	var best *meta
	var why []string
	for i := range 2 {
		m, err := db.readMeta(pgid(i))
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if best == nil || m.txid > best.txid {
			best = &m
		}
	}
	if best == nil {
		return fmt.Errorf("%w: %s: no valid meta page (%v)", engine.ErrCorrupt, db.name, why)
	}
	db.meta = *best
	for id := db.meta.freelist; id != 0; {
		b, err := db.readPage(id)
		if err != nil {
			return err
		}
		if b[0] != typeFree {
			return db.corrupt(id, "free-list page has the wrong type")
		}
		n := int(binary.LittleEndian.Uint16(b[1:]))
		next := binary.LittleEndian.Uint64(b[3:])
		if 11+8*n > db.ps-4 {
			return db.corrupt(id, "free-list count out of range")
		}
		for j := range n {
			db.free = append(db.free, binary.LittleEndian.Uint64(b[11+8*j:]))
		}
		// The free list's own pages are free once a newer one is written.
		db.pending = append(db.pending, id)
		id = next
	}
	return nil
}

func (db *DB) corrupt(id pgid, why string) error {
	return fmt.Errorf("%w: %s at offset %d (page %d): %s", engine.ErrCorrupt, db.name, int64(id)*int64(db.ps), id, why)
}

func (db *DB) readPage(id pgid) ([]byte, error) {
	b := make([]byte, db.ps)
	n, err := db.f.ReadAt(b, int64(id)*int64(db.ps))
	if err != nil && !(errors.Is(err, io.EOF) && n == db.ps) {
		if errors.Is(err, io.EOF) {
			return nil, db.corrupt(id, "page beyond the end of the file")
		}
		return nil, err
	}
	if crc32.Checksum(b[:db.ps-4], castagnoli) != binary.LittleEndian.Uint32(b[db.ps-4:]) {
		return nil, db.corrupt(id, "checksum mismatch")
	}
	return b, nil
}

func (db *DB) readMeta(id pgid) (meta, error) {
	b, err := db.readPage(id)
	if err != nil {
		return meta{}, err
	}
	if binary.LittleEndian.Uint64(b) != magic || int(binary.LittleEndian.Uint32(b[8:])) != db.ps {
		return meta{}, db.corrupt(id, "not a meta page of this page size")
	}
	return meta{txid: binary.LittleEndian.Uint64(b[12:]), root: binary.LittleEndian.Uint64(b[20:]),
		freelist: binary.LittleEndian.Uint64(b[28:]), npages: binary.LittleEndian.Uint64(b[36:])}, nil
}

func (db *DB) writePage(id pgid, b []byte) error {
	binary.LittleEndian.PutUint32(b[db.ps-4:], crc32.Checksum(b[:db.ps-4], castagnoli))
	if _, err := db.f.Seek(int64(id)*int64(db.ps), io.SeekStart); err != nil {
		return err
	}
	_, err := db.f.Write(b)
	db.stats.PagesWritten++
	return err
}

func (db *DB) node(id pgid) (*bnode, error) {
	if n, ok := db.cache[id]; ok {
		return n, nil
	}
	b, err := db.readPage(id)
	if err != nil {
		return nil, err
	}
	n := &bnode{leaf: b[0] == typeLeaf}
	if b[0] != typeLeaf && b[0] != typeBranch {
		return nil, db.corrupt(id, "not a tree page")
	}
	count := int(binary.LittleEndian.Uint16(b[1:]))
	p := b[3 : db.ps-4]
	for range count {
		if len(p) < 2 {
			return nil, db.corrupt(id, "entry past the page end")
		}
		kl := int(binary.LittleEndian.Uint16(p))
		if n.leaf {
			if len(p) < 6 {
				return nil, db.corrupt(id, "entry past the page end")
			}
			vl := int(binary.LittleEndian.Uint32(p[2:]))
			if len(p) < 6+kl+vl {
				return nil, db.corrupt(id, "entry past the page end")
			}
			n.keys = append(n.keys, p[6:6+kl])
			n.vals = append(n.vals, p[6+kl:6+kl+vl])
			p = p[6+kl+vl:]
		} else {
			if len(p) < 10+kl {
				return nil, db.corrupt(id, "entry past the page end")
			}
			n.children = append(n.children, binary.LittleEndian.Uint64(p[2:]))
			n.keys = append(n.keys, p[10:10+kl])
			p = p[10+kl:]
		}
	}
	db.remember(id, n)
	return n, nil
}

func (db *DB) remember(id pgid, n *bnode) {
	if len(db.cache) >= db.o.CachePages {
		for k := range db.cache { // drop an arbitrary page
			delete(db.cache, k)
			break
		}
	}
	db.cache[id] = n
}

func (n *bnode) size() int {
	s := 3 + 4
	for i, k := range n.keys {
		if n.leaf {
			s += 6 + len(k) + len(n.vals[i])
		} else {
			s += 10 + len(k)
		}
	}
	return s
}

func (db *DB) encode(n *bnode) []byte {
	b := make([]byte, db.ps)
	b[0] = typeBranch
	if n.leaf {
		b[0] = typeLeaf
	}
	binary.LittleEndian.PutUint16(b[1:], uint16(len(n.keys)))
	p := b[3:3]
	for i, k := range n.keys {
		p = binary.LittleEndian.AppendUint16(p, uint16(len(k)))
		if n.leaf {
			p = binary.LittleEndian.AppendUint32(p, uint32(len(n.vals[i])))
			p = append(p, k...)
			p = append(p, n.vals[i]...)
		} else {
			p = binary.LittleEndian.AppendUint64(p, n.children[i])
			p = append(p, k...)
		}
	}
	return b
}

func (db *DB) alloc() pgid {
	if n := len(db.free); n > 0 {
		id := db.free[n-1]
		db.free = db.free[:n-1]
		return id
	}
	id := db.meta.npages
	db.meta.npages++
	return id
}

func (db *DB) release(id pgid) {
	delete(db.cache, id)
	db.pending = append(db.pending, id)
}

type ref struct {
	key []byte
	id  pgid
}

// write stores n in fresh pages, split into as many as it needs, and
// returns references to them.
func (db *DB) write(n *bnode) ([]ref, error) {
	var refs []ref
	for _, part := range db.split(n) {
		id := db.alloc()
		if err := db.writePage(id, db.encode(part)); err != nil {
			return nil, err
		}
		db.remember(id, part)
		refs = append(refs, ref{key: part.keys[0], id: id})
	}
	return refs, nil
}

// split cuts a node into pages: greedily, then, if the last page is under
// a quarter full, evens out the last two.
func (db *DB) split(n *bnode) []*bnode {
	if n.size() <= db.ps {
		return []*bnode{n}
	}
	var parts []*bnode
	cur := &bnode{leaf: n.leaf}
	for i := range n.keys {
		e := &bnode{leaf: n.leaf, keys: n.keys[i : i+1]}
		if n.leaf {
			e.vals = n.vals[i : i+1]
		} else {
			e.children = n.children[i : i+1]
		}
		if len(cur.keys) > 0 && cur.size()+e.size()-7 > db.ps {
			parts = append(parts, cur)
			cur = &bnode{leaf: n.leaf}
		}
		cur.keys = append(cur.keys, e.keys[0])
		if n.leaf {
			cur.vals = append(cur.vals, e.vals[0])
		} else {
			cur.children = append(cur.children, e.children[0])
		}
	}
	parts = append(parts, cur)
	if k := len(parts); k > 1 && parts[k-1].size() < db.ps/4 {
		merged := concat(parts[k-2], parts[k-1])
		half := merged.size() / 2
		acc, cut := 7, 0
		for cut < len(merged.keys)-1 && acc < half {
			acc += (&bnode{leaf: merged.leaf, keys: merged.keys[cut : cut+1], vals: sub(merged.vals, cut), children: subc(merged.children, cut)}).size() - 7
			cut++
		}
		parts[k-2], parts[k-1] = slice(merged, 0, cut), slice(merged, cut, len(merged.keys))
	}
	return parts
}

func sub(v [][]byte, i int) [][]byte {
	if v == nil {
		return nil
	}
	return v[i : i+1]
}

func subc(v []pgid, i int) []pgid {
	if v == nil {
		return nil
	}
	return v[i : i+1]
}

func slice(n *bnode, i, j int) *bnode {
	out := &bnode{leaf: n.leaf, keys: n.keys[i:j:j]}
	if n.leaf {
		out.vals = n.vals[i:j:j]
	} else {
		out.children = n.children[i:j:j]
	}
	return out
}

func concat(a, b *bnode) *bnode {
	out := &bnode{leaf: a.leaf}
	out.keys = append(append(out.keys, a.keys...), b.keys...)
	if a.leaf {
		out.vals = append(append(out.vals, a.vals...), b.vals...)
	} else {
		out.children = append(append(out.children, a.children...), b.children...)
	}
	return out
}

func (n *bnode) clone() *bnode {
	c := &bnode{leaf: n.leaf, keys: append([][]byte(nil), n.keys...)}
	if n.leaf {
		c.vals = append([][]byte(nil), n.vals...)
	} else {
		c.children = append([]pgid(nil), n.children...)
	}
	return c
}

// search returns the first index whose key is not less than key.
func search(keys [][]byte, key []byte) (int, bool) {
	i := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], key) >= 0 })
	return i, i < len(keys) && bytes.Equal(keys[i], key)
}

// childIndex is the child of a branch whose range holds key.
func childIndex(keys [][]byte, key []byte) int {
	i := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], key) > 0 })
	return max(i-1, 0)
}

func (db *DB) begin() error {
	if db.closed {
		return engine.ErrClosed
	}
	return db.err
}

// Get returns key's value.
func (db *DB) Get(key []byte) ([]byte, bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.begin(); err != nil {
		return nil, false, err
	}
	id := db.meta.root
	for id != 0 {
		n, err := db.node(id)
		if err != nil {
			return nil, false, err
		}
		if n.leaf {
			i, found := search(n.keys, key)
			if !found {
				return nil, false, nil
			}
			return bytes.Clone(n.vals[i]), true, nil
		}
		id = n.children[childIndex(n.keys, key)]
	}
	return nil, false, nil
}

// Put sets key to value in one transaction.
func (db *DB) Put(key, value []byte) error {
	if len(key) == 0 || len(key)+len(value) > db.o.PageSize/4-16 {
		return engine.ErrTooLarge
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.begin(); err != nil {
		return err
	}
	key, value = bytes.Clone(key), bytes.Clone(value)
	var refs []ref
	var err error
	if db.meta.root == 0 {
		refs, err = db.write(&bnode{leaf: true, keys: [][]byte{key}, vals: [][]byte{value}})
	} else {
		refs, err = db.put(db.meta.root, key, value)
	}
	for err == nil && len(refs) > 1 {
		// The root split: a new root above the pieces.
		root := &bnode{}
		for _, r := range refs {
			root.keys = append(root.keys, r.key)
			root.children = append(root.children, r.id)
		}
		refs, err = db.write(root)
	}
	if err == nil {
		db.stats.UserBytes += int64(len(key) + len(value))
		err = db.commit(refs[0].id)
	}
	return db.fail(err)
}

func (db *DB) fail(err error) error {
	if err != nil {
		db.err = fmt.Errorf("diskbtree: a transaction failed, reopen the tree: %w", err)
	}
	return err
}

func (db *DB) put(id pgid, key, value []byte) ([]ref, error) {
	n, err := db.node(id)
	if err != nil {
		return nil, err
	}
	c := n.clone()
	if c.leaf {
		i, found := search(c.keys, key)
		if found {
			c.vals[i] = value
		} else {
			c.keys = insertAt(c.keys, i, key)
			c.vals = insertAt(c.vals, i, value)
		}
	} else {
		i := childIndex(c.keys, key)
		refs, err := db.put(c.children[i], key, value)
		if err != nil {
			return nil, err
		}
		c.replace(i, 1, refs)
	}
	db.release(id)
	return db.write(c)
}

// replace puts refs in place of the n children from i.
func (c *bnode) replace(i, n int, refs []ref) {
	keys := append([][]byte(nil), c.keys[:i]...)
	kids := append([]pgid(nil), c.children[:i]...)
	for _, r := range refs {
		keys = append(keys, r.key)
		kids = append(kids, r.id)
	}
	c.keys = append(keys, c.keys[i+n:]...)
	c.children = append(kids, c.children[i+n:]...)
}

func insertAt[E any](s []E, i int, x E) []E {
	var zero E
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

// Delete removes key in one transaction.
func (db *DB) Delete(key []byte) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.begin(); err != nil {
		return err
	}
	if db.meta.root == 0 {
		return nil
	}
	refs, found, err := db.del(db.meta.root, key)
	if err != nil || !found {
		return db.fail(err)
	}
	root := pgid(0)
	if len(refs) > 0 {
		root = refs[0].id
	}
	// A root with one child is replaced by that child.
	for root != 0 {
		n, err := db.node(root)
		if err != nil {
			return db.fail(err)
		}
		if n.leaf || len(n.children) > 1 {
			break
		}
		db.release(root)
		root = n.children[0]
	}
	db.stats.UserBytes += int64(len(key))
	return db.fail(db.commit(root))
}

func (db *DB) del(id pgid, key []byte) ([]ref, bool, error) {
	n, err := db.node(id)
	if err != nil {
		return nil, false, err
	}
	if n.leaf {
		i, found := search(n.keys, key)
		if !found {
			return nil, false, nil
		}
		c := n.clone()
		c.keys = append(c.keys[:i], c.keys[i+1:]...)
		c.vals = append(c.vals[:i], c.vals[i+1:]...)
		db.release(id)
		if len(c.keys) == 0 {
			return nil, true, nil
		}
		refs, err := db.write(c)
		return refs, true, err
	}
	i := childIndex(n.keys, key)
	refs, found, err := db.del(n.children[i], key)
	if err != nil || !found {
		return nil, found, err
	}
	c := n.clone()
	c.replace(i, 1, refs)
	// A child under a quarter full merges with a sibling (and splits
	// again, evenly, if the two do not fit in one page).
	if len(refs) == 1 && len(c.children) > 1 {
		child, err := db.node(refs[0].id)
		if err != nil {
			return nil, true, err
		}
		if child.size() < db.ps/4 {
			j := i
			if j == len(c.children)-1 {
				j--
			}
			a, err := db.node(c.children[j])
			if err != nil {
				return nil, true, err
			}
			b, err := db.node(c.children[j+1])
			if err != nil {
				return nil, true, err
			}
			merged, err := db.write(concat(a, b))
			if err != nil {
				return nil, true, err
			}
			db.release(c.children[j])
			db.release(c.children[j+1])
			c.replace(j, 2, merged)
		}
	}
	db.release(id)
	if len(c.keys) == 0 {
		return nil, true, nil
	}
	out, err := db.write(c)
	return out, true, err
}

// commit writes the free list, syncs, and writes the meta page that makes
// root the tree.
func (db *DB) commit(root pgid) error {
	per := (db.ps - 11 - 4) / 8
	// The free list's pages come out of the free list, so size it after.
	var pages []pgid
	for {
		need := (len(db.free) + len(db.pending) + per - 1) / per
		if len(pages) >= need {
			break
		}
		pages = append(pages, db.alloc())
	}
	ids := append(append([]pgid(nil), db.free...), db.pending...)
	for i, id := range pages {
		b := make([]byte, db.ps)
		b[0] = typeFree
		chunk := ids[min(i*per, len(ids)):min((i+1)*per, len(ids))]
		binary.LittleEndian.PutUint16(b[1:], uint16(len(chunk)))
		if i+1 < len(pages) {
			binary.LittleEndian.PutUint64(b[3:], pages[i+1])
		}
		for j, x := range chunk {
			binary.LittleEndian.PutUint64(b[11+8*j:], x)
		}
		if err := db.writePage(id, b); err != nil {
			return err
		}
	}
	m := db.meta
	m.txid++
	m.root = root
	m.freelist = 0
	if len(pages) > 0 {
		m.freelist = pages[0]
	}
	if db.o.Sync {
		if err := db.f.Sync(); err != nil {
			return err
		}
	}
	if err := db.writePage(m.txid%2, db.encodeMeta(m)); err != nil {
		return err
	}
	if db.o.Sync {
		if err := db.f.Sync(); err != nil {
			return err
		}
	}
	// Committed: the old free-list pages and this transaction's old page
	// copies are free from the next transaction on.
	// The old free list's pages were queued in pending by load or by the
	// last commit; the new one's are freed by the next commit.
	db.meta = m
	db.free = append(db.free, db.pending...)
	db.pending = append(db.pending[:0], pages...)
	db.stats.Commits++
	return nil
}

func (db *DB) encodeMeta(m meta) []byte {
	b := make([]byte, db.ps)
	binary.LittleEndian.PutUint64(b, magic)
	binary.LittleEndian.PutUint32(b[8:], uint32(db.ps))
	binary.LittleEndian.PutUint64(b[12:], m.txid)
	binary.LittleEndian.PutUint64(b[20:], m.root)
	binary.LittleEndian.PutUint64(b[28:], m.freelist)
	binary.LittleEndian.PutUint64(b[36:], m.npages)
	return b
}

// Scan calls fn for the keys in [start, end) in order.
func (db *DB) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.begin(); err != nil {
		return err
	}
	if db.meta.root == 0 {
		return nil
	}
	_, err := db.scan(db.meta.root, start, end, fn)
	return err
}

func (db *DB) scan(id pgid, start, end []byte, fn func(key, value []byte) bool) (bool, error) {
	n, err := db.node(id)
	if err != nil {
		return false, err
	}
	if n.leaf {
		i, _ := search(n.keys, start)
		for ; i < len(n.keys); i++ {
			if end != nil && bytes.Compare(n.keys[i], end) >= 0 {
				return false, nil
			}
			if !fn(n.keys[i], n.vals[i]) {
				return false, nil
			}
		}
		return true, nil
	}
	for i := childIndex(n.keys, start); i < len(n.children); i++ {
		if end != nil && bytes.Compare(n.keys[i], end) >= 0 {
			return false, nil
		}
		more, err := db.scan(n.children[i], start, end, fn)
		if err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

// Stats returns the work counters.
func (db *DB) Stats() Stats {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.stats
}

// FileBytes is the size of the tree's file as the committed tree sees it.
func (db *DB) FileBytes() int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return int64(db.meta.npages) * int64(db.ps)
}

// Close syncs and closes the file.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	err := db.f.Sync()
	if cerr := db.f.Close(); err == nil {
		err = cerr
	}
	return err
}
