package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, fsys storage.FS, opts Options) *Log {
	t.Helper()
	l, err := Open(fsys, "/d", opts)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func all(t *testing.T, l *Log) []string {
	t.Helper()
	var out []string
	must(t, l.Iterate(0, func(i uint64, rec []byte) error {
		out = append(out, fmt.Sprintf("%d:%s", i, rec))
		return nil
	}))
	return out
}

func TestAppendReadRollover(t *testing.T) {
	m := memfs.New()
	l := open(t, m, Options{SegmentSize: 64})
	for i := range 10 {
		idx, err := l.Append(fmt.Appendf(nil, "record %d", i))
		must(t, err)
		if idx != uint64(i+1) {
			t.Fatalf("index %d, want %d", idx, i+1)
		}
	}
	first, err := l.Append([]byte("x"), []byte("y"))
	must(t, err)
	if first != 11 || l.LastIndex() != 12 {
		t.Fatalf("batch at %d, last %d", first, l.LastIndex())
	}
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("%d segments: no rollover", n)
	}
	got, err := l.Read(4)
	must(t, err)
	if string(got) != "record 3" {
		t.Fatalf("Read(4) = %q", got)
	}
	want := all(t, l)
	must(t, l.Close())
	m.Crash() // SyncEvery: everything was durable
	l2 := open(t, m, Options{SegmentSize: 64})
	if got := all(t, l2); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after reopen\n%v\nwant\n%v", got, want)
	}
	if l2.Recovered() != (Recovery{}) {
		t.Fatalf("recovered %+v on a clean log", l2.Recovered())
	}
}

func TestTruncateFrontAndBack(t *testing.T) {
	m := memfs.New()
	l := open(t, m, Options{SegmentSize: 40})
	for i := 1; i <= 12; i++ {
		_, err := l.Append(fmt.Appendf(nil, "r%02d", i))
		must(t, err)
	}
	must(t, l.TruncateFront(7))
	if f := l.FirstIndex(); f > 7 || f == 1 {
		t.Fatalf("FirstIndex %d after TruncateFront(7)", f)
	}
	must(t, l.TruncateBack(9))
	_, err := l.Append([]byte("new10"))
	must(t, err)
	must(t, l.Close())
	m.Crash()
	l2 := open(t, m, Options{SegmentSize: 40})
	got := all(t, l2)
	if got[len(got)-1] != "10:new10" || got[len(got)-2] != "9:r09" {
		t.Fatalf("after truncations: %v", got)
	}
	if err := l2.TruncateBack(l2.FirstIndex() - 2); err == nil {
		t.Fatal("truncation below the first record accepted")
	}
	must(t, l2.TruncateBack(l2.FirstIndex()-1))
	if l2.LastIndex() != l2.FirstIndex()-1 {
		t.Fatalf("not empty: %d..%d", l2.FirstIndex(), l2.LastIndex())
	}
}

// Damage in the middle of the log is refused with the file and offset.
func TestCorruptMiddleRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		bit  func(sizes []int64) (seg int, bit int64)
	}{
		{"body of a sealed segment", func([]int64) (int, int64) { return 0, (headerSize + 2) * 8 }},
		{"length of a sealed segment's record", func([]int64) (int, int64) { return 0, 3 }},
		{"first record of the last segment", func([]int64) (int, int64) { return -1, (headerSize + 1) * 8 }},
		{"last record of the last segment", func(s []int64) (int, int64) { return -1, (s[len(s)-1] - 2) * 8 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memfs.New()
			l := open(t, m, Options{SegmentSize: 50})
			for i := range 9 {
				_, err := l.Append(fmt.Appendf(nil, "record-%d", i))
				must(t, err)
			}
			segs := l.Segments()
			must(t, l.Close())
			var sizes []int64
			for _, s := range segs {
				sizes = append(sizes, s.Size)
			}
			k, bit := tc.bit(sizes)
			if k < 0 {
				k = len(segs) - 1
			}
			name := filepath.Join("/d", segs[k].Name)
			must(t, m.FlipBit(name, bit))
			_, err := Open(m, "/d", Options{SegmentSize: 50})
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want a CorruptError", err)
			}
			if ce.File != name || ce.Offset < 0 || ce.Offset > bit/8 {
				t.Fatalf("error names %s at %d; the flip was in %s at byte %d", ce.File, ce.Offset, name, bit/8)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("message %q does not name the file", err)
			}
		})
	}
}

// With Salvage, the same damage keeps exactly the records before it, and
// the log appends after them.
func TestSalvageKeepsPrefix(t *testing.T) {
	for k := range 5 {
		t.Run(fmt.Sprint("segment ", k), func(t *testing.T) {
			m := memfs.New()
			l := open(t, m, Options{SegmentSize: 50})
			for i := range 9 {
				_, err := l.Append(fmt.Appendf(nil, "record-%d", i))
				must(t, err)
			}
			segs := l.Segments()
			must(t, l.Close())
			if k >= len(segs) {
				t.Skip("fewer segments")
			}
			must(t, m.FlipBit(filepath.Join("/d", segs[k].Name), (headerSize+2)*8))
			l2, err := Open(m, "/d", Options{SegmentSize: 50, Salvage: true})
			must(t, err)
			defer l2.Close()
			rec := l2.Recovered()
			if rec.Corrupt == nil || rec.Corrupt.File != filepath.Join("/d", segs[k].Name) || rec.Bytes == 0 {
				t.Fatalf("Recovered = %+v, want the damage in %s", rec, segs[k].Name)
			}
			got := all(t, l2)
			keep := int(segs[k].First) - 1
			if len(got) != keep {
				t.Fatalf("kept %d records %v, want the %d before the damage", len(got), got, keep)
			}
			_, err = l2.Append([]byte("after"))
			must(t, err)
			must(t, l2.Close())
			l3, err := Open(m, "/d", Options{SegmentSize: 50})
			must(t, err)
			defer l3.Close()
			if got := all(t, l3); len(got) != keep+1 || got[keep] != fmt.Sprintf("%d:after", keep+1) {
				t.Fatalf("after salvage and an append: %v", got)
			}
		})
	}
}

// Damage after Open is caught by Read, not returned as data.
func TestReadChecksAgain(t *testing.T) {
	m := memfs.New()
	l := open(t, m, Options{})
	_, err := l.Append([]byte("hello"), []byte("world"))
	must(t, err)
	must(t, m.FlipBit("/d/"+segmentName(1), (headerSize+1)*8))
	if _, err := l.Read(1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read of a damaged record: %v", err)
	}
	if err := l.Iterate(1, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Iterate over a damaged record: %v", err)
	}
}

// What a crash leaves of the last write, in each shape, is cut away.
func TestTornTailShapes(t *testing.T) {
	body := []byte(strings.Repeat("z", 1500))
	for _, tc := range []struct {
		name   string
		damage func(rec []byte, off int) []byte
	}{
		{"cut in the header", func(rec []byte, _ int) []byte { return rec[:5] }},
		{"cut in the body", func(rec []byte, _ int) []byte { return rec[:700] }},
		{"zeros appended", func(rec []byte, _ int) []byte { return make([]byte, 4096) }},
		{"middle sector never written", func(rec []byte, off int) []byte {
			out := append([]byte(nil), rec...)
			s := (off/sectorSize+2)*sectorSize - off
			clear(out[s : s+sectorSize])
			return out
		}},
		{"last piece never written", func(rec []byte, off int) []byte {
			out := append([]byte(nil), rec...)
			s := ((off+len(rec))/sectorSize)*sectorSize - off
			clear(out[s:])
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memfs.New()
			l := open(t, m, Options{})
			_, err := l.Append([]byte("kept-1"), []byte("kept-2"))
			must(t, err)
			size := l.Segments()[0].Size
			must(t, l.Close())
			f, err := m.OpenFile("/d/"+segmentName(1), os.O_RDWR, 0)
			must(t, err)
			_, err = f.Seek(size, io.SeekStart)
			must(t, err)
			_, err = f.Write(tc.damage(appendRecord(nil, body), int(size)))
			must(t, err)
			must(t, f.Sync())
			l2 := open(t, m, Options{})
			if got := all(t, l2); strings.Join(got, ",") != "1:kept-1,2:kept-2" {
				t.Fatalf("recovered %v", got)
			}
			if r := l2.Recovered(); r.Offset != size || r.Bytes == 0 {
				t.Fatalf("Recovered = %+v, want a cut at %d", r, size)
			}
			_, err = l2.Append([]byte("after"))
			must(t, err)
		})
	}
}

// blockingFS holds the first fsync until released, so that a test can
// line appenders up behind it.
type blockingFS struct {
	*memfs.FS
	once             sync.Once
	entered, release chan struct{}
}

type blockingFile struct {
	storage.File
	fs *blockingFS
}

func (b *blockingFS) OpenFile(name string, flag int, perm fs.FileMode) (storage.File, error) {
	f, err := b.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return blockingFile{f, b}, nil
}

func (f blockingFile) Sync() error {
	f.fs.once.Do(func() { close(f.fs.entered); <-f.fs.release })
	return f.File.Sync()
}

// Group commit: appenders that arrive during an fsync share the next one.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	b := &blockingFS{FS: memfs.New(), entered: make(chan struct{}), release: make(chan struct{})}
	l := open(t, b, Options{Sync: SyncGroup})
	before := l.Stats()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = l.Append([]byte("first")) }()
	<-b.entered
	const n = 7
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = l.Append(fmt.Appendf(nil, "rec %d", i)) }()
	}
	for deadline := time.Now().Add(10 * time.Second); l.Stats().Records < n+1; {
		if time.Now().After(deadline) {
			t.Fatal("appenders did not write")
		}
		time.Sleep(time.Millisecond)
	}
	close(b.release)
	wg.Wait()
	st := l.Stats()
	if got := st.Fsyncs - before.Fsyncs; got != 2 {
		t.Fatalf("%d fsyncs for %d records, want 2", got, st.Records)
	}
	t.Logf("records per fsync: %.1f", st.RecordsPerFsync())
	b.Crash()
	l2 := open(t, b.FS, Options{})
	if l2.LastIndex() != n+1 {
		t.Fatalf("%d records durable, want %d", l2.LastIndex(), n+1)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{SyncEvery, SyncGroup, SyncNone} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePolicy(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

// A failed fsync is sticky: the log stops rather than retry it.
func TestFsyncErrorIsSticky(t *testing.T) {
	m := memfs.New()
	l := open(t, m, Options{})
	m.CrashAfter(m.Ops() + 2) // the write, then the fsync fails
	if _, err := l.Append([]byte("a")); err == nil {
		t.Fatal("append survived a failed fsync")
	}
	m.Crash()
	if _, err := l.Append([]byte("b")); err == nil {
		t.Fatal("log kept going after a failed fsync")
	}
}

// A buffered SyncNone log writes records only when the buffer fills or
// something needs them in the file: reads, syncs, rolls and Close see
// every record; a crash before any of them loses what was only buffered.
func TestBufferedAppends(t *testing.T) {
	m := memfs.New()
	opts := Options{SegmentSize: 256, Sync: SyncNone, Buffer: 100}
	l := open(t, m, opts)
	var want []string
	for i := range 40 {
		idx, err := l.Append(fmt.Appendf(nil, "r%d", i))
		must(t, err)
		want = append(want, fmt.Sprintf("%d:r%d", idx, i))
		if i == 20 {
			got, err := l.Read(idx)
			must(t, err)
			if string(got) != "r20" {
				t.Fatalf("Read of a buffered record: %q", got)
			}
		}
	}
	if got := all(t, l); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("iterate\n%v\nwant\n%v", got, want)
	}
	must(t, l.Sync())
	_, err := l.Append([]byte("buffered only"))
	must(t, err)
	m.Crash()
	l2 := open(t, m, opts)
	if got := all(t, l2); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after a crash: the synced records, nothing else\n%v\nwant\n%v", got, want)
	}
	_, err = l2.Append([]byte("flushed by close"))
	must(t, err)
	must(t, l2.Close())
	l3 := open(t, m, opts)
	if n := len(all(t, l3)); n != len(want)+1 {
		t.Fatalf("%d records after Close, want %d", n, len(want)+1)
	}
}
