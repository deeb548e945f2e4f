package memfs

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

func read(t *testing.T, m *FS, name string) string {
	t.Helper()
	b, err := storage.ReadFile(m, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func create(t *testing.T, m *FS, name string) storage.File {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadWriteSeekTruncate(t *testing.T) {
	m := New()
	must(t, m.MkdirAll("/d/e", 0o755))
	f := create(t, m, "/d/e/f")
	_, err := f.Write([]byte("hello world"))
	must(t, err)
	_, err = f.Seek(6, io.SeekStart)
	must(t, err)
	_, err = f.Write([]byte("WORLD!"))
	must(t, err)
	if got := read(t, m, "/d/e/f"); got != "hello WORLD!" {
		t.Fatalf("got %q", got)
	}
	buf := make([]byte, 5)
	n, err := f.ReadAt(buf, 9)
	if n != 3 || err != io.EOF || string(buf[:n]) != "LD!" {
		t.Fatalf("ReadAt = %d %v %q", n, err, buf[:n])
	}
	must(t, f.Truncate(5))
	if got := read(t, m, "/d/e/f"); got != "hello" {
		t.Fatalf("after truncate %q", got)
	}
	a, err := m.OpenFile("/d/e/f", os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = a.Write([]byte("!"))
	must(t, err)
	if got := read(t, m, "/d/e/f"); got != "hello!" {
		t.Fatalf("after append %q", got)
	}
	ents, err := m.ReadDir("/d")
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != "e" || !ents[0].IsDir() {
		t.Fatalf("ReadDir = %v", ents)
	}
	if _, err := m.OpenFile("/d/missing", os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := m.OpenFile("/d/e/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0); !errors.Is(err, os.ErrExist) {
		t.Fatalf("O_EXCL: %v", err)
	}
}

// Only what was synced survives, names included.
func TestCrashKeepsOnlyDurableState(t *testing.T) {
	m := New()
	must(t, m.MkdirAll("/d", 0o755))
	f := create(t, m, "/d/synced")
	_, _ = f.Write([]byte("durable"))
	must(t, f.Sync())
	must(t, m.SyncDir("/d"))
	_, _ = f.Write([]byte(" volatile"))

	g := create(t, m, "/d/unnamed") // content synced, name never
	_, _ = g.Write([]byte("x"))
	must(t, g.Sync())

	m.Crash()
	if got := read(t, m, "/d/synced"); got != "durable" {
		t.Fatalf("synced file = %q", got)
	}
	if ok, _ := storage.Exists(m, "/d/unnamed"); ok {
		t.Fatal("file whose directory entry was never synced survived")
	}
	if _, err := f.Write([]byte("zombie")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("old incarnation's file still writable: %v", err)
	}
}

func TestRenameDurableOnlyAfterSyncDir(t *testing.T) {
	m := New()
	must(t, m.MkdirAll("/d", 0o755))
	must(t, storage.WriteFileAtomic(m, "/d/state", []byte("v1"), 0o644))
	// A rename without SyncDir: the crash brings the old name back.
	f := create(t, m, "/d/state.tmp")
	_, _ = f.Write([]byte("v2"))
	must(t, f.Sync())
	must(t, m.Rename("/d/state.tmp", "/d/state"))
	m.Crash()
	if got := read(t, m, "/d/state"); got != "v1" {
		t.Fatalf("state = %q, want v1", got)
	}
	must(t, storage.WriteFileAtomic(m, "/d/state", []byte("v3"), 0o644))
	m.Crash()
	if got := read(t, m, "/d/state"); got != "v3" {
		t.Fatalf("state = %q, want v3", got)
	}
}

func TestCrashAfterAndTornWrite(t *testing.T) {
	m := New()
	must(t, m.MkdirAll("/d", 0o755))
	f := create(t, m, "/d/log")
	must(t, m.SyncDir("/d")) // op 1
	_, err := f.Write([]byte("aaaa"))
	must(t, err)      // op 2
	must(t, f.Sync()) // op 3
	m.CrashAfter(5)
	_, err = f.Write([]byte("bbbb")) // op 4
	must(t, err)
	_, err = f.Write([]byte("cccc")) // op 5: the crash point
	if !errors.Is(err, ErrCrashed) {
		t.Fatalf("write at the crash point: %v", err)
	}
	if _, err := m.Stat("/d/log"); !errors.Is(err, ErrCrashed) || !m.Stopped() {
		t.Fatalf("FS still running after its crash point: %v", err)
	}
	if m.Ops() != 5 || m.LastWriteSize() != 4 {
		t.Fatalf("Ops %d LastWriteSize %d", m.Ops(), m.LastWriteSize())
	}
	m.CrashTorn(2)
	if got := read(t, m, "/d/log"); got != "aaaabbbbcc" {
		t.Fatalf("torn = %q", got)
	}
	// The torn state is now what the disk holds.
	m.Crash()
	if got := read(t, m, "/d/log"); got != "aaaabbbbcc" {
		t.Fatalf("after second crash %q", got)
	}
}

func TestFlipBit(t *testing.T) {
	m := New()
	must(t, m.MkdirAll("/d", 0o755))
	must(t, storage.WriteFileAtomic(m, "/d/x", []byte("AB"), 0o644))
	must(t, m.FlipBit("/d/x", 9)) // 'B' = 0x42 -> 0x40 '@'
	if got := read(t, m, "/d/x"); got != "A@" {
		t.Fatalf("got %q", got)
	}
	m.Crash()
	if got := read(t, m, "/d/x"); got != "A@" {
		t.Fatalf("flip did not reach the disk: %q", got)
	}
	if err := m.FlipBit("/d/x", 16); err == nil {
		t.Fatal("flip beyond the end accepted")
	}
	if got := m.FilesUnder("/d"); len(got) != 1 || got[0] != "/d/x" {
		t.Fatalf("FilesUnder = %v", got)
	}
}

// A run that outlives its crash (a background flush of a killed node) can
// no longer change by name what the next run finds.
func TestIncarnationEndsWithTheCrash(t *testing.T) {
	m := New()
	old := m.Incarnation()
	if err := old.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteFileAtomic(old, "/d/manifest", []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Crash()
	next := m.Incarnation()
	for what, err := range map[string]error{
		"rename":  old.Rename("/d/manifest", "/d/gone"),
		"remove":  old.Remove("/d/manifest"),
		"syncdir": old.SyncDir("/d"),
		"mkdir":   old.MkdirAll("/e", 0o755),
	} {
		if !errors.Is(err, ErrCrashed) {
			t.Errorf("%s through the crashed incarnation: %v, want ErrCrashed", what, err)
		}
	}
	if _, err := old.OpenFile("/d/manifest", os.O_RDONLY, 0); !errors.Is(err, ErrCrashed) {
		t.Errorf("open through the crashed incarnation: %v, want ErrCrashed", err)
	}
	if _, err := old.Stat("/d/manifest"); !errors.Is(err, ErrCrashed) {
		t.Errorf("stat through the crashed incarnation: %v, want ErrCrashed", err)
	}
	if b, err := storage.ReadFile(next, "/d/manifest"); err != nil || string(b) != "v1" {
		t.Fatalf("the next incarnation reads %q, %v; want v1", b, err)
	}
	if err := next.Rename("/d/manifest", "/d/m2"); err != nil {
		t.Fatalf("the next incarnation cannot rename: %v", err)
	}
	if _, err := m.Stat("/d/m2"); err != nil {
		t.Fatalf("the FS itself does not see the next incarnation's rename: %v", err)
	}
}
