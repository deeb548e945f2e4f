package dht

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// restart brings a killed node back as a new Core that restores what its
// disk (nil: nothing, the volatile node) kept, and rejoins the ring.
func (s *sim) restart(id string, all []string, cfg Config, disk map[string]Entry) {
	c := cfg
	c.Self, c.Nodes = id, all
	if disk != nil {
		c.OnKeep = func(e Entry) error { disk[e.Key] = e; return nil }
	}
	core := New(c, simClock{s}, simTransport{s, id})
	var kept []Entry
	for _, e := range disk {
		kept = append(kept, e)
	}
	core.Restore(kept)
	core.Start(all)
	s.nodes[id] = core
	delete(s.dead, id)
}

// Every replica of a key killed at once and restarted: durable nodes
// come back with their copies, volatile ones without.
func TestRestartedReplicasKeepTheirCopies(t *testing.T) {
	for _, durable := range []bool{true, false} {
		all := names(5)
		cfg := Config{Replicas: 3}
		s := newSim(t, all, all, cfg)
		disks := map[string]map[string]Entry{}
		for _, id := range all {
			disks[id] = map[string]Entry{}
			if durable {
				d := disks[id]
				s.nodes[id].cfg.OnKeep = func(e Entry) error { d[e.Key] = e; return nil }
			}
		}
		s.run(time.Second)
		s.put("n0", "k", 7)
		owners, _ := s.lookup("n0", "k")
		owners = owners[:3]
		for _, o := range owners {
			s.dead[o] = true
		}
		s.run(time.Second)
		for _, o := range owners {
			var disk map[string]Entry
			if durable {
				disk = disks[o]
			}
			s.restart(o, all, cfg, disk)
		}
		// Long enough for the suspicion of the restarted nodes
		// (SuspectFor) to end everywhere and the ring to heal.
		s.run(5 * time.Second)
		v, found := s.get("n0", "k")
		if durable && (!found || v != "7") {
			t.Errorf("durable: k after its replicas restarted = %q, %v; want 7", v, found)
		}
		if !durable && found {
			t.Errorf("volatile: k = %q after every replica restarted empty; want it gone", v)
		}
		if _, ok := s.nodes[owners[0]].Stored("k"); durable && !ok {
			t.Errorf("durable: restarted owner %s has no local copy of k", owners[0])
		}
	}
}

// A replica whose storage fails does not acknowledge the write, so the
// put does not report success.
func TestFailedKeepIsNotAcknowledged(t *testing.T) {
	all := names(3)
	s := newSim(t, all, all, Config{Replicas: 3})
	for _, id := range all {
		s.nodes[id].cfg.OnKeep = func(Entry) error { return errors.New("disk full") }
	}
	s.run(time.Second)
	var err error
	done := false
	s.nodes["n0"].Put("k", []byte("1"), func(_ int, e error) { err, done = e, true })
	s.run(30 * time.Second)
	if !done || err == nil {
		t.Fatalf("put with failing storage: done=%v err=%v; want an error", done, err)
	}
	if _, ok := s.nodes["n0"].Stored("k"); ok {
		t.Error("n0 holds k although its storage refused it")
	}
}

// The disk keeps entries across a reload, newest version per key, and
// ignores the temporary file of an interrupted write.
func TestDiskRoundTrip(t *testing.T) {
	d := disk{fs: storage.OS, dir: filepath.Join(t.TempDir(), "dht")}
	if got, err := d.load(); err != nil || len(got) != 0 {
		t.Fatalf("empty disk: %v, %v", got, err)
	}
	for _, e := range []Entry{
		{Key: "a", Value: []byte(`"x"`), Ver: Version{N: 1, W: "n1"}},
		{Key: "b/c", Value: []byte(`1`), Ver: Version{N: 1, W: "n2"}},
		{Key: "a", Value: []byte(`"y"`), Ver: Version{N: 2, W: "n1"}},
	} {
		if err := d.save(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.WriteFileAtomic(storage.OS, d.path("torn")+".tmp", []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := d.load()
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Entry{}
	for _, e := range got {
		byKey[e.Key] = e
	}
	if len(got) != 2 || string(byKey["a"].Value) != `"y"` || string(byKey["b/c"].Value) != `1` {
		t.Errorf("reloaded %+v; want a=\"y\" and b/c=1", got)
	}
}

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"--replicas", "2", "--fingers=false"})
	if err != nil || o.Replicas != 2 || o.Fingers || !o.Durable {
		t.Fatalf("ParseArgs = %+v, %v; want 2 replicas, no fingers, durable", o, err)
	}
	for _, bad := range [][]string{{"--replica", "2"}, {"--replicas", "0"}, {"stray"}} {
		if _, err := ParseArgs(bad); err == nil || !strings.Contains(err.Error(), "usage: advanced --system dht") {
			t.Errorf("ParseArgs(%q) = %v, want an error with the usage line", bad, err)
		}
	}
}
