package maelstrom

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
	"github.com/distsys-curriculum/distsys/maelstrom/report"
)

// reportInput maps the run onto the HTML report's input.
func (r *Report) reportInput() report.Input {
	in := report.Input{
		Title:    fmt.Sprintf("%s, %d nodes, seed %d", r.Options.Workload, r.Options.NodeCount, r.Seed),
		Workload: r.Options.Workload, History: r.History, Verdict: r.Valid, Results: r.Results,
		Duration: r.SimDuration,
	}
	in.Nodes = r.Options.IDs()
	byID := map[int64]int{}
	clients := map[string]bool{}
	for _, e := range r.journal {
		if e.Kind == "send" {
			byID[e.ID] = len(in.Messages)
			in.Messages = append(in.Messages, report.Message{ID: e.ID, Src: e.Src, Dest: e.Dest, Body: e.Body, Sent: e.Time, Dropped: true})
			for _, id := range []string{e.Src, e.Dest} {
				if netsim.IsClient(id) && !clients[id] {
					clients[id] = true
					in.Clients = append(in.Clients, id)
				}
			}
			continue
		}
		if i, ok := byID[e.ID]; ok {
			in.Messages[i].Received, in.Messages[i].Dropped = e.Time, false
		}
	}
	// Fault intervals: from each start-X to the next stop-X.
	open := map[string]time.Duration{}
	for _, op := range r.History {
		if op.Process != NemesisProcess {
			continue
		}
		if op.F == "kill" || op.F == "corrupt" || op.F == "pause" {
			open[op.F] = op.Time
		} else if starts := map[string][]string{"restart": {"kill", "corrupt"}, "resume": {"pause"}}[op.F]; starts != nil {
			for _, start := range starts {
				if t, ok := open[start]; ok {
					in.Faults = append(in.Faults, report.Interval{Start: t, End: op.Time, Label: fmt.Sprintf("%s %s", start, describeStep(op.Value))})
					delete(open, start)
					break
				}
			}
		} else if name, ok := strings.CutPrefix(op.F, "start-"); ok {
			open[name] = op.Time
		} else if name, ok := strings.CutPrefix(op.F, "stop-"); ok {
			if start, ok := open[name]; ok {
				in.Faults = append(in.Faults, report.Interval{Start: start, End: op.Time, Label: name})
				delete(open, name)
			}
		}
	}
	for name, start := range open {
		in.Faults = append(in.Faults, report.Interval{Start: start, End: r.SimDuration, Label: name})
	}
	return in
}

// runDir is store/<workload>/<YYYYMMDDTHHMMSS.mmmZ>.
func runDir(store, workload string, t time.Time) string {
	return filepath.Join(store, workload, t.UTC().Format("20060102T150405.000Z"))
}

// makeRunDir creates a new run directory. Runs that start in the same
// millisecond (stages graded side by side) take the next free one rather
// than share a directory.
func makeRunDir(store, workload string, t time.Time) (string, error) {
	if err := os.MkdirAll(filepath.Join(store, workload), 0o755); err != nil {
		return "", err
	}
	for {
		dir := runDir(store, workload, t)
		err := os.Mkdir(dir, 0o755)
		if !errors.Is(err, fs.ErrExist) {
			return dir, err
		}
		t = t.Add(time.Millisecond)
	}
}

// store writes results.json, history.jsonl, history.txt, messages.jsonl,
// node-logs/ and summary.txt, and points store/latest at the run.
func (r *Report) store(_ *run) error {
	dir := r.StorePath
	res, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), res, 0o644); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(dir, "history.jsonl"), len(r.History), func(i int) ([]byte, error) {
		return json.Marshal(r.History[i])
	}); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(dir, "history.txt"), len(r.History), func(i int) ([]byte, error) {
		op := r.History[i]
		errText := ""
		if op.Error != nil {
			errText = op.Error.String()
		}
		v, _ := json.Marshal(op.Value)
		return fmt.Appendf(nil, "%.3f\t%d\t%s\t%s\t%s\t%s\t%s", op.Time.Seconds(), op.Process, op.Type, op.F, v, op.Node, errText), nil
	}); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(dir, "messages.jsonl"), len(r.journal), func(i int) ([]byte, error) {
		return json.Marshal(r.journal[i])
	}); err != nil {
		return err
	}
	logs := filepath.Join(dir, "node-logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	for id, text := range r.nodeLogs {
		if err := os.WriteFile(filepath.Join(logs, id+".log"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(r.Summary()), 0o644); err != nil {
		return err
	}
	if err := report.WriteFile(filepath.Join(dir, "report.html"), r.reportInput()); err != nil {
		return err
	}
	// store/latest -> <workload>/<time>; best effort, as on Windows.
	latest := filepath.Join(r.Options.StoreDir, "latest")
	rel, err := filepath.Rel(r.Options.StoreDir, dir)
	if err == nil {
		_ = os.Remove(latest)
		_ = os.Symlink(rel, latest)
	}
	return nil
}

func writeLines(path string, n int, line func(i int) ([]byte, error)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		b, err := line(i)
		if err != nil {
			f.Close()
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
