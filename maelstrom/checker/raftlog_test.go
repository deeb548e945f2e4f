package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func appendOp(b *builder, typ history.Type, p int, node string, v int64, index int64, ms int) {
	out := LogAppend{Value: v}
	if typ == history.OK {
		out.Index = i64(index)
	}
	b.call(typ, p, node, "append", LogAppend{Value: v}, out, ms, ms+5)
}

func readLog(b *builder, p int, node string, log []int64, ms int, final bool) {
	b.call(history.OK, p, node, "read_log", nil, log, ms, ms+1)
	if final {
		b.h[len(b.h)-2].Final = true
		b.h[len(b.h)-1].Final = true
	}
}

// base: 1, 2, 3 acknowledged, 4 failed, 5 unknown and applied.
func logBase() *builder {
	b := &builder{}
	appendOp(b, history.OK, 0, "n0", 1, 1, 10)
	appendOp(b, history.OK, 1, "n1", 2, 2, 20)
	appendOp(b, history.OK, 0, "n0", 3, 3, 30)
	appendOp(b, history.Fail, 1, "n1", 4, 0, 40)
	appendOp(b, history.Info, 2, "n2", 5, 0, 50)
	readLog(b, 3, "n1", []int64{1, 2}, 60, false)
	return b
}

func TestRaftLogValid(t *testing.T) {
	b := logBase()
	readLog(b, 4, "n0", []int64{1, 2, 3, 5}, 1000, true)
	readLog(b, 5, "n1", []int64{1, 2, 3}, 1000, true)
	res := RaftLog(b.h)
	if res.Valid != Valid {
		t.Fatalf("%s: %s %+v", res.Valid, res.Summary, res.Violations)
	}
	if d := res.Details.(LogDetails); d.Acknowledged != 3 || d.UnknownApplied != 1 || d.FinalLength != 4 {
		t.Fatalf("details %+v", d)
	}
}

func TestRaftLogViolations(t *testing.T) {
	cases := []struct {
		name  string
		final []int64
		what  string
		node  string
		value any
	}{
		{"diverge", []int64{1, 3, 2}, "logs diverge", "n1", int64(2)},
		{"duplicate", []int64{1, 2, 3, 2}, "duplicate value", "n0", int64(2)},
		{"phantom", []int64{1, 2, 3, 9}, "value never appended", "n0", int64(9)},
		{"failed applied", []int64{1, 2, 3, 4}, "failed append applied", "n0", int64(4)},
		{"lost", []int64{1, 2}, "acknowledged append lost", "n0", int64(3)},
		{"wrong index", []int64{1, 2, 5, 3}, "wrong index", "n0", int64(3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := logBase()
			readLog(b, 4, "n0", c.final, 1000, true)
			v := mustInvalid(t, RaftLog(b.h), c.what)
			if v.Node != c.node || v.Value != c.value {
				t.Fatalf("violation %+v: want node %s value %v", v, c.node, c.value)
			}
		})
	}
}

func TestRaftLogEntriesLostAcrossKill(t *testing.T) {
	b := logBase()
	readLog(b, 3, "n2", []int64{1, 2, 3, 5}, 500, false)
	readLog(b, 4, "n0", []int64{1, 2, 3}, 1000, true)
	v := mustInvalid(t, RaftLog(b.h), "applied entries lost")
	if !strings.Contains(v.Detail, "had 4") {
		t.Fatalf("detail %q should say the earlier read had 4 entries", v.Detail)
	}
}

func TestRaftLogWithoutFinalReadIsUnknown(t *testing.T) {
	if res := RaftLog(logBase().h); res.Valid != Unknown {
		t.Fatalf("%s: %s, want unknown", res.Valid, res.Summary)
	}
}
