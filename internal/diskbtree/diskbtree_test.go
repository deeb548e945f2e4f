package diskbtree

import (
	"errors"
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/engine"
	"github.com/distsys-curriculum/distsys/internal/engine/enginetest"
	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// Small pages so that splits, merges and several levels happen within a
// few hundred operations.
func open(fsys storage.FS, dir string) (engine.Engine, error) {
	return Open(dir, Options{FS: fsys, Sync: true, PageSize: 512})
}

func TestMatchesMapModel(t *testing.T) {
	enginetest.Run(t, open, enginetest.Options{KeyBytes: 24, Keys: 128, MaxValue: 80})
}

func TestCrashPoints(t *testing.T) {
	t.Logf("%d crash points explored", enginetest.CrashPoints(t, open, 60))
}

// Deleting most keys merges pages and returns them to the free list: the
// file stops growing when the same data is written again.
func TestFreeListReusesPages(t *testing.T) {
	fsys := memfs.New()
	db, err := Open("/db", Options{FS: fsys, PageSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	fill := func() {
		for i := range 500 {
			if err := db.Put(fmt.Appendf(nil, "key-%05d", i), make([]byte, 40)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()
	size := db.FileBytes()
	for i := range 500 {
		if err := db.Delete(fmt.Appendf(nil, "key-%05d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if db.meta.root != 0 {
		t.Fatalf("root %d after deleting everything", db.meta.root)
	}
	fill()
	if grown := db.FileBytes(); grown > size*11/10 {
		t.Fatalf("file grew from %d to %d bytes writing the same data again", size, grown)
	}
	db.Close()
}

func TestCorruptPageRefused(t *testing.T) {
	fsys := memfs.New()
	db, _ := Open("/db", Options{FS: fsys, PageSize: 512})
	for i := range 100 {
		db.Put(fmt.Appendf(nil, "key-%05d", i), []byte("value"))
	}
	root := db.meta.root
	db.Close()
	if err := fsys.FlipBit("/db/"+FileName, (int64(root)*512+20)*8+3); err != nil {
		t.Fatal(err)
	}
	db, err := Open("/db", Options{FS: fsys, PageSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Get([]byte("key-00042")); !errors.Is(err, engine.ErrCorrupt) {
		t.Fatalf("Get through a damaged root: %v, want ErrCorrupt", err)
	}
}
