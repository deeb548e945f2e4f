package lsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// An SSTable file:
//
//	data block*   entries: uvarint klen, uvarint vlen+1 (0: tombstone), key, value; then crc32c(4)
//	index block   per data block: uvarint klen, last key, uvarint offset, uvarint length; crc32c(4)
//	bloom block   uint32 k, filter bits; crc32c(4)
//	footer        index off, index len, bloom off, bloom len (uint64 each), magic (uint64)
//
// Offsets and lengths of blocks exclude their checksums.

const (
	footerSize = 40
	tableMagic = 0x4c534d5441424c31 // "LSMTABL1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type blockHandle struct {
	last     []byte
	off, len uint64
}

// tableWriter writes one table, block by block.
type tableWriter struct {
	f         storage.File
	blockSize int
	block     []byte
	lastKey   []byte
	first     []byte
	index     []blockHandle
	keys      [][]byte // for the bloom filter
	off       uint64
	n         int
}

func newTableWriter(f storage.File, blockSize int) *tableWriter {
	return &tableWriter{f: f, blockSize: blockSize}
}

func (w *tableWriter) add(key, value []byte, tomb bool) error {
	if w.n == 0 {
		w.first = bytes.Clone(key)
	}
	w.n++
	w.block = binary.AppendUvarint(w.block, uint64(len(key)))
	if tomb {
		w.block = binary.AppendUvarint(w.block, 0)
	} else {
		w.block = binary.AppendUvarint(w.block, uint64(len(value))+1)
	}
	w.block = append(w.block, key...)
	w.block = append(w.block, value...)
	w.lastKey = append(w.lastKey[:0], key...)
	w.keys = append(w.keys, bytes.Clone(key))
	if len(w.block) >= w.blockSize {
		return w.flushBlock()
	}
	return nil
}

func (w *tableWriter) writeBlock(b []byte) (uint64, error) {
	off := w.off
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if _, err := w.f.Write(b); err != nil {
		return 0, err
	}
	w.off += uint64(len(b))
	return off, nil
}

func (w *tableWriter) flushBlock() error {
	if len(w.block) == 0 {
		return nil
	}
	n := uint64(len(w.block))
	off, err := w.writeBlock(w.block)
	if err != nil {
		return err
	}
	w.index = append(w.index, blockHandle{last: bytes.Clone(w.lastKey), off: off, len: n})
	w.block = w.block[:0]
	return nil
}

// size is the bytes written so far plus the open block.
func (w *tableWriter) size() uint64 { return w.off + uint64(len(w.block)) }

// finish writes the index, the filter and the footer, and syncs.
func (w *tableWriter) finish(bitsPerKey int) (uint64, error) {
	if err := w.flushBlock(); err != nil {
		return 0, err
	}
	var idx []byte
	for _, h := range w.index {
		idx = binary.AppendUvarint(idx, uint64(len(h.last)))
		idx = append(idx, h.last...)
		idx = binary.AppendUvarint(idx, h.off)
		idx = binary.AppendUvarint(idx, h.len)
	}
	il := uint64(len(idx))
	ioff, err := w.writeBlock(idx)
	if err != nil {
		return 0, err
	}
	bf := newBloom(len(w.keys), bitsPerKey)
	for _, k := range w.keys {
		bf.add(k)
	}
	enc := bf.encode()
	bl := uint64(len(enc))
	boff, err := w.writeBlock(enc)
	if err != nil {
		return 0, err
	}
	var foot []byte
	for _, x := range []uint64{ioff, il, boff, bl, tableMagic} {
		foot = binary.LittleEndian.AppendUint64(foot, x)
	}
	if _, err := w.f.Write(foot); err != nil {
		return 0, err
	}
	w.off += footerSize
	return w.off, w.f.Sync()
}

// table is an open SSTable: its index and filter live in memory, its data
// blocks are read on demand through the block cache.
type table struct {
	id              uint64
	name            string
	f               storage.File
	size            uint64
	index           []blockHandle
	filter          bloom
	smallest, large []byte
	cache           *blockCache
	db              *DB // for removing the file; nil in tests of tables alone
	// refs counts the versions holding the table (plus one while a
	// writer still owns it); the last unref closes it, and removes its
	// file if a compaction made it obsolete.
	refs     atomic.Int32
	obsolete atomic.Bool
}

func (t *table) unref() {
	if t.refs.Add(-1) != 0 {
		return
	}
	t.cache.drop(t.id, t)
	t.close()
	if t.obsolete.Load() && t.db != nil && t.db.alive() == nil {
		_ = t.db.fs.Remove(t.name)
	}
}

func openTable(fsys storage.FS, name string, id uint64, cache *blockCache) (*table, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	t, err := readTable(f, name, id, cache)
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func readTable(f storage.File, name string, id uint64, cache *blockCache) (*table, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := uint64(st.Size())
	if size < footerSize {
		return nil, fmt.Errorf("%w: %s: %d bytes, shorter than a footer", engine.ErrCorrupt, name, size)
	}
	foot := make([]byte, footerSize)
	if _, err := f.ReadAt(foot, int64(size-footerSize)); err != nil {
		return nil, err
	}
	var v [5]uint64
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(foot[8*i:])
	}
	if v[4] != tableMagic || v[0]+v[1] > size || v[2]+v[3] > size {
		return nil, fmt.Errorf("%w: %s at offset %d: bad footer", engine.ErrCorrupt, name, size-footerSize)
	}
	t := &table{id: id, name: name, f: f, size: size, cache: cache}
	t.refs.Store(1)
	idx, err := t.readBlock(v[0], v[1])
	if err != nil {
		return nil, err
	}
	for len(idx) > 0 {
		kl, n := binary.Uvarint(idx)
		if n <= 0 || uint64(len(idx)-n) < kl {
			return nil, fmt.Errorf("%w: %s at offset %d: bad index", engine.ErrCorrupt, name, v[0])
		}
		h := blockHandle{last: idx[n : n+int(kl)]}
		idx = idx[n+int(kl):]
		var m int
		h.off, m = binary.Uvarint(idx)
		idx = idx[max(m, 0):]
		h.len, m = binary.Uvarint(idx)
		if m <= 0 || h.off+h.len > size {
			return nil, fmt.Errorf("%w: %s at offset %d: bad index entry", engine.ErrCorrupt, name, v[0])
		}
		idx = idx[m:]
		t.index = append(t.index, h)
	}
	fb, err := t.readBlock(v[2], v[3])
	if err != nil {
		return nil, err
	}
	t.filter = decodeBloom(fb)
	if len(t.index) > 0 {
		t.large = t.index[len(t.index)-1].last
		it := t.iter()
		it.seek(nil)
		if it.err != nil {
			return nil, it.err
		}
		if it.valid() {
			t.smallest = bytes.Clone(it.key)
		}
	}
	return t, nil
}

// readBlock reads and checks a block (not through the cache).
func (t *table) readBlock(off, n uint64) ([]byte, error) {
	b := make([]byte, n+4)
	if _, err := t.f.ReadAt(b, int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if crc32.Checksum(b[:n], castagnoli) != binary.LittleEndian.Uint32(b[n:]) {
		return nil, fmt.Errorf("%w: %s at offset %d: block checksum mismatch", engine.ErrCorrupt, t.name, off)
	}
	return b[:n], nil
}

func (t *table) block(i int, nocache bool) ([]byte, error) {
	h := t.index[i]
	if nocache {
		return t.readBlock(h.off, h.len)
	}
	if b, ok := t.cache.get(t.id, h.off); ok {
		return b, nil
	}
	b, err := t.readBlock(h.off, h.len)
	if err == nil {
		t.cache.put(t.id, h.off, b)
	}
	return b, err
}

// get looks key up: found reports whether the table has an entry for it,
// a tombstone included.
func (t *table) get(key []byte) (value []byte, tomb, found bool, err error) {
	if !t.filter.mayContain(key) {
		return nil, false, false, nil
	}
	i := sort.Search(len(t.index), func(i int) bool { return bytes.Compare(t.index[i].last, key) >= 0 })
	if i == len(t.index) {
		return nil, false, false, nil
	}
	b, err := t.block(i, false)
	if err != nil {
		return nil, false, false, err
	}
	for len(b) > 0 {
		k, v, tb, rest, ok := decodeEntry(b)
		if !ok {
			return nil, false, false, fmt.Errorf("%w: %s: bad entry in block at offset %d", engine.ErrCorrupt, t.name, t.index[i].off)
		}
		switch c := bytes.Compare(k, key); {
		case c == 0:
			return v, tb, true, nil
		case c > 0:
			return nil, false, false, nil
		}
		b = rest
	}
	return nil, false, false, nil
}

func decodeEntry(b []byte) (key, value []byte, tomb bool, rest []byte, ok bool) {
	var kl, vl uint64
	// Keys and values under 128 bytes have one-byte lengths: the common
	// case skips the general varint loop, which dominated point reads.
	if len(b) >= 2 && b[0] < 0x80 && b[1] < 0x80 {
		kl, vl, b = uint64(b[0]), uint64(b[1]), b[2:]
	} else {
		var n, m int
		if kl, n = binary.Uvarint(b); n <= 0 {
			return
		}
		b = b[n:]
		if vl, m = binary.Uvarint(b); m <= 0 {
			return
		}
		b = b[m:]
	}
	tomb = vl == 0
	if !tomb {
		vl--
	} else {
		vl = 0
	}
	if uint64(len(b)) < kl+vl {
		return
	}
	return b[:kl], b[kl : kl+vl], tomb, b[kl+vl:], true
}

func (t *table) close() error { return t.f.Close() }

// tableIter walks a table's entries in order.
type tableIter struct {
	t       *table
	nocache bool
	bi      int
	rest    []byte
	key     []byte
	value   []byte
	tomb    bool
	ok      bool
	err     error
}

func (t *table) iter() *tableIter { return &tableIter{t: t} }

func (it *tableIter) valid() bool { return it.ok }

// seek positions the iterator at the first key not less than key.
func (it *tableIter) seek(key []byte) {
	it.bi = sort.Search(len(it.t.index), func(i int) bool { return bytes.Compare(it.t.index[i].last, key) >= 0 })
	it.rest = nil
	it.load()
	for it.ok && bytes.Compare(it.key, key) < 0 {
		it.next()
	}
}

func (it *tableIter) load() {
	if it.bi >= len(it.t.index) {
		it.ok = false
		return
	}
	b, err := it.t.block(it.bi, it.nocache)
	if err != nil {
		it.err, it.ok = err, false
		return
	}
	it.rest = b
	it.next()
}

func (it *tableIter) next() {
	if len(it.rest) == 0 {
		it.bi++
		it.load()
		return
	}
	k, v, tb, rest, ok := decodeEntry(it.rest)
	if !ok {
		it.err = fmt.Errorf("%w: %s: bad entry in block at offset %d", engine.ErrCorrupt, it.t.name, it.t.index[it.bi].off)
		it.ok = false
		return
	}
	it.key, it.value, it.tomb, it.rest, it.ok = k, v, tb, rest, true
}

// blockCache keeps recently read blocks; when full it drops an arbitrary
// block (Go's map order), which is close enough to random eviction.
type blockCache struct {
	mu        sync.Mutex
	cap, used int
	m         map[[2]uint64][]byte
}

func newBlockCache(capBytes int) *blockCache {
	return &blockCache{cap: capBytes, m: map[[2]uint64][]byte{}}
}

func (c *blockCache) get(id, off uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[[2]uint64{id, off}]
	return b, ok
}

func (c *blockCache) put(id, off uint64, b []byte) {
	if c.cap <= 0 || len(b) > c.cap {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[[2]uint64{id, off}]; ok {
		return
	}
	for c.used+len(b) > c.cap {
		for k, v := range c.m {
			delete(c.m, k)
			c.used -= len(v)
			break
		}
	}
	c.m[[2]uint64{id, off}] = b
	c.used += len(b)
}

func (c *blockCache) drop(id uint64, t *table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range t.index {
		if b, ok := c.m[[2]uint64{id, h.off}]; ok {
			c.used -= len(b)
			delete(c.m, [2]uint64{id, h.off})
		}
	}
}
