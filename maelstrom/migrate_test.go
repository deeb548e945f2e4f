package maelstrom

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// migrateNode is a single-node server for the migrate workload that keeps
// people in a map: API versions are only a matter of shape, so it is
// correct (its canary fails every other request and is rolled back after
// its fourth error) unless fault names a way to break it:
//
//	lose         every 10th write is acknowledged and dropped
//	misshape     after release 4, version 1 reads get first and last
//	old-fail     after release 2, version 1 requests fail
//	no-rollback  the canary is never rolled back
//	no-canary    the canary is acknowledged but serves nothing
//	stale        deploys are acknowledged and ignored
func migrateNode(fault string) program.Program {
	return testnodes.Program(func() testnodes.Handlers {
		people := map[string]string{}
		stable, canary, percent, writes, canaryReqs, canaryErrs := 1, 0, 0.0, 0, 0, 0
		str := func(m testnodes.Msg, k string) string {
			var s string
			_ = json.Unmarshal(m.Body[k], &s)
			return s
		}
		inCanary := func(key string) bool {
			h := fnv.New32a()
			h.Write([]byte(key))
			return canary != 0 && float64(h.Sum32()%100) < percent
		}
		return testnodes.Handlers{Handle: func(nd *testnodes.Node, m testnodes.Msg) error {
			typ, key, api := m.Type(), str(m, "key"), m.Int("api")
			if typ == "deploy" {
				rel := int(m.Int("release"))
				switch {
				case fault == "stale":
				case strings.Contains(string(m.Body["canary"]), "true"):
					if fault != "no-canary" {
						canary = rel
						_ = json.Unmarshal(m.Body["percent"], &percent)
					}
				default:
					stable, canary = rel, 0
				}
				nd.Reply(m, map[string]any{"type": "deploy_ok"})
				return nil
			}
			rel := stable
			if inCanary(key) {
				rel = canary
				canaryReqs++
				if canaryReqs%2 == 0 {
					canaryErrs++
					if canaryErrs >= 4 && fault != "no-rollback" {
						canary = 0
					}
					nd.Reply(m, map[string]any{"type": "error", "code": 13, "text": "canary: injected fault"})
					return nil
				}
			}
			if fault == "old-fail" && api == 1 && stable >= 2 {
				nd.Reply(m, map[string]any{"type": "error", "code": 13, "text": "no such column: name"})
				return nil
			}
			switch typ {
			case "write":
				name := str(m, "name")
				if api == 2 {
					name = str(m, "first") + " " + str(m, "last")
				}
				writes++
				if fault != "lose" || writes%10 != 0 {
					people[key] = name
				}
				nd.Reply(m, map[string]any{"type": "write_ok", "release": rel})
			case "read":
				name, ok := people[key]
				if !ok {
					nd.Reply(m, map[string]any{"type": "error", "code": 20, "text": "no person " + key})
					return nil
				}
				first, last, _ := strings.Cut(name, " ")
				if api == 1 && !(fault == "misshape" && stable >= 4) {
					nd.Reply(m, map[string]any{"type": "read_ok", "release": rel, "name": name})
				} else {
					nd.Reply(m, map[string]any{"type": "read_ok", "release": rel, "first": first, "last": last})
				}
			}
			return nil
		}}
	})
}

func gradeMigrate(t *testing.T, fault string) *Report {
	t.Helper()
	return grade(t, migrateNode(fault), "-w", "migrate", "--node-count", "1", "--time-limit", "6", "--rate", "100", "--concurrency", "4", "--deploys", "1,2,5")
}

func TestMigrateCorrectNode(t *testing.T) {
	rep := gradeMigrate(t, "")
	wantVerdict(t, rep, checker.Valid, "last served")
	res, _ := rep.Result("migrate")
	d := res.Details.(checker.MigrateDetails)
	if d.OKByAPI[1] < 100 || d.OKByAPI[2] < 100 || d.CanaryErrors < 4 || d.RolledBackInMS < 0 || d.OKByRelease[4] == 0 {
		t.Fatalf("migrate figures %+v: want both versions served, the canary's errors, release 4 reached", d)
	}
}

func TestMigrateBrokenNodes(t *testing.T) {
	for fault, what := range map[string]string{
		"lose":        "wrong record",
		"misshape":    "mis-shaped record",
		"old-fail":    "request failed",
		"no-rollback": "canary not rolled back",
		"no-canary":   "canary never served",
		"stale":       "stale release",
	} {
		t.Run(fault, func(t *testing.T) {
			rep := gradeMigrate(t, fault)
			wantViolationAmong(t, rep, "migrate", what)
		})
	}
}

func TestMigrateRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--node-count", "2"},
		{"--node-count", "1", "--deploys", "3,2,4"},
		{"--node-count", "1", "--deploys", "1,2"},
		{"--node-count", "1", "--canary-fault", "2"},
	} {
		opts, err := ParseArgs(append([]string{"-w", "migrate", "--time-limit", "1"}, args...))
		if err == nil {
			opts.StoreDir = ""
			synctest.Test(t, func(t *testing.T) {
				_, err = Run(context.Background(), opts, InProcess{Program: migrateNode("")})
			})
		}
		if err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
