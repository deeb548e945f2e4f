// Package migrate is the migrator track's schema-migration runner: an
// ordered set of SQL migrations, each applied once, in its own
// transaction with the row that records it; the checksum of every applied
// migration kept so that an applied migration edited afterwards is refused
// rather than silently skipped; and a lock row so that of two runners
// started together only one applies.
//
// It works on any database/sql database that speaks SQLite's dialect
// (modernc.org/sqlite in the track). Migration files use goose's naming
// (<version>_<name>.sql) so that the same set can be run by
// github.com/pressly/goose/v3, which the tests compare it with.
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one step of the schema: Up is SQL, run as one script.
type Migration struct {
	Version int64
	Name    string
	Up      string
}

// Checksum is the hex SHA-256 of the migration's SQL: what an applied
// migration is compared with on every later run.
func (m Migration) Checksum() string {
	s := sha256.Sum256([]byte(m.Up))
	return hex.EncodeToString(s[:])
}

// Applied is the record of a migration in the versions table.
type Applied struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt time.Time
}

var (
	// ErrChecksum: an applied migration's SQL is no longer what was
	// applied. Nothing is applied until it is restored (or a new migration
	// does the change instead).
	ErrChecksum = errors.New("migrate: applied migration was edited")
	// ErrLocked: another runner holds the lock.
	ErrLocked = errors.New("migrate: another runner holds the lock")
	// ErrMissing: the database has a version the set does not know.
	ErrMissing = errors.New("migrate: applied version missing from the migration set")
)

// Load reads the migrations of a directory: files <version>_<name>.sql;
// other files are ignored. Versions must be unique and positive.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: %s: want <version>_<name>.sql with a positive version", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrate: version %d twice (%s, %s)", v, prev, name)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, Up: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Runner applies migrations to DB. Owner names this runner in the lock
// row (a host and process id, say); Now stamps applied migrations.
type Runner struct {
	DB    *sql.DB
	Owner string
	Now   func() time.Time
}

const schema = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	checksum TEXT NOT NULL,
	applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_lock (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	owner TEXT NOT NULL,
	since TEXT NOT NULL
);`

func (r *Runner) init(ctx context.Context) error {
	_, err := r.DB.ExecContext(ctx, schema)
	return err
}

// Lock takes the runner lock: one row that only one runner can insert.
// It returns ErrLocked (wrapped with the holder) when the row exists.
func (r *Runner) Lock(ctx context.Context) error {
	if err := r.init(ctx); err != nil {
		return err
	}
	_, err := r.DB.ExecContext(ctx, `INSERT INTO schema_lock (id, owner, since) VALUES (1, ?, ?)`, r.Owner, r.Now().UTC().Format(time.RFC3339Nano))
	if err == nil {
		return nil
	}
	var owner string
	if qerr := r.DB.QueryRowContext(ctx, `SELECT owner FROM schema_lock WHERE id = 1`).Scan(&owner); qerr == nil {
		return fmt.Errorf("%w (held by %s)", ErrLocked, owner)
	}
	return err
}

// Unlock releases the lock if this runner holds it.
func (r *Runner) Unlock(ctx context.Context) error {
	_, err := r.DB.ExecContext(ctx, `DELETE FROM schema_lock WHERE id = 1 AND owner = ?`, r.Owner)
	return err
}

// Applied lists the versions table, oldest first.
func (r *Runner) Applied(ctx context.Context) ([]Applied, error) {
	if err := r.init(ctx); err != nil {
		return nil, err
	}
	rows, err := r.DB.QueryContext(ctx, `SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		var at string
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &at); err != nil {
			return nil, err
		}
		a.AppliedAt, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Verify compares the applied migrations with the set: every applied
// version must be in the set with the same checksum.
func Verify(applied []Applied, set []Migration) error {
	byVersion := map[int64]Migration{}
	for _, m := range set {
		byVersion[m.Version] = m
	}
	for _, a := range applied {
		m, ok := byVersion[a.Version]
		if !ok {
			return fmt.Errorf("%w: version %d (%s)", ErrMissing, a.Version, a.Name)
		}
		if m.Checksum() != a.Checksum {
			return fmt.Errorf("%w: version %d (%s): checksum %.12s applied, %.12s now", ErrChecksum, a.Version, a.Name, a.Checksum, m.Checksum())
		}
	}
	return nil
}

// Up applies, under the lock, every migration of the set up to and
// including version to (0: all) that is not applied yet, in version
// order, and returns the versions it applied. It refuses to start if an
// applied migration was edited or is missing. A migration that fails is
// rolled back with its version row; the ones before it stay applied.
func (r *Runner) Up(ctx context.Context, set []Migration, to int64) ([]int64, error) {
	if err := r.Lock(ctx); err != nil {
		return nil, err
	}
	defer r.Unlock(context.WithoutCancel(ctx))
	applied, err := r.Applied(ctx)
	if err != nil {
		return nil, err
	}
	if err := Verify(applied, set); err != nil {
		return nil, err
	}
	done := map[int64]bool{}
	for _, a := range applied {
		done[a.Version] = true
	}
	var out []int64
	for _, m := range set {
		if done[m.Version] || (to > 0 && m.Version > to) {
			continue
		}
		if err := r.apply(ctx, m); err != nil {
			return out, fmt.Errorf("migrate: version %d (%s): %w", m.Version, m.Name, err)
		}
		out = append(out, m.Version)
	}
	return out, nil
}

func (r *Runner) apply(ctx context.Context, m Migration) error {
	tx, err := r.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.Up); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
		m.Version, m.Name, m.Checksum(), r.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}
