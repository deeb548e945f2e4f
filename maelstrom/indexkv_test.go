package maelstrom

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// indexKVNode is a single-node index-kv store in a map. The broken kinds:
// "no-delete" ignores deletes (a deleted key comes back on get);
// "scan-resurrects" scans a copy that deletes never reach; "scan-misses"
// stops its scans one key short of the range's end.
func indexKVNode(broken string) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		data := map[int64]int64{}
		shadow := map[int64]int64{} // what "scan-resurrects" scans
		attrs := map[int64]string{}
		return testnodes.Handlers{Handle: func(n *testnodes.Node, m testnodes.Msg) error {
			k := m.Int("key")
			switch m.Type() {
			case "put":
				v := m.Int("value")
				data[k], shadow[k] = v, v
				var a string
				_ = json.Unmarshal(m.Field("attr"), &a)
				attrs[k] = a
				n.Reply(m, map[string]any{"type": "put_ok"})
			case "get":
				var v any
				if x, ok := data[k]; ok {
					v = x
				}
				n.Reply(m, map[string]any{"type": "get_ok", "value": v})
			case "delete":
				if broken != "no-delete" {
					delete(data, k)
				}
				n.Reply(m, map[string]any{"type": "delete_ok"})
			case "scan":
				src := data
				if broken == "scan-resurrects" {
					src = shadow
				}
				from, to, limit := m.Int("from"), m.Int("to"), int(m.Int("limit"))
				if broken == "scan-misses" {
					to--
				}
				items := [][2]int64{}
				for k := from; k < to && len(items) < limit; k++ {
					if v, ok := src[k]; ok {
						items = append(items, [2]int64{k, v})
					}
				}
				n.Reply(m, map[string]any{"type": "scan_ok", "items": items})
			case "query":
				var a string
				_ = json.Unmarshal(m.Field("attr"), &a)
				keys := []int64{}
				for k := range data {
					if attrs[k] == a {
						keys = append(keys, k)
					}
				}
				slices.Sort(keys)
				n.Reply(m, map[string]any{"type": "query_ok", "keys": keys})
			}
			return nil
		}}
	})
}

var indexKVArgs = []string{"-w", "index-kv", "--node-count", "1", "--time-limit", "10", "--rate", "100", "--keys", "8"}

func TestIndexKVCorrectNodeValid(t *testing.T) {
	rep := grade(t, indexKVNode(""), indexKVArgs...)
	wantVerdict(t, rep, checker.Valid, "index-kv", "scans")
	res, _ := rep.Result("index-kv")
	if d := res.Details.(checker.IndexKVDetails); d.Scans < 50 || d.Queries < 30 {
		t.Fatalf("checked %d scans and %d queries; want about 160 and 120\n%s", d.Scans, d.Queries, rep.Summary())
	}
}

// wantIndexViolation demands that checker name the node, the op, the value
// and the time of the first violation, and say what.
func wantIndexViolation(t *testing.T, rep *Report, name, what string) {
	t.Helper()
	wantVerdict(t, rep, checker.Invalid)
	res, ok := rep.Result(name)
	if !ok || res.Valid != checker.Invalid {
		t.Fatalf("%s did not find the violation\n%s", name, rep.Summary())
	}
	v := res.First()
	if v.Node != "n0" || v.Op == nil || v.Value == nil || v.Time <= 0 || !strings.Contains(v.What+v.Detail, what) {
		t.Fatalf("violation %+v lacks node, op, value, time or %q", v, what)
	}
}

func TestIndexKVDeletedKeyResurrectedByScan(t *testing.T) {
	wantIndexViolation(t, grade(t, indexKVNode("scan-resurrects"), indexKVArgs...), "index-kv", "scan returned a value the key could not have")
}

func TestIndexKVScanMissingKey(t *testing.T) {
	wantIndexViolation(t, grade(t, indexKVNode("scan-misses"), indexKVArgs...), "index-kv", "scan missed a key")
}

func TestIndexKVDeletedKeyResurrectedByGet(t *testing.T) {
	rep := grade(t, indexKVNode("no-delete"), indexKVArgs...)
	wantIndexViolation(t, rep, "linearizable", "not linearizable")
	if v, _ := rep.Result("linearizable"); v.First().Op.F == "write" || v.First().Op.F == "read" {
		t.Fatalf("violation names the translated op %v, not the index-kv op", v.First().Op)
	}
}
