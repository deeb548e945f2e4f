package grade

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Row is one submission in a class table.
type Row struct {
	Submission string
	Scores     map[string]float64 // by test name
	Score, Max float64
	File       string
}

// Table is a class: every submission against the union of their tests.
type Table struct {
	Tests []string // in first-seen order
	Rows  []Row    // by submission name
}

// Merge reads Gradescope results.json files — given directly, or found
// under directories (a CI run's downloaded artefacts; store/ directories
// are skipped, their results.json are the grader's per-run files) — and
// builds the class table. A submission is named by extra_data.submission,
// else by its file's directory. A name seen twice is an error: two results
// for one learner would hide one of them.
func Merge(paths []string) (Table, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return Table{}, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "store" {
				return filepath.SkipDir
			}
			if !d.IsDir() && d.Name() == "results.json" {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return Table{}, err
		}
	}
	if len(files) == 0 {
		return Table{}, errors.New("no results.json files found")
	}
	var t Table
	seen := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return Table{}, err
		}
		var g Gradescope
		if err := json.Unmarshal(raw, &g); err != nil {
			return Table{}, fmt.Errorf("%s: %w", f, err)
		}
		if g.Tests == nil {
			return Table{}, fmt.Errorf("%s is not a Gradescope results file (no tests)", f)
		}
		name, _ := g.ExtraData["submission"].(string)
		if name == "" {
			name = filepath.Base(filepath.Dir(f))
		}
		if prev, ok := seen[name]; ok {
			return Table{}, fmt.Errorf("submission %q appears twice: %s and %s", name, prev, f)
		}
		seen[name] = f
		row := Row{Submission: name, Scores: map[string]float64{}, File: f}
		for _, tc := range g.Tests {
			if !slices.Contains(t.Tests, tc.Name) {
				t.Tests = append(t.Tests, tc.Name)
			}
			row.Scores[tc.Name] = tc.Score
			row.Score += tc.Score
			row.Max += tc.MaxScore
		}
		t.Rows = append(t.Rows, row)
	}
	slices.SortFunc(t.Rows, func(a, b Row) int { return strings.Compare(a.Submission, b.Submission) })
	return t, nil
}

// WriteMarkdown prints the table in Markdown; a test a submission was not
// graded on shows "-".
func (t Table) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "| submission | %s | total |\n", strings.Join(t.Tests, " | "))
	fmt.Fprintf(w, "|---|%s---|\n", strings.Repeat("---|", len(t.Tests)))
	for _, r := range t.Rows {
		cells := []string{r.Submission}
		for _, name := range t.Tests {
			cells = append(cells, t.cell(r, name))
		}
		cells = append(cells, fmt.Sprintf("%g/%g", r.Score, r.Max))
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// WriteCSV prints the table as CSV, for a spreadsheet or a grade book.
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append(append([]string{"submission"}, t.Tests...), "score", "max_score"))
	for _, r := range t.Rows {
		rec := []string{r.Submission}
		for _, name := range t.Tests {
			rec = append(rec, t.cell(r, name))
		}
		rec = append(rec, fmt.Sprint(r.Score), fmt.Sprint(r.Max))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func (t Table) cell(r Row, test string) string {
	s, ok := r.Scores[test]
	if !ok {
		return "-"
	}
	return fmt.Sprint(s)
}
