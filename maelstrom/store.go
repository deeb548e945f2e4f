package maelstrom

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runDir is store/<workload>/<YYYYMMDDTHHMMSS.mmmZ>.
func runDir(store, workload string, t time.Time) string {
	return filepath.Join(store, workload, t.UTC().Format("20060102T150405.000Z"))
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
