// Command starter writes a starter node for a track, for a learner to
// begin from: `make start-<track> DIR=path [LANG=go|python]`.
//
// A Go starter is a main package on internal/node (so DIR must be inside
// this repository: the runtime is internal to the module); a Python
// starter is one dependency-free file. Both answer init, and answer every
// request of the track's first stage with error 10 and a pointer to the
// lesson, so that grading the starter fails that stage saying where to
// read. The networker track's first stage talks TCP, not stdin: its
// starter exits after init, saying what to serve and where to read.
package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// Track is what a starter needs to know about its track.
type Track struct {
	Name  string
	Stage string // the first stage the starter fails
	// Passes are the stages before Stage, which a starter passes as is
	// (messenger's init: the runtime answers it).
	Passes  []string
	Section string   // the lesson's section for that stage
	Types   []string // request types that stage sends
	// Exit, when set, makes the starter exit after init with this message
	// (the stage needs more than messages on stdin).
	Exit string
}

// Tracks are the built tracks. starter_test.go checks that every track with
// a stages.tsv is here and that Stage is its first stage.
var Tracks = []Track{
	{Name: "messenger", Stage: "echo", Passes: []string{"init"}, Section: "The protocol by example", Types: []string{"echo"}},
	{Name: "identifier", Stage: "counter", Section: "The protocol", Types: []string{"generate"}},
	{Name: "gossiper", Stage: "a", Section: "The protocol", Types: []string{"topology", "broadcast", "read"}},
	{Name: "timekeeper", Stage: "wall-unskewed", Section: "The `clocks` workload", Types: []string{"event", "send", "log"}},
	{Name: "networker", Stage: "tcp", Section: "The net-rpc protocol (the specification)",
		Exit: "serve the networker RPC protocol on the TCP address in the NETRPC_ADDR environment variable"},
	{Name: "counter", Stage: "naive", Section: "The protocol", Types: []string{"add", "read"}},
	{Name: "elector", Stage: "election", Section: "The election workload (ours)", Types: []string{"status"}},
	{Name: "consensus", Stage: "replicate", Section: "The log workload (ours)", Types: []string{"append", "read_log"}},
	{Name: "store", Stage: "kv", Section: "The workload: lin-kv (Maelstrom's)", Types: []string{"read", "write", "cas"}},
	{Name: "sharder", Stage: "migrate", Section: "The workload: sharded-kv (ours)", Types: []string{"read", "write", "cas", "join", "leave", "move", "query"}},
	{Name: "coordinator", Stage: "6a", Section: "The workloads: txn-rw-register (Maelstrom's) and bank (ours)", Types: []string{"txn"}},
	{Name: "caches", Stage: "lru", Section: "The workload: cache (ours)", Types: []string{"read", "write"}},
	{Name: "proxies", Stage: "relay", Section: "The workload: proxy (ours)", Types: []string{"get", "incr"}},
	{Name: "indexes", Stage: "memtree", Section: "The workload: index-kv (ours)", Types: []string{"put", "get", "delete", "scan", "query"}},
	{Name: "loadbalancers", Stage: "round-robin", Section: "The workload: lb (ours)", Types: []string{"request"}},
	{Name: "queues", Stage: "kafka-single", Section: "The workloads", Types: []string{"send", "poll", "commit_offsets", "list_committed_offsets"}},
	{Name: "mapreducer", Stage: "local", Section: "The workload: mapreduce (ours)", Types: []string{"submit", "status"}},
	{Name: "logger", Stage: "wal", Section: "The workload: kafka (Maelstrom's)", Types: []string{"send", "poll", "commit_offsets", "list_committed_offsets"}},
	{Name: "reactor", Stage: "single", Section: "The workload: eventstore (ours)", Types: []string{"append", "load", "read_stream", "read_all", "as_of", "read_model"}},
	{Name: "filesystem", Stage: "files", Section: "The workload: dfs (ours)", Types: []string{"create", "append", "read", "list", "delete", "locate"}},
	{Name: "orchestrator", Stage: "single", Section: "The workload: orchestrate (ours)", Types: []string{"apply", "scale", "delete_deployment", "call"}},
	{Name: "scheduler", Stage: "single", Section: "The workload: jobs (ours)", Types: []string{"submit", "cron"}},
	{Name: "tracer", Stage: "single", Section: "The workload: trace (ours)", Types: []string{"rule", "push", "call", "query", "traces", "alerts", "stats"}},
	{Name: "watcher", Stage: "single", Section: "The workload: watch (ours)", Types: []string{"put", "get", "cas", "watch", "watch_once", "lease_grant", "lease_keepalive", "lock", "fenced_write"}},
	{Name: "migrator", Stage: "short", Section: "The workload: migrate (ours)", Types: []string{"write", "read", "deploy"}},
	{Name: "searcher", Stage: "single", Section: "The workload: search (ours)", Types: []string{"index", "delete", "search"}},
	{Name: "securitor", Stage: "attacked", Section: "The workload: secure-kv (ours)", Types: []string{"read", "write", "rotate", "audit"}},
	{Name: "advanced", Stage: "dht-small", Section: "The workload: dht (ours)", Types: []string{"ring", "put", "get", "join", "leave"}},
}

//go:embed templates
var templates embed.FS

// Lesson is the lesson's path from the repository root.
func (t Track) Lesson() string { return "tracks/" + t.Name + "/README.md" }

// Message is the text of the error the starter answers with.
func (t Track) Message() string {
	if t.Exit != "" {
		return fmt.Sprintf("starter for %s: %s; read %s, section %q", t.Name, t.Exit, t.Lesson(), t.Section)
	}
	return fmt.Sprintf("starter for %s: not written yet; read %s, section %q, then handle this message", t.Name, t.Lesson(), t.Section)
}

// Find returns the track called name.
func Find(name string) (Track, error) {
	var names []string
	for _, t := range Tracks {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return Track{}, fmt.Errorf("no starter for track %q; starters exist for %s", name, strings.Join(names, ", "))
}

// Write renders the starter for t into dir and returns the files written.
// It refuses to overwrite a file: a learner's work is never replaced.
func Write(t Track, dir, lang string) ([]string, error) {
	var name, tmpl string
	switch lang {
	case "go":
		name, tmpl = "main.go", "templates/main.go.tmpl"
	case "python":
		name, tmpl = t.Name+".py", "templates/node.py.tmpl"
	default:
		return nil, fmt.Errorf("LANG must be go or python, got %q", lang)
	}
	src, err := fs.ReadFile(templates, tmpl)
	if err != nil {
		return nil, err
	}
	tp, err := template.New(tmpl).Funcs(template.FuncMap{"quote": func(s string) string { return fmt.Sprintf("%q", s) }}).Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, struct {
		Track
		Dir string
	}{t, filepath.ToSlash(dir)}); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if lang == "go" {
		if out, err = format.Source(out); err != nil {
			return nil, fmt.Errorf("starter template: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists already; starters never overwrite your work (choose another DIR)", path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return nil, err
	}
	return []string{path}, f.Close()
}

// inModule reports whether dir lies inside the module rooted at root.
func inModule(root, dir string) bool {
	a, err1 := filepath.Abs(root)
	b, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(a, b)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

func main() {
	if len(os.Args) != 4 || os.Args[2] == "" {
		fmt.Fprintln(os.Stderr, "usage: make start-<track> DIR=path [LANG=go|python]   (starter TRACK DIR LANG)")
		os.Exit(2)
	}
	t, err := Find(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, lang := os.Args[2], os.Args[3]
	if lang == "go" && !inModule(".", dir) {
		fmt.Fprintf(os.Stderr, "a Go starter imports internal/node, which only code inside this repository may import: choose a DIR inside it, e.g. DIR=mine/%s\n", t.Name)
		os.Exit(2)
	}
	files, err := Write(t, dir, lang)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := "bin/my-" + t.Name
	fmt.Printf("wrote %s\n", strings.Join(files, ", "))
	if lang == "go" {
		fmt.Printf("build and grade it:\n  go build -o %s ./%s && make track-%s BIN=%s STAGE=%s\n", bin, filepath.ToSlash(filepath.Clean(dir)), t.Name, bin, t.Stage)
	} else {
		fmt.Printf("grade it:\n  make track-%s BIN=%s STAGE=%s\n", t.Name, files[0], t.Stage)
	}
	fmt.Printf("it fails stage %s, pointing at %s; start reading there.\n", t.Stage, t.Lesson())
}
