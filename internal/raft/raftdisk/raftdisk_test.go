package raftdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/raft"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

func ents(term uint64, lo, hi uint64) []raft.Entry {
	var es []raft.Entry
	for i := lo; i <= hi; i++ {
		es = append(es, raft.Entry{Index: i, Term: term, Data: fmt.Appendf(nil, "e%d.%d", term, i)})
	}
	return es
}

// The tests run on an in-memory disk: a crash is fsys.Crash(), and the
// wal's segment files are edited in place to stage torn writes and damage.
var fsys = memfs.New()

var dirs int

// tempDir returns a fresh directory on fsys.
func tempDir() string {
	dirs++
	return fmt.Sprintf("/t/%d", dirs)
}

// segment returns the path of the last wal segment in dir.
func segment(t *testing.T, dir string) string {
	t.Helper()
	ents, err := fsys.ReadDir(filepath.Join(dir, WALDir))
	noErr(t, err)
	return filepath.Join(dir, WALDir, ents[len(ents)-1].Name())
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := storage.ReadFile(fsys, name)
	noErr(t, err)
	return b
}

// writeFile replaces name's content, durably.
func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	noErr(t, err)
	_, err = f.Write(b)
	noErr(t, err)
	noErr(t, f.Sync())
	noErr(t, f.Close())
	noErr(t, fsys.SyncDir(filepath.Dir(name)))
}

func mustOpen(t *testing.T, dir string) *Storage {
	t.Helper()
	s, err := Open(fsys, dir)
	noErr(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func load(t *testing.T, s *Storage) (raft.HardState, *raft.Snapshot, []raft.Entry) {
	t.Helper()
	hs, snap, es, err := s.Load()
	noErr(t, err)
	return hs, snap, es
}

func TestRoundTrip(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	hs := raft.HardState{Term: 3, Vote: "n2", Commit: 4}
	noErr(t, s.Save(raft.Update{HardState: hs, Entries: ents(1, 1, 5)}))
	// A new leader overwrites the tail from index 4.
	noErr(t, s.Save(raft.Update{Entries: ents(3, 4, 6)}))
	noErr(t, s.Close())

	s2 := mustOpen(t, dir)
	gotHS, snap, es := load(t, s2)
	eq(t, hs, gotHS)
	if snap != nil {
		t.Fatalf("unexpected snapshot %+v", snap)
	}
	want := append(ents(1, 1, 3), ents(3, 4, 6)...)
	eq(t, want, es)
	eq(t, RecoveryInfo{}, s2.Recovered)
}

func TestRefusesGap(t *testing.T) {
	s := mustOpen(t, tempDir())
	noErr(t, s.Save(raft.Update{Entries: ents(1, 1, 2)}))
	if err := s.Save(raft.Update{Entries: ents(1, 4, 4)}); err == nil {
		t.Fatal("append leaving a gap accepted")
	}
}

// A crash mid-write leaves a partial record at the end of the wal: every
// cut inside the last record recovers the state before it, and the
// storage stays writable.
func TestTornTailRecovery(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	noErr(t, s.Save(raft.Update{HardState: raft.HardState{Term: 1, Commit: 2}, Entries: ents(1, 1, 3)}))
	walPath := segment(t, dir)
	good := int64(len(readFile(t, walPath)))
	big := raft.Entry{Index: 4, Term: 1, Data: make([]byte, 3000)}
	for i := range big.Data {
		big.Data[i] = byte(i%250 + 1)
	}
	noErr(t, s.Save(raft.Update{Entries: []raft.Entry{big}}))
	noErr(t, s.Close())
	full := readFile(t, walPath)

	for cut := good + 1; cut < int64(len(full)); cut += 97 {
		d := tempDir()
		noErr(t, fsys.MkdirAll(filepath.Join(d, WALDir), 0o755))
		seg := filepath.Join(d, WALDir, filepath.Base(walPath))
		writeFile(t, seg, full[:cut])
		s := mustOpen(t, d)
		hs, _, es := load(t, s)
		eq(t, ents(1, 1, 3), es, "cut at ", cut)
		eq(t, uint64(2), hs.Commit)
		eq(t, RecoveryInfo{File: seg, TruncatedAt: good, TruncatedBytes: cut - good}, s.Recovered)
		// Writable after recovery, and the repair is durable.
		noErr(t, s.Save(raft.Update{Entries: ents(2, 4, 4)}))
		noErr(t, s.Close())
		fsys.Crash()
		s2 := mustOpen(t, d)
		_, _, es = load(t, s2)
		eq(t, append(ents(1, 1, 3), ents(2, 4, 4)...), es)
		eq(t, RecoveryInfo{}, s2.Recovered)
	}
}

// recordBytes returns the bytes that saving u appends to the wal of a
// storage holding entries 1..n of term 1.
func recordBytes(t *testing.T, n uint64, u raft.Update) []byte {
	t.Helper()
	dir := tempDir()
	s := mustOpen(t, dir)
	noErr(t, s.Save(raft.Update{Entries: ents(1, 1, n)}))
	before := len(readFile(t, segment(t, dir)))
	noErr(t, s.Save(u))
	return readFile(t, segment(t, dir))[before:]
}

// A torn write may also persist later sectors but not earlier ones: a
// zeroed sector inside the last record, or zeros after it.
func TestTornTailZeros(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	noErr(t, s.Save(raft.Update{Entries: ents(1, 1, 2)}))
	noErr(t, s.Close())
	walPath := segment(t, dir)
	good := readFile(t, walPath)

	// Zeros appended (a preallocated block).
	writeFile(t, walPath, append(slices.Clone(good), make([]byte, 4096)...))
	s = mustOpen(t, dir)
	_, _, es := load(t, s)
	eq(t, ents(1, 1, 2), es)
	noErr(t, s.Close())

	// A big record whose middle sector never reached the disk, followed by
	// a small record that did.
	big := raft.Entry{Index: 3, Term: 1, Data: make([]byte, 2048)}
	for i := range big.Data {
		big.Data[i] = 0xAB
	}
	tail := recordBytes(t, 2, raft.Update{Entries: []raft.Entry{big}})
	tail = append(tail, recordBytes(t, 3, raft.Update{Entries: ents(1, 4, 4)})...)
	file := append(slices.Clone(good), tail...)
	sector := (len(good)/512 + 2) * 512
	clear(file[sector : sector+512])
	writeFile(t, walPath, file)
	s = mustOpen(t, dir)
	_, _, es = load(t, s)
	eq(t, ents(1, 1, 2), es)
	eq(t, int64(len(good)), s.Recovered.TruncatedAt)
}

// A damaged record with intact records after it is not a torn write: Open
// keeps the records before it, names the damage, and marks the hard state
// Repairing, durably (a second Open, with no new damage, still says so).
func TestCorruptionDetected(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	for i := uint64(1); i <= 5; i++ {
		noErr(t, s.Save(raft.Update{HardState: raft.HardState{Term: 3, Vote: "n2", Commit: i - 1}, Entries: ents(3, i, i)}))
	}
	noErr(t, s.Close())
	walPath := segment(t, dir)
	size := int64(len(readFile(t, walPath)))
	noErr(t, fsys.FlipBit(walPath, size*8/2)) // somewhere in the middle
	s = mustOpen(t, dir)
	if d := s.Recovered.Damage; !strings.Contains(d, walPath+" at offset ") || !strings.Contains(d, "corrupt") {
		t.Fatalf("Recovered.Damage = %q, want the segment and offset", d)
	}
	hs, _, es := load(t, s)
	if !hs.Repairing || len(es) >= 5 || hs.Commit > uint64(len(es)) {
		t.Fatalf("after damage: hard state %+v, %d entries; want Repairing, fewer than 5 entries, commit within them", hs, len(es))
	}
	eq(t, ents(3, 1, uint64(len(es))), es, "the kept prefix")
	noErr(t, s.Close())
	s = mustOpen(t, dir)
	hs2, _, es2 := load(t, s)
	eq(t, hs, hs2, "the mark survives a restart")
	eq(t, es, es2)
	// Once repaired, the raft core saves a hard state without the mark.
	noErr(t, s.Save(raft.Update{HardState: raft.HardState{Term: 4, Vote: "n1", Commit: 2}}))
	noErr(t, s.Close())
	s = mustOpen(t, dir)
	hs3, _, _ := load(t, s)
	eq(t, raft.HardState{Term: 4, Vote: "n1", Commit: 2}, hs3)
	eq(t, "", s.Recovered.Damage)
}

func TestSnapshotCompactsWAL(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	hs := raft.HardState{Term: 2, Vote: "n1", Commit: 90}
	noErr(t, s.Save(raft.Update{HardState: hs, Entries: ents(2, 1, 100)}))
	before := walSize(t, dir)
	snap := &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 90, Term: 2, Peers: []string{"n1", "n2", "n3"}}, Data: []byte("state@90")}
	noErr(t, s.Save(raft.Update{Snapshot: snap, Entries: ents(2, 101, 101)}))
	after := walSize(t, dir)
	if after >= before/5 {
		t.Fatalf("wal not compacted: %d bytes, was %d", after, before)
	}
	noErr(t, s.Close())

	s2 := mustOpen(t, dir)
	gotHS, gotSnap, es := load(t, s2)
	eq(t, hs, gotHS)
	eq(t, snap, gotSnap)
	eq(t, ents(2, 91, 101), es)

	// An older snapshot is ignored; a snapshot from a leader that does not
	// match the log replaces all of it.
	noErr(t, s2.Save(raft.Update{Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 50, Term: 2}}}))
	other := &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 95, Term: 3}, Data: []byte("state@95")}
	noErr(t, s2.Save(raft.Update{Snapshot: other}))
	_, gotSnap, es = load(t, s2)
	eq(t, other, gotSnap)
	eq(t, 0, len(es))
}

// A crash after the snapshot file was renamed into place but before the
// wal was rewritten: Open finishes the job.
func TestCrashBetweenSnapshotAndWALRewrite(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	noErr(t, s.Save(raft.Update{HardState: raft.HardState{Term: 1, Commit: 8}, Entries: ents(1, 1, 10)}))
	snap := &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 8, Term: 1}, Data: []byte("s8")}
	noErr(t, s.writeSnapshot(snap))
	noErr(t, s.Close())

	s2 := mustOpen(t, dir)
	_, got, es := load(t, s2)
	eq(t, snap, got)
	eq(t, ents(1, 9, 10), es)
	noErr(t, s2.Close())
	s3 := mustOpen(t, dir)
	_, _, es = load(t, s3)
	eq(t, ents(1, 9, 10), es)
}

// A damaged snapshot is dropped with the log that follows it (the state
// machine could not use it); the hard state is kept, marked Repairing.
func TestSnapshotFileCorruption(t *testing.T) {
	dir := tempDir()
	s := mustOpen(t, dir)
	noErr(t, s.Save(raft.Update{HardState: raft.HardState{Term: 2, Commit: 5}, Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 5, Term: 1}, Data: []byte("x")}, Entries: ents(2, 6, 7)}))
	noErr(t, s.Close())
	p := filepath.Join(dir, SnapshotFile)
	noErr(t, fsys.FlipBit(p, int64(len(readFile(t, p))*8-1)))
	s = mustOpen(t, dir)
	if !strings.Contains(s.Recovered.Damage, "snapshot checksum") {
		t.Fatalf("Recovered.Damage = %q", s.Recovered.Damage)
	}
	hs, snap, es := load(t, s)
	eq(t, raft.HardState{Term: 2, Repairing: true}, hs)
	if snap != nil || len(es) != 0 {
		t.Fatalf("kept snapshot %v and %d entries after the snapshot was lost", snap, len(es))
	}
	noErr(t, s.Close())
	s = mustOpen(t, dir)
	hs, _, _ = load(t, s)
	eq(t, raft.HardState{Term: 2, Repairing: true}, hs)
}

// walSize is the total size of the wal's segments.
func walSize(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := fsys.ReadDir(filepath.Join(dir, WALDir))
	noErr(t, err)
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		noErr(t, err)
		n += fi.Size()
	}
	return n
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eq(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s\nwant %+v\n got %+v", fmt.Sprint(msg...), want, got)
	}
}
