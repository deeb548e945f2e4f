package filesystem

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

const testBlock = 64

func openStore(t *testing.T, fsys storage.FS, verify bool) *Store {
	t.Helper()
	s, _, err := OpenStore(fsys, "/d/chunks", testBlock, verify)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendRecords writes n records to chunk 1 and returns the bytes.
func appendRecords(t *testing.T, s *Store, n int) []byte {
	t.Helper()
	var all []byte
	for i := range n {
		rec := encodeRecord(Record{ID: "r" + string(rune('a'+i)), Data: strings.Repeat("x", 30)})
		if err := s.WriteAt(1, 1, int64(len(all)), rec); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec...)
	}
	return all
}

func flipBit(t *testing.T, fsys storage.FS, name string, off int64) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	fsys := memfs.New()
	s := openStore(t, fsys, true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	want := appendRecords(t, s, 5)
	s2 := openStore(t, fsys, true)
	v, got, bad, err := s2.Read(1)
	if err != nil || v != 1 || string(got) != string(want) || len(bad) != 0 {
		t.Fatalf("after reopen: version %d, %d bytes (want %d), bad %v, err %v", v, len(got), len(want), bad, err)
	}
	if recs := decodeChunk(got); len(recs) != 5 || recs[4].ID != "re" {
		t.Fatalf("records %+v", recs)
	}
}

// A flipped bit is caught when the chunk is opened and when it is read;
// without verification (the counter-example) the rotten bytes are served.
func TestStoreCatchesRot(t *testing.T) {
	fsys := memfs.New()
	s := openStore(t, fsys, true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	want := appendRecords(t, s, 5)
	flipBit(t, fsys, "/d/chunks/1.chunk", 100) // block 1
	s2, notes, err := OpenStore(fsys, "/d/chunks", testBlock, true)
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes %q, err %v", notes, err)
	}
	if l := s2.List(); len(l) != 1 || !l[0].Bad {
		t.Fatalf("heartbeat report %+v, want chunk 1 bad", l)
	}
	_, got, bad, _ := s2.Read(1)
	if len(bad) != 1 || bad[0] != 1 {
		t.Fatalf("bad blocks %v, want [1]", bad)
	}
	if string(got[:64]) != string(want[:64]) || string(got[128:]) != string(want[128:]) {
		t.Fatal("intact blocks changed")
	}
	s3 := openStore(t, fsys, false)
	_, got, bad, _ = s3.Read(1)
	if len(bad) != 0 || string(got) == string(want) {
		t.Fatalf("unverified read: bad %v, rotten bytes served: %v", bad, string(got) != string(want))
	}
}

// Extending the last block's checksum from the new bytes alone keeps rot
// already in that block detectable.
func TestStoreIncrementalChecksumKeepsRot(t *testing.T) {
	fsys := memfs.New()
	s := openStore(t, fsys, true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	all := appendRecords(t, s, 1) // 42 bytes: block 0 partial
	flipBit(t, fsys, "/d/chunks/1.chunk", 10)
	if err := s.WriteAt(1, 1, int64(len(all)), []byte("more")); err != nil {
		t.Fatal(err)
	}
	if _, _, bad, _ := s.Read(1); len(bad) != 1 || bad[0] != 0 {
		t.Fatalf("bad blocks %v, want [0]", bad)
	}
}

func TestStoreSurvivesOneHeaderFlip(t *testing.T) {
	fsys := memfs.New()
	s := openStore(t, fsys, true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, s, 2)
	if _, err := s.SetVersion(1, 7); err != nil {
		t.Fatal(err)
	}
	flipBit(t, fsys, "/d/chunks/1.meta", 3)
	s2 := openStore(t, fsys, true)
	if ci, err := s2.Info(1); err != nil || ci.Version != 7 {
		t.Fatalf("info %+v, err %v", ci, err)
	}
}

// A write at an older version is refused; a write before the end cuts
// the unacknowledged tail first (a new primary continuing at the length
// every replica has).
func TestStoreVersionsAndTruncation(t *testing.T) {
	s := openStore(t, memfs.New(), true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	all := appendRecords(t, s, 3)
	if _, err := s.SetVersion(1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAt(1, 1, int64(len(all)), []byte("x")); err == nil {
		t.Fatal("write at version 1 accepted after the bump to 2")
	}
	cut := int64(len(all) / 3)
	rec := encodeRecord(Record{ID: "new", Data: "y"})
	if err := s.WriteAt(1, 2, cut, rec); err != nil {
		t.Fatal(err)
	}
	_, got, bad, _ := s.Read(1)
	if len(bad) != 0 || string(got) != string(all[:cut])+string(rec) {
		t.Fatalf("after truncation: %d bytes, bad %v", len(got), bad)
	}
}

func TestDecodeChunk(t *testing.T) {
	b := append(encodeRecord(Record{ID: "a", Data: "1"}), encodeRecord(Record{ID: "b", Data: "22"})...)
	b = append(b, padding(int64(len(b)), 64)...)
	if recs := decodeChunk(b); len(recs) != 2 || recs[1] != (Record{ID: "b", Data: "22"}) {
		t.Fatalf("records %+v", recs)
	}
	b[1] = 200 // the first id's length now runs past the end
	if recs := decodeChunk(b); len(recs) != 1 || recs[0].ID != garbageID {
		t.Fatalf("unframed bytes decoded as %+v", recs)
	}
}

func TestDedupeKeepsLastCopy(t *testing.T) {
	got := dedupe([]Record{{ID: "a"}, {ID: "b"}, {ID: "a"}, {ID: "c"}})
	if len(got) != 3 || got[0].ID != "b" || got[1].ID != "a" || got[2].ID != "c" {
		t.Fatalf("dedupe: %+v", got)
	}
}

func apply(t *testing.T, ns *namespace, c command) outcome {
	t.Helper()
	b, _ := json.Marshal(c)
	raw, err := json.Marshal(ns.Apply(0, b)) // sessions hand back the remembered JSON
	var o outcome
	if err == nil {
		err = json.Unmarshal(raw, &o)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestNamespace(t *testing.T) {
	ns := newNamespace()
	if o := apply(t, ns, command{Op: "create", Client: "c1", Seq: 1, Path: "/a"}); o.Code != 0 {
		t.Fatal(o)
	}
	if o := apply(t, ns, command{Op: "create", Client: "c1", Seq: 1, Path: "/a"}); o.Code != 0 {
		t.Fatalf("a retried create must get the first answer: %+v", o)
	}
	if o := apply(t, ns, command{Op: "create", Client: "c2", Seq: 1, Path: "/a"}); o.Code != 21 {
		t.Fatalf("second create: %+v", o)
	}
	o := apply(t, ns, command{Op: "add-chunk", Path: "/a", Index: 0})
	o2 := apply(t, ns, command{Op: "add-chunk", Path: "/a", Index: 0}) // a racing writer: no second chunk
	if len(o.Handles) != 1 || len(o2.Handles) != 1 {
		t.Fatalf("add-chunk: %+v %+v", o, o2)
	}
	h := o.Handles[0]
	// Being placed: nothing is garbage yet.
	if ns.garbage("n3", ChunkInfo{Handle: h, Version: 1}, false) {
		t.Fatal("a chunk being placed is garbage")
	}
	apply(t, ns, command{Op: "set-version", Handle: h, Version: 1, Replicas: []string{"n3", "n4"}})
	apply(t, ns, command{Op: "set-version", Handle: h, Version: 2, Replicas: []string{"n3"}})
	for _, tc := range []struct {
		server  string
		version uint64
		busy    bool
		want    bool
	}{
		{"n3", 2, false, false}, // a replica
		{"n4", 1, false, true},  // missed the bump: stale
		{"n5", 2, false, true},  // has the version, never logged: its bump answer was lost
		{"n5", 2, true, false},  // ... unless being cloned
		{"n4", 3, false, false}, // a bump not logged yet
	} {
		if got := ns.garbage(tc.server, ChunkInfo{Handle: h, Version: tc.version}, tc.busy); got != tc.want {
			t.Errorf("garbage(%s v%d busy=%v) = %v, want %v", tc.server, tc.version, tc.busy, got, tc.want)
		}
	}
	apply(t, ns, command{Op: "delete", Client: "c1", Seq: 2, Path: "/a"})
	if !ns.garbage("n3", ChunkInfo{Handle: h, Version: 2}, false) {
		t.Fatal("a deleted file's chunk is not garbage")
	}
	if ns.garbage("n3", ChunkInfo{Handle: h + 5, Version: 1}, false) {
		t.Fatal("a handle not issued yet (the log is ahead of this replica) is garbage")
	}
	if got := ns.list("/"); len(got) != 0 {
		t.Fatalf("list after delete: %v", got)
	}
}

func TestParseArgs(t *testing.T) {
	if _, err := ParseArgs([]string{"--chunk-size", "1000", "--block-size", "256"}); err == nil {
		t.Fatal("blocks that do not divide the chunk accepted")
	}
	o, err := ParseArgs([]string{"--masters", "5", "--skip-checksums"})
	if err != nil || o.Masters != 5 || len(o.Raft.Peers("n0", []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6"})) != 5 || !o.SkipChecksums {
		t.Fatalf("%+v %v", o, err)
	}
}

// A power failure keeps what was acknowledged: the chunk directory's
// name, the data and the metadata are all synced before a write returns.
func TestStoreSurvivesPowerFailure(t *testing.T) {
	fsys := memfs.New()
	s := openStore(t, fsys, true)
	if err := s.Create(1, 1); err != nil {
		t.Fatal(err)
	}
	want := appendRecords(t, s, 3)
	fsys.Crash()
	s2 := openStore(t, fsys, true)
	if _, got, bad, err := s2.Read(1); err != nil || string(got) != string(want) || len(bad) != 0 {
		t.Fatalf("after a power failure: %d of %d bytes, bad %v, err %v", len(got), len(want), bad, err)
	}
}
