package advanced

import (
	"testing"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/gradetest"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
	"github.com/distsys-curriculum/distsys/tracks/advanced/mrdht"
	"github.com/distsys-curriculum/distsys/tracks/mapreducer"
)

// locality grades an mr-dht stage in-process and returns the fraction of
// its map tasks that ran on a node holding their split.
func locality(t *testing.T, name string) (float64, int64) {
	t.Helper()
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range all {
		if st.Name != name {
			continue
		}
		var c mapreducer.Counters
		prog := func(args []string) program.Program {
			return node.Program(func(n *node.Node) error { return mrdht.ConfigureCounting(&c)(n, args[2:]) })
		}
		rep := gradetest.Grade(t, st, prog)
		if ok, why := gradetest.Verdict(st, rep); !ok {
			t.Fatalf("%s: %s\n%s", name, why, rep.Summary())
		}
		maps := c.Maps.Load()
		if maps == 0 {
			t.Fatalf("%s: no map task finished", name)
		}
		return float64(c.LocalMaps.Load()) / float64(maps), maps
	}
	t.Fatalf("no stage %s", name)
	return 0, 0
}

// TestMRDHTLocality: scheduled near their data, nearly every map task
// reads its split from its own node, kills or not; scheduled anywhere,
// only about r/n of them do (3 of 5 nodes hold each split).
func TestMRDHTLocality(t *testing.T) {
	local, maps := locality(t, "mr-dht")
	killed, kmaps := locality(t, "mr-dht-kill")
	anywhere, amaps := locality(t, "mr-dht-anywhere")
	t.Logf("locality: mr-dht %.3f of %d maps, mr-dht-kill %.3f of %d, mr-dht-anywhere %.3f of %d", local, maps, killed, kmaps, anywhere, amaps)
	if local < 0.95 {
		t.Errorf("mr-dht: locality %.3f, want at least 0.95", local)
	}
	if killed < 0.8 {
		t.Errorf("mr-dht-kill: locality %.3f, want at least 0.8", killed)
	}
	if anywhere > local-0.2 {
		t.Errorf("mr-dht-anywhere: locality %.3f, want well below the local scheduler's %.3f", anywhere, local)
	}
}
