package checker

import (
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// migrateRun is a correct run's skeleton: the three deploys, the canary
// (release 3) deployed at 2000-2010 ms serving one request at 2100 ms.
func migrateRun() *builder {
	b := &builder{}
	dep := func(rel int, canary bool, at int) {
		v := MigrateOp{Release: rel, Canary: canary}
		b.call(history.OK, 0, "n0", "deploy", v, v, at, at+10)
	}
	dep(2, false, 1000)
	dep(3, true, 2000)
	b.call(history.OK, 2, "n0", "read", MigrateOp{API: 2, Key: "a"}, MigrateOp{API: 2, Key: "a", Release: 3}, 2090, 2100)
	dep(4, false, 5000)
	return b
}

func migrateParams() MigrateParams {
	return MigrateParams{CanaryRelease: 3, RollbackBound: 2 * time.Second, Releases: []int{2, 3, 4}}
}

func firstWhat(r Result) string {
	if v := r.First(); v != nil {
		return v.What
	}
	return ""
}

func TestMigrateChecker(t *testing.T) {
	w := func(api int, name string) MigrateOp { return MigrateOp{API: api, Key: "k", Name: name} }
	for _, tc := range []struct {
		name string
		ops  func(b *builder)
		want string
	}{
		{"valid across shapes", func(b *builder) {
			b.call(history.OK, 1, "n0", "write", w(1, "Ada Lovelace"), MigrateOp{Release: 1}, 100, 110)
			b.call(history.OK, 1, "n0", "read", w(2, ""), MigrateOp{Name: "Ada Lovelace", Release: 2}, 1500, 1510)
		}, ""},
		{"a timed-out write is a request not served", func(b *builder) {
			b.call(history.OK, 1, "n0", "write", w(1, "Ada Lovelace"), MigrateOp{Release: 1}, 100, 110)
			b.call(history.Info, 1, "n0", "write", w(1, "Alan Turing"), nil, 200, 210)
			b.call(history.OK, 5, "n0", "read", w(1, ""), MigrateOp{Name: "Ada Lovelace", Release: 1}, 300, 310)
		}, "request failed"},
		{"wrong record", func(b *builder) {
			b.call(history.OK, 1, "n0", "write", w(1, "Ada Lovelace"), MigrateOp{Release: 1}, 100, 110)
			b.call(history.OK, 1, "n0", "write", w(2, "Alan Turing"), MigrateOp{Release: 1}, 200, 210)
			b.call(history.OK, 1, "n0", "read", w(1, ""), MigrateOp{Name: "Ada Lovelace", Release: 1}, 300, 310)
		}, "wrong record"},
		{"lost record", func(b *builder) {
			b.call(history.OK, 1, "n0", "write", w(1, "Ada Lovelace"), MigrateOp{Release: 1}, 100, 110)
			b.inv(1, "n0", "read", w(1, ""), 300)
			b.fail(1, "n0", "read", nil, 310)
			b.h[len(b.h)-1].Error = &history.Error{Code: 20, Name: "key-does-not-exist"}
		}, "lost record"},
		{"canary error late", func(b *builder) {
			b.inv(1, "n0", "read", w(2, ""), 4400)
			b.fail(1, "n0", "read", nil, 4500)
			b.h[len(b.h)-1].Error = &history.Error{Code: 13, Name: "crash", Text: "release 3 (canary): injected fault"}
		}, "canary error outside its window"},
		{"canary error in time", func(b *builder) {
			b.inv(1, "n0", "read", w(2, ""), 2400)
			b.fail(1, "n0", "read", nil, 2500)
			b.h[len(b.h)-1].Error = &history.Error{Code: 13, Name: "crash", Text: "release 3 (canary): injected fault"}
		}, ""},
		{"stale release", func(b *builder) {
			b.call(history.OK, 1, "n0", "write", w(1, "Ada Lovelace"), MigrateOp{Release: 2}, 5100, 5110)
		}, "stale release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := migrateRun()
			tc.ops(b)
			r := Migrate(b.h, migrateParams())
			if got := firstWhat(r); got != tc.want {
				t.Fatalf("first violation %q, want %q (%s)", got, tc.want, r.Summary)
			}
		})
	}
	// No canary traffic, and a release missing.
	b := &builder{}
	b.call(history.OK, 0, "n0", "deploy", MigrateOp{Release: 2}, MigrateOp{Release: 2}, 1000, 1010)
	b.call(history.OK, 0, "n0", "deploy", MigrateOp{Release: 3, Canary: true}, MigrateOp{Release: 3}, 2000, 2010)
	r := Migrate(b.h, migrateParams())
	var whats []string
	for _, v := range r.Violations {
		whats = append(whats, v.What)
	}
	if len(whats) != 2 || whats[0] != "release never deployed" || whats[1] != "canary never served" {
		t.Fatalf("violations %v", whats)
	}
}
