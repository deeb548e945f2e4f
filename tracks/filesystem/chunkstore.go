package filesystem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Store is a chunk server's disk: one data file and one metadata file per
// chunk. The metadata holds the chunk's version, its length and a CRC-32C
// per block of the data (GFS's 64 KB checksum blocks), so that a bit that
// rots on disk is caught when the block is read, never served.
//
// Metadata layout (little endian): the header (version u64, length u64,
// crc u32 of those 16 bytes) twice, so that one flipped bit cannot lose
// the chunk's identity, then one u32 CRC per block.
type Store struct {
	fs     storage.FS
	dir    string
	block  int
	verify bool

	mu     sync.Mutex
	chunks map[uint64]*chunk
}

type chunk struct {
	version uint64
	length  int64
	crcs    []uint32
	bad     map[int]bool // blocks whose checksum failed
}

// ChunkInfo is what a heartbeat reports of one chunk.
type ChunkInfo struct {
	Handle  uint64 `json:"handle"`
	Version uint64 `json:"version"`
	Length  int64  `json:"length"`
	Bad     bool   `json:"bad,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrNoChunk: the server holds no such chunk.
var ErrNoChunk = errors.New("no such chunk")

const headerSize = 20

// OpenStore loads every chunk under dir. With verify it checks every
// block against its checksum (a restart after a crash is when rot is
// found); blocks that fail are marked bad and reported. A chunk whose
// both headers fail is deleted: nothing of it can be trusted.
func OpenStore(fsys storage.FS, dir string, block int, verify bool) (*Store, []string, error) {
	s := &Store{fs: fsys, dir: dir, block: block, verify: verify, chunks: map[uint64]*chunk{}}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	// The directory's own name must be durable too, or a power failure
	// takes every chunk with it.
	if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
		return nil, nil, err
	}
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".meta")
		if !ok {
			continue
		}
		h, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		c, err := s.load(h)
		if err != nil {
			notes = append(notes, fmt.Sprintf("chunk %d dropped: %v", h, err))
			s.remove(h)
			continue
		}
		if verify {
			data, err := s.readData(h, c.length)
			if err != nil {
				notes = append(notes, fmt.Sprintf("chunk %d dropped: %v", h, err))
				s.remove(h)
				continue
			}
			for _, b := range s.badBlocks(c, data) {
				c.bad[b] = true
			}
			if len(c.bad) > 0 {
				notes = append(notes, fmt.Sprintf("chunk %d: %d block(s) fail their checksum", h, len(c.bad)))
			}
		}
		s.chunks[h] = c
	}
	return s, notes, nil
}

func (s *Store) dataPath(h uint64) string {
	return filepath.Join(s.dir, strconv.FormatUint(h, 10)+".chunk")
}
func (s *Store) metaPath(h uint64) string {
	return filepath.Join(s.dir, strconv.FormatUint(h, 10)+".meta")
}

func (s *Store) remove(h uint64) {
	_ = s.fs.Remove(s.metaPath(h))
	_ = s.fs.Remove(s.dataPath(h))
	_ = s.fs.SyncDir(s.dir)
}

func encodeHeader(version uint64, length int64) []byte {
	b := make([]byte, headerSize)
	binary.LittleEndian.PutUint64(b, version)
	binary.LittleEndian.PutUint64(b[8:], uint64(length))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return b
}

func decodeHeader(b []byte) (uint64, int64, bool) {
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b), int64(binary.LittleEndian.Uint64(b[8:])), true
}

func (s *Store) load(h uint64) (*chunk, error) {
	b, err := storage.ReadFile(s.fs, s.metaPath(h))
	if err != nil {
		return nil, err
	}
	if len(b) < 2*headerSize || (len(b)-2*headerSize)%4 != 0 {
		return nil, fmt.Errorf("metadata of %d bytes", len(b))
	}
	v, l, ok := decodeHeader(b[:headerSize])
	if !ok {
		if v, l, ok = decodeHeader(b[headerSize : 2*headerSize]); !ok {
			return nil, errors.New("both metadata headers fail their checksum")
		}
	}
	c := &chunk{version: v, length: l, bad: map[int]bool{}}
	for p := 2 * headerSize; p < len(b); p += 4 {
		c.crcs = append(c.crcs, binary.LittleEndian.Uint32(b[p:]))
	}
	if want := s.blocks(l); len(c.crcs) != want {
		return nil, fmt.Errorf("%d checksums for %d blocks", len(c.crcs), want)
	}
	// A data file longer than the metadata says holds a write that was
	// not acknowledged (the crash came between data and metadata): cut it.
	f, err := s.fs.OpenFile(s.dataPath(h), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > l {
		if err := f.Truncate(l); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (s *Store) blocks(length int64) int { return int((length + int64(s.block) - 1) / int64(s.block)) }

func (s *Store) saveMeta(h uint64, c *chunk) error {
	b := make([]byte, 0, 2*headerSize+4*len(c.crcs))
	hdr := encodeHeader(c.version, c.length)
	b = append(append(b, hdr...), hdr...)
	for _, x := range c.crcs {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return storage.WriteFileAtomic(s.fs, s.metaPath(h), b, 0o644)
}

// readData reads the first length bytes of a chunk's data file; a short
// file is zero-filled (its missing blocks then fail their checksums).
func (s *Store) readData(h uint64, length int64) ([]byte, error) {
	f, err := s.fs.OpenFile(s.dataPath(h), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, length)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return data, nil
}

// badBlocks lists the blocks of data that fail their checksums.
func (s *Store) badBlocks(c *chunk, data []byte) []int {
	var bad []int
	for i, want := range c.crcs {
		lo := i * s.block
		hi := min(lo+s.block, len(data))
		if crc32.Checksum(data[lo:hi], castagnoli) != want {
			bad = append(bad, i)
		}
	}
	return bad
}

// List reports every chunk for a heartbeat.
func (s *Store) List() []ChunkInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChunkInfo, 0, len(s.chunks))
	for h, c := range s.chunks {
		out = append(out, ChunkInfo{Handle: h, Version: c.version, Length: c.length, Bad: len(c.bad) > 0})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out
}

// Info returns one chunk's version and length.
func (s *Store) Info(h uint64) (ChunkInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chunks[h]
	if c == nil {
		return ChunkInfo{}, ErrNoChunk
	}
	return ChunkInfo{Handle: h, Version: c.version, Length: c.length, Bad: len(c.bad) > 0}, nil
}

// Create makes an empty chunk at a version.
func (s *Store) Create(h, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.chunks[h]; c != nil {
		if c.length == 0 && c.version <= version {
			c.version = version
			return s.saveMeta(h, c)
		}
		return nil // a retried create: keep what is there
	}
	return s.install(h, version, nil)
}

// Install replaces a chunk with a copy (re-replication).
func (s *Store) Install(h, version uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.install(h, version, data)
}

func (s *Store) install(h, version uint64, data []byte) error {
	f, err := s.fs.OpenFile(s.dataPath(h), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	c := &chunk{version: version, length: int64(len(data)), bad: map[int]bool{}}
	for lo := 0; lo < len(data); lo += s.block {
		c.crcs = append(c.crcs, crc32.Checksum(data[lo:min(lo+s.block, len(data))], castagnoli))
	}
	if err := s.saveMeta(h, c); err != nil {
		return err
	}
	s.chunks[h] = c
	return nil
}

// SetVersion raises a chunk's version (a lease grant or a repair): from
// then on writes of an older version are refused.
func (s *Store) SetVersion(h, version uint64) (ChunkInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chunks[h]
	if c == nil {
		return ChunkInfo{}, ErrNoChunk
	}
	if version > c.version {
		c.version = version
		if err := s.saveMeta(h, c); err != nil {
			return ChunkInfo{}, err
		}
	}
	return ChunkInfo{Handle: h, Version: c.version, Length: c.length, Bad: len(c.bad) > 0}, nil
}

// ErrStale: a write names an older version than the chunk's.
var ErrStale = errors.New("stale chunk version")

// WriteAt writes data at offset, which must not lie beyond the chunk's
// end; bytes past offset (an append that was never acknowledged, left by
// an earlier version) are cut first. The last partial block's checksum is
// extended incrementally from the new bytes alone, as GFS does: rot
// already in that block stays detectable.
func (s *Store) WriteAt(h, version uint64, offset int64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chunks[h]
	if c == nil {
		return ErrNoChunk
	}
	if version != c.version {
		return fmt.Errorf("%w: write at version %d, chunk at %d", ErrStale, version, c.version)
	}
	if offset > c.length {
		return fmt.Errorf("write at %d beyond the chunk's end %d", offset, c.length)
	}
	if offset < c.length {
		if err := s.truncate(h, c, offset); err != nil {
			return err
		}
	}
	f, err := s.fs.OpenFile(s.dataPath(h), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	_, err = f.Seek(offset, io.SeekStart)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	rest := data
	pos := c.length
	for len(rest) > 0 {
		i := int(pos / int64(s.block))
		room := s.block - int(pos%int64(s.block))
		n := min(room, len(rest))
		if i < len(c.crcs) {
			c.crcs[i] = crc32.Update(c.crcs[i], castagnoli, rest[:n])
		} else {
			c.crcs = append(c.crcs, crc32.Checksum(rest[:n], castagnoli))
		}
		rest, pos = rest[n:], pos+int64(n)
	}
	c.length = pos
	return s.saveMeta(h, c)
}

// truncate cuts a chunk to size, re-checksumming the new last block from
// disk (after verifying it whole, when verifying).
func (s *Store) truncate(h uint64, c *chunk, size int64) error {
	data, err := s.readData(h, c.length)
	if err != nil {
		return err
	}
	i := int(size / int64(s.block))
	if s.verify && i < len(c.crcs) {
		lo := i * s.block
		if crc32.Checksum(data[lo:min(lo+s.block, len(data))], castagnoli) != c.crcs[i] {
			c.bad[i] = true
			return fmt.Errorf("block %d fails its checksum", i)
		}
	}
	c.crcs = c.crcs[:s.blocks(size)]
	if size%int64(s.block) != 0 {
		lo := i * s.block
		c.crcs[i] = crc32.Checksum(data[lo:size], castagnoli)
	}
	for b := range c.bad {
		if b >= len(c.crcs) {
			delete(c.bad, b)
		}
	}
	c.length = size
	f, err := s.fs.OpenFile(s.dataPath(h), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.saveMeta(h, c)
}

// Read returns a chunk's version, its data and the blocks that failed
// their checksums (zeroed in data). Without verification (the
// counter-example) every block is served as the disk holds it.
func (s *Store) Read(h uint64) (version uint64, data []byte, bad []int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chunks[h]
	if c == nil {
		return 0, nil, nil, ErrNoChunk
	}
	data, err = s.readData(h, c.length)
	if err != nil {
		return 0, nil, nil, err
	}
	if s.verify {
		for _, b := range s.badBlocks(c, data) {
			c.bad[b] = true
		}
		for b := range c.bad {
			bad = append(bad, b)
			clear(data[b*s.block : min((b+1)*s.block, len(data))])
		}
		sort.Ints(bad)
	}
	return c.version, data, bad, nil
}

// Delete removes a chunk (garbage collection).
func (s *Store) Delete(h uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chunks[h] == nil {
		return
	}
	delete(s.chunks, h)
	s.remove(h)
}
