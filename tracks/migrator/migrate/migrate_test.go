package migrate

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"
)

// set is the track's example schema change: a name split into first and
// last, in goose's file format so that goose runs the very same files.
func set() fstest.MapFS {
	return fstest.MapFS{
		"m/1_people.sql":   {Data: []byte("-- +goose Up\nCREATE TABLE people (id TEXT PRIMARY KEY, name TEXT);\n")},
		"m/2_expand.sql":   {Data: []byte("-- +goose Up\nALTER TABLE people ADD COLUMN first TEXT;\nALTER TABLE people ADD COLUMN last TEXT;\n")},
		"m/3_backfill.sql": {Data: []byte("-- +goose Up\nUPDATE people SET first = substr(name, 1, instr(name, ' ') - 1), last = substr(name, instr(name, ' ') + 1) WHERE first IS NULL;\n")},
		"README.md":        {Data: []byte("not a migration")},
	}
}

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	// One connection: every connection to ":memory:" is its own database.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func load(t *testing.T, fsys fstest.MapFS) []Migration {
	t.Helper()
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func versions(t *testing.T, r *Runner) []int64 {
	t.Helper()
	a, err := r.Applied(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, x := range a {
		out = append(out, x.Version)
	}
	return out
}

func TestUpAppliesInOrderOnce(t *testing.T) {
	ctx := context.Background()
	r := &Runner{DB: openDB(t), Owner: "a", Now: fixedNow}
	if _, err := r.DB.Exec(`CREATE TABLE seed (x)`); err != nil {
		t.Fatal(err)
	}
	got, err := r.Up(ctx, load(t, set()), 2)
	if err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("Up to 2 = %v, %v; want [1 2]", got, err)
	}
	if _, err := r.DB.Exec(`INSERT INTO people (id, name) VALUES ('p1', 'Ada Lovelace')`); err != nil {
		t.Fatal(err)
	}
	got, err = r.Up(ctx, load(t, set()), 0)
	if err != nil || !slices.Equal(got, []int64{3}) {
		t.Fatalf("Up = %v, %v; want [3]", got, err)
	}
	var first, last string
	if err := r.DB.QueryRow(`SELECT first, last FROM people WHERE id = 'p1'`).Scan(&first, &last); err != nil || first != "Ada" || last != "Lovelace" {
		t.Fatalf("backfill: %q %q %v", first, last, err)
	}
	if got, err = r.Up(ctx, load(t, set()), 0); err != nil || len(got) != 0 {
		t.Fatalf("second Up = %v, %v; want nothing", got, err)
	}
}

func TestEditedAppliedMigrationIsRefused(t *testing.T) {
	ctx := context.Background()
	r := &Runner{DB: openDB(t), Owner: "a", Now: fixedNow}
	if _, err := r.Up(ctx, load(t, set()), 2); err != nil {
		t.Fatal(err)
	}
	edited := set()
	edited["m/2_expand.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nALTER TABLE people ADD COLUMN first TEXT;\n")}
	got, err := r.Up(ctx, load(t, edited), 0)
	if !errors.Is(err, ErrChecksum) || len(got) != 0 {
		t.Fatalf("Up with edited 2 = %v, %v; want ErrChecksum and nothing applied", got, err)
	}
	if v := versions(t, r); !slices.Equal(v, []int64{1, 2}) {
		t.Fatalf("applied %v after refusal", v)
	}
	missing := set()
	delete(missing, "m/1_people.sql")
	if _, err := r.Up(ctx, load(t, missing), 0); !errors.Is(err, ErrMissing) {
		t.Fatalf("Up without applied 1: %v; want ErrMissing", err)
	}
}

func TestLockLetsOneRunnerApply(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	a := &Runner{DB: db, Owner: "a", Now: fixedNow}
	b := &Runner{DB: db, Owner: "b", Now: fixedNow}
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Up(ctx, load(t, set()), 0); !errors.Is(err, ErrLocked) || len(got) != 0 {
		t.Fatalf("b.Up while a holds the lock = %v, %v; want ErrLocked", got, err)
	}
	if err := b.Unlock(ctx); err != nil { // not b's: must leave a's lock
		t.Fatal(err)
	}
	if err := b.Lock(ctx); !errors.Is(err, ErrLocked) {
		t.Fatalf("b.Lock after b.Unlock of a's lock: %v", err)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Up(ctx, load(t, set()), 0); err != nil || len(got) != 3 {
		t.Fatalf("b.Up after release = %v, %v", got, err)
	}
}

func TestFailedMigrationRollsBackAlone(t *testing.T) {
	ctx := context.Background()
	r := &Runner{DB: openDB(t), Owner: "a", Now: fixedNow}
	bad := set()
	bad["m/3_backfill.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE people ADD COLUMN middle TEXT;\nUPDATE nosuchtable SET x = 1;\n")}
	got, err := r.Up(ctx, load(t, bad), 0)
	if err == nil || !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("Up = %v, %v; want [1 2] and an error", got, err)
	}
	if v := versions(t, r); !slices.Equal(v, []int64{1, 2}) {
		t.Fatalf("applied %v", v)
	}
	if _, err := r.DB.Exec(`SELECT middle FROM people`); err == nil {
		t.Fatal("the failed migration's first statement stayed applied")
	}
	// The lock was released despite the failure.
	if err := r.Lock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	for _, name := range []string{"m/x_a.sql", "m/0_a.sql", "m/people.sql"} {
		if _, err := Load(fstest.MapFS{name: {Data: []byte("SELECT 1")}}, "m"); err == nil {
			t.Errorf("Load accepted %s", name)
		}
	}
	if _, err := Load(fstest.MapFS{"m/1_a.sql": {}, "m/01_b.sql": {}}, "m"); err == nil {
		t.Error("Load accepted version 1 twice")
	}
}

func userSchema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT sql FROM sqlite_master WHERE name = 'people'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestAgreesWithGoose runs the same files with goose and with our runner,
// on two databases: the same versions applied and the same schema. Then
// migration 2 is edited: ours refuses to run; goose, which keeps no
// checksums, says nothing and applies nothing (the lesson explains why we
// differ).
func TestAgreesWithGoose(t *testing.T) {
	ctx := context.Background()
	fsys := set()
	gdb, odb := openDB(t), openDB(t)
	sub := func(f fstest.MapFS) fstest.MapFS {
		out := fstest.MapFS{}
		for k, v := range f {
			if len(k) > 2 && k[:2] == "m/" {
				out[k[2:]] = v
			}
		}
		return out
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, gdb, sub(fsys))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gv []int64
	for _, r := range res {
		gv = append(gv, r.Source.Version)
	}
	r := &Runner{DB: odb, Owner: "ours", Now: fixedNow}
	ov, err := r.Up(ctx, load(t, fsys), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gv, ov) || !slices.Equal(ov, []int64{1, 2, 3}) {
		t.Fatalf("goose applied %v, ours %v", gv, ov)
	}
	if gs, os := userSchema(t, gdb), userSchema(t, odb); !slices.Equal(gs, os) {
		t.Fatalf("schemas differ:\ngoose %q\nours  %q", gs, os)
	}
	if cur, err := p.GetDBVersion(ctx); err != nil || cur != 3 {
		t.Fatalf("goose version %d, %v", cur, err)
	}

	edited := set()
	edited["m/2_expand.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nALTER TABLE people ADD COLUMN first TEXT;\n")}
	p2, err := goose.NewProvider(goose.DialectSQLite3, gdb, sub(edited))
	if err != nil {
		t.Fatal(err)
	}
	res, err = p2.Up(ctx)
	if err != nil || len(res) != 0 {
		t.Fatalf("goose on an edited applied migration: %v, %v; this test expected goose to apply nothing and not object", res, err)
	}
	if _, err := r.Up(ctx, load(t, edited), 0); !errors.Is(err, ErrChecksum) {
		t.Fatalf("ours on an edited applied migration: %v; want ErrChecksum", err)
	}
}
