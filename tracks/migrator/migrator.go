// Package migrator is the reference solution of the migrator track: one
// node serving people's names to clients of two API versions from an
// embedded SQLite database (modernc.org/sqlite, pure Go), while the grader
// deploys releases that change the schema under it — expand, a canary,
// contract — graded by the migrate workload.
//
//   - Schema changes are the migrations of migrations/, applied by the
//     track's runner (tracks/migrator/migrate) under its lock, each release
//     naming the schema version it needs.
//   - API versioning is a translation at the edge: version 1 speaks of a
//     name, version 2 of first and last; whatever the schema, each release
//     maps both onto it, so neither kind of client notices a migration.
//   - Expand-contract: release 2 adds the new columns, backfills them and
//     writes both shapes; release 4 drops the old column, when no release
//     that reads it is left.
//   - A canary is a feature flag (tracks/migrator/flags) rolled out to a
//     sticky percentage of keys; the canary rule (tracks/migrator/canary)
//     watches its error rate and trips the flag's kill switch.
//
// tracks/migrator/stages.tsv says how each stage is graded and README.md is
// the lesson.
package migrator

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/migrator/canary"
	"github.com/distsys-curriculum/distsys/tracks/migrator/flags"
	"github.com/distsys-curriculum/distsys/tracks/migrator/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the track's migration set.
func Migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFiles, "migrations") }

// Options configure a node.
type Options struct {
	// DropEarly is the counter-example (--drop-early): release 2 applies the
	// contract migration with the expand ones, while release 2 still reads
	// and writes the old column.
	DropEarly bool
	// Rollback off (--rollback off) keeps a failing canary serving.
	NoRollback bool
	Rule       canary.Rule
}

// DefaultOptions: roll back when more than 20% of the canary's last 20
// requests (at least 10 seen) failed.
func DefaultOptions() Options {
	return Options{Rule: canary.Rule{Window: 20, MinRequests: 10, MaxErrorRate: 0.2}}
}

const usage = "usage: migrator [--drop-early] [--rollback on|off] [--canary-window N] [--canary-min N] [--canary-max-error-rate F]"

// ParseArgs reads the node's flags on top of DefaultOptions.
func ParseArgs(args []string) (Options, error) {
	o := DefaultOptions()
	fs := nodeflags.New("migrator")
	fs.BoolVar(&o.DropEarly, "drop-early", false, "counter-example: drop the old column in the expand release")
	rb := fs.String("rollback", "on", "on: the canary rule rolls a failing canary back; off: it never does")
	fs.IntVar(&o.Rule.Window, "canary-window", o.Rule.Window, "canary requests the error rate is computed over")
	fs.IntVar(&o.Rule.MinRequests, "canary-min", o.Rule.MinRequests, "canary requests seen before the rule may fire")
	fs.Float64Var(&o.Rule.MaxErrorRate, "canary-max-error-rate", o.Rule.MaxErrorRate, "error rate above which the canary is rolled back")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	if *rb != "on" && *rb != "off" {
		return o, fmt.Errorf("migrator: --rollback %q: want on or off (%s)", *rb, usage)
	}
	o.NoRollback = *rb == "off"
	return o, nil
}

// Configure sets a node up from its arguments.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	return Setup(o)(n)
}

// canaryFlag is the feature flag that routes a key to the canary release.
const canaryFlag = "canary"

// server is one node's state. Every request holds mu: SQLite serialises
// writers anyway, and a deploy must not run between a request's read of
// the release and its statement.
type server struct {
	n    *node.Node
	o    Options
	db   *sql.DB
	set  []migrate.Migration
	run  *migrate.Runner
	flag *flags.Store

	mu        sync.Mutex
	stable    int // the release serving every key not in the canary
	canaryRel int // 0: no canary
	fault     float64
	watch     *canary.Watch
	rng       *rand.Rand
}

// Setup returns the setup function of one configuration.
func Setup(o Options) func(*node.Node) error {
	return func(n *node.Node) error {
		set, err := Migrations()
		if err != nil {
			return err
		}
		s := &server{n: n, o: o, set: set, flag: flags.NewStore(), stable: 1}
		n.OnInit(s.open)
		n.Handle("write", s.handle)
		n.Handle("read", s.handle)
		n.Handle("deploy", s.deploy)
		return nil
	}
}

// open creates the node's database and applies release 1's schema. The
// database lives in memory: the track's stages do not restart nodes, and a
// file would bypass the project's storage seam.
func (s *server) open() error {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1) // each connection to ":memory:" is its own database
	go func() {
		<-s.n.Context().Done()
		db.Close()
	}()
	h := fnv.New64a()
	h.Write([]byte(s.n.ID()))
	s.rng = rand.New(rand.NewPCG(h.Sum64(), 26))
	s.db = db
	s.run = &migrate.Runner{DB: db, Owner: s.n.ID(), Now: s.n.Clock().Now}
	_, err = s.run.Up(context.Background(), s.set, 1)
	return err
}

type request struct {
	Type    string  `json:"type"`
	API     int     `json:"api"`
	Key     string  `json:"key"`
	Name    *string `json:"name"`
	First   *string `json:"first"`
	Last    *string `json:"last"`
	Release int     `json:"release"`
	Canary  bool    `json:"canary"`
	Percent float64 `json:"percent"`
	Fault   float64 `json:"fault_rate"`
}

// person is a name in its two shapes' common form.
type person struct{ first, last string }

func (p person) name() string { return p.first + " " + p.last }

func split(name string) (person, bool) {
	f, l, ok := strings.Cut(name, " ")
	return person{f, l}, ok && f != "" && l != "" && !strings.Contains(l, " ")
}

// decode reads a request in the shape of its API version.
func decode(msg node.Message) (request, person, error) {
	var r request
	if err := json.Unmarshal(msg.Body, &r); err != nil || r.Key == "" {
		return r, person{}, node.NewRPCError(12, "want {type, api: 1|2, key, ...}")
	}
	if r.Type == "read" && (r.API == 1 || r.API == 2) {
		return r, person{}, nil
	}
	switch {
	case r.API == 1 && r.Name != nil:
		if p, ok := split(*r.Name); ok {
			return r, p, nil
		}
		return r, person{}, node.NewRPCError(12, fmt.Sprintf("name %q: want two words", *r.Name))
	case r.API == 2 && r.First != nil && r.Last != nil:
		p := person{*r.First, *r.Last}
		if _, ok := split(p.name()); ok {
			return r, p, nil
		}
		return r, person{}, node.NewRPCError(12, "first and last: want one word each")
	}
	return r, person{}, node.NewRPCError(12, "api 1 writes a name; api 2 writes first and last")
}

func (s *server) handle(msg node.Message) error {
	r, p, err := decode(msg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.stable
	if s.canaryRel != 0 && s.flag.On(canaryFlag, r.Key) {
		rel = s.canaryRel
		// The canary's fault is the grader's: it says how often this
		// release fails. Deciding before the statement keeps the data of
		// a failed request untouched.
		failed := s.rng.Float64() < s.fault
		if s.watch.Observe(failed) && !s.o.NoRollback {
			s.flag.Kill(canaryFlag)
			s.n.Logger().Info("canary rolled back", "release", s.canaryRel, "error_rate", s.watch.ErrorRate(), "seen", s.watch.Seen)
		}
		if failed {
			return node.NewRPCError(13, fmt.Sprintf("release %d (canary): injected fault", rel))
		}
	}
	ctx := context.Background()
	if r.Type == "write" {
		if err := s.write(ctx, rel, r.Key, p); err != nil {
			return node.NewRPCError(13, fmt.Sprintf("release %d: %v", rel, err))
		}
		return s.n.Reply(msg, map[string]any{"type": "write_ok", "release": rel})
	}
	got, err := s.read(ctx, rel, r.Key)
	if errors.Is(err, sql.ErrNoRows) {
		return node.NewRPCError(20, "no person "+r.Key)
	}
	if err != nil {
		return node.NewRPCError(13, fmt.Sprintf("release %d: %v", rel, err))
	}
	if r.API == 1 {
		return s.n.Reply(msg, map[string]any{"type": "read_ok", "release": rel, "name": got.name()})
	}
	return s.n.Reply(msg, map[string]any{"type": "read_ok", "release": rel, "first": got.first, "last": got.last})
}

// write stores a person the way release rel's code does.
func (s *server) write(ctx context.Context, rel int, key string, p person) error {
	var err error
	switch {
	case rel < 2:
		_, err = s.db.ExecContext(ctx, `INSERT INTO people (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name`, key, p.name())
	case rel < 4: // expanded: both shapes, so that a rollback to the old code loses nothing
		_, err = s.db.ExecContext(ctx, `INSERT INTO people (id, name, first, last) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, first = excluded.first, last = excluded.last`, key, p.name(), p.first, p.last)
	default:
		_, err = s.db.ExecContext(ctx, `INSERT INTO people (id, first, last) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET first = excluded.first, last = excluded.last`, key, p.first, p.last)
	}
	return err
}

// read loads a person the way release rel's code does.
func (s *server) read(ctx context.Context, rel int, key string) (person, error) {
	if rel < 2 {
		var name string
		if err := s.db.QueryRowContext(ctx, `SELECT name FROM people WHERE id = ?`, key).Scan(&name); err != nil {
			return person{}, err
		}
		p, _ := split(name)
		return p, nil
	}
	var first, last sql.NullString
	q := `SELECT first, last FROM people WHERE id = ?`
	if rel < 4 {
		// Release 2 also reads the old column, as the expand release must
		// (its code was written against both); with the old column gone
		// early, this is where old code breaks.
		var name sql.NullString
		if err := s.db.QueryRowContext(ctx, `SELECT first, last, name FROM people WHERE id = ?`, key).Scan(&first, &last, &name); err != nil {
			return person{}, err
		}
		if !first.Valid {
			p, _ := split(name.String)
			return p, nil
		}
		return person{first.String, last.String}, nil
	}
	if err := s.db.QueryRowContext(ctx, q, key).Scan(&first, &last); err != nil {
		return person{}, err
	}
	return person{first.String, last.String}, nil
}

// schemaFor is the migration version a release needs.
func (s *server) schemaFor(rel int) int64 {
	switch {
	case rel >= 4 || (rel >= 2 && s.o.DropEarly):
		return 4
	case rel >= 2:
		return 3
	}
	return 1
}

func (s *server) deploy(msg node.Message) error {
	var r request
	if err := json.Unmarshal(msg.Body, &r); err != nil || r.Release < 1 {
		return node.NewRPCError(12, "want {type: deploy, release, [canary, percent, fault_rate]}")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Canary {
		if r.Release != s.canaryRel {
			s.canaryRel, s.fault, s.watch = r.Release, r.Fault, canary.NewWatch(s.o.Rule)
			s.flag.Set(canaryFlag, r.Percent)
			s.flag.Revive(canaryFlag)
		}
		return s.n.Reply(msg, map[string]any{"type": "deploy_ok"})
	}
	if r.Release > s.stable {
		// The schema first, then the code that needs it: a release never
		// runs against a schema older than its own.
		if _, err := s.run.Up(context.Background(), s.set, s.schemaFor(r.Release)); err != nil {
			return node.NewRPCError(13, fmt.Sprintf("deploy %d: %v", r.Release, err))
		}
		s.stable = r.Release
		if s.canaryRel != 0 && s.canaryRel <= r.Release {
			s.flag.Kill(canaryFlag) // a release at or past the canary's supersedes it
			s.canaryRel = 0
		}
	}
	return s.n.Reply(msg, map[string]any{"type": "deploy_ok"})
}
