package checker

import (
	"strings"
	"testing"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

func TestNetRPC(t *testing.T) {
	good := NetRPCRun{Addr: "127.0.0.1:4000", Valid: true}
	bad := NetRPCRun{Addr: "127.0.0.1:4001", Violation: "an oversized frame (length prefix 2097152) was not refused within 2s", At: msT(700)}
	b := &builder{}
	b.call(history.OK, 0, "n0", "check", uint64(1), good, 0, 2000)
	if res := NetRPC(b.h); res.Valid != Valid {
		t.Fatalf("%s: %s", res.Valid, res.Summary)
	}
	b.call(history.OK, 1, "n1", "check", uint64(2), bad, 1000, 3000)
	res := NetRPC(b.h)
	if res.Valid != Invalid {
		t.Fatalf("%s: %s", res.Valid, res.Summary)
	}
	v := res.First()
	if v.Node != "n1" || v.Time != msT(1700) || !strings.Contains(v.Detail, "127.0.0.1:4001") || !strings.Contains(v.Detail, "oversized frame") {
		t.Fatalf("violation %+v", v)
	}
	only := (&builder{}).call(history.Info, 0, "n0", "check", uint64(1), nil, 0, 2000)
	if res := NetRPC(only.h); res.Valid != Unknown {
		t.Fatalf("no completed check, yet %s", res.Valid)
	}
}
