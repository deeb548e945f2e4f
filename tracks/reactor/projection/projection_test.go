package projection

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
	"github.com/distsys-curriculum/distsys/tracks/reactor/eventstore"
)

func TestCatchUpResumesFromCheckpoint(t *testing.T) {
	s := eventstore.New()
	add := func(stream, body string) {
		s.Append([]eventstore.Write{{Stream: stream, Expected: s.Version(stream), Events: []json.RawMessage{json.RawMessage(body)}}})
	}
	add("a", `{"type":"opened"}`)
	add("a", `{"type":"deposited","amount":50}`)
	add("b", `{"type":"opened"}`)
	m := New()
	reads := 0
	read := func(from int64, max int) []eventstore.Record { reads++; return s.ReadAll(from, max) }
	if n, err := m.CatchUp(read, 2); err != nil || n != 3 {
		t.Fatalf("catch-up applied %d: %v", n, err)
	}
	fsys := memfs.New()
	if err := m.Save(fsys, "/rm.json"); err != nil {
		t.Fatal(err)
	}
	add("a", `{"type":"transfer_out","amount":20,"peer":"b"}`)
	add("b", `{"type":"transfer_in","amount":20,"peer":"a"}`)
	// A restart: the model comes back at its checkpoint and applies only
	// what came after it.
	r, err := Load(fsys, "/rm.json")
	if err != nil || r.Position != 3 {
		t.Fatalf("loaded checkpoint %d: %v", r.Position, err)
	}
	if n, _ := r.CatchUp(read, 100); n != 2 {
		t.Fatalf("resumed catch-up applied %d records, want 2", n)
	}
	if got := fmt.Sprint(r.View()); got != "map[a:30 b:20]" || r.Position != 5 {
		t.Fatalf("read model %s at %d", got, r.Position)
	}
	// Applying a record twice, or out of order, is refused.
	if err := r.Apply(s.ReadAll(5, 1)[0]); err == nil {
		t.Fatal("a record applied twice")
	}
	if m, err := Load(fsys, "/missing.json"); err != nil || m.Position != 0 {
		t.Fatalf("missing checkpoint: %v %v", m, err)
	}
}
