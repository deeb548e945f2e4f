package hashindex

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/engine/enginetest"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

func TestMatchesMapModel(t *testing.T) {
	enginetest.Run(t, open, enginetest.Options{})
}

// Tiny segments so that rollover and compaction run often.
func open(fsys storage.FS, dir string) (engine.Engine, error) {
	return Open(dir, Options{FS: fsys, Sync: true, SegmentBytes: 256, CompactAfter: 3})
}

func TestCrashPoints(t *testing.T) {
	t.Logf("%d crash points explored", enginetest.CrashPoints(t, open, 60))
}

func TestCompactionKeepsLiveDataAndWritesHints(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{SegmentBytes: 256, CompactAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		k := []byte{byte('a' + i%10)}
		if err := db.Put(k, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	before := db.Segments()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if db.Segments() != 2 || before < 5 {
		t.Fatalf("segments %d before, %d after compaction; want many, then 2", before, db.Segments())
	}
	db.Close()
	hints, _ := filepath.Glob(filepath.Join(dir, "*.hint"))
	if len(hints) != 1 {
		t.Fatalf("hint files %v", hints)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok, _ := db.Get([]byte("a")); ok {
		t.Fatal("deleted key back after compaction")
	}
	if v, ok, _ := db.Get([]byte("j")); !ok || v[0] != 199 {
		t.Fatalf("j = %v, %v; want 199", v, ok)
	}
}

func TestTornTailTruncatedCorruptMiddleRefused(t *testing.T) {
	dir := t.TempDir()
	db, _ := Open(dir, Options{})
	db.Put([]byte("k1"), []byte("v1"))
	db.Put([]byte("k2"), []byte("v2"))
	db.Close()
	name := filepath.Join(dir, "000000.data")
	b, _ := os.ReadFile(name)
	// A torn write: the last record loses its final byte.
	os.WriteFile(name, b[:len(b)-1], 0o644)
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open after torn tail: %v", err)
	}
	if _, ok, _ := db.Get([]byte("k2")); ok {
		t.Fatal("torn record served")
	}
	if v, ok, _ := db.Get([]byte("k1")); !ok || string(v) != "v1" {
		t.Fatalf("k1 = %q %v", v, ok)
	}
	db.Put([]byte("k3"), []byte("v3"))
	db.Close()
	// A flipped bit in the first record, with a good record after it.
	b, _ = os.ReadFile(name)
	b[13] ^= 1
	os.WriteFile(name, b, 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, engine.ErrCorrupt) {
		t.Fatalf("open with a corrupt record: %v, want ErrCorrupt", err)
	}
}
