package grade

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Gradescope is Gradescope's autograder results.json: the fields of its
// documented "Output format" that a grading fills in.
type Gradescope struct {
	Score         float64          `json:"score"`
	ExecutionTime int              `json:"execution_time"` // seconds
	Output        string           `json:"output"`
	Visibility    string           `json:"visibility"`
	ExtraData     map[string]any   `json:"extra_data,omitempty"`
	Tests         []GradescopeTest `json:"tests"`
}

// GradescopeTest is one test case: here, one stage.
type GradescopeTest struct {
	Score      float64  `json:"score"`
	MaxScore   float64  `json:"max_score"`
	Status     string   `json:"status"` // "passed" or "failed"
	Name       string   `json:"name"`
	Number     string   `json:"number"`
	Output     string   `json:"output"`
	Tags       []string `json:"tags,omitempty"`
	Visibility string   `json:"visibility"`
}

// ToGradescope renders a submission's grading, one point per stage.
func ToGradescope(r Result) Gradescope {
	g := Gradescope{ExecutionTime: int(r.Elapsed.Seconds() + 0.5), Visibility: "visible",
		ExtraData: map[string]any{"submission": r.Submission}, Tests: []GradescopeTest{}}
	for i, s := range r.Stages {
		t := GradescopeTest{MaxScore: 1, Status: "failed", Name: s.Name(), Number: fmt.Sprint(i + 1),
			Output: stageOutput(s), Tags: []string{s.Track}, Visibility: "visible"}
		if s.Passed {
			t.Score, t.Status = 1, "passed"
		}
		g.Score += t.Score
		g.Tests = append(g.Tests, t)
	}
	g.Output = fmt.Sprintf("%s: %d of %d stages passed", r.Submission, r.Passed(), len(r.Stages))
	if r.BuildError != "" {
		g.Output += "\nthe submission did not build:\n" + r.BuildError
	}
	return g
}

// stageOutput is the text a learner sees for one stage.
func stageOutput(s StageResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s (expected %s)\n", s.Verdict, s.Expect)
	if s.Why != "" {
		fmt.Fprintf(&b, "why it failed: %s\n", s.Why)
	}
	if s.FirstViolation != "" {
		fmt.Fprintf(&b, "first violation: %s\n", s.FirstViolation)
	}
	if s.Report != "" {
		fmt.Fprintf(&b, "report: %s\n", s.Report)
	}
	fmt.Fprintf(&b, "seed: %d (replay with --seed %d)\n", s.Seed, s.Seed)
	return b.String()
}

// WriteFiles writes a submission's results.json (Gradescope), junit.xml
// and grade.json (everything, for merge-results) into r.Dir.
func WriteFiles(r Result) error {
	gs, err := json.MarshalIndent(ToGradescope(r), "", "  ")
	if err != nil {
		return err
	}
	if err := storage.WriteFileAtomic(storage.OS, filepath.Join(r.Dir, "results.json"), gs, 0o644); err != nil {
		return err
	}
	ju, err := JUnit(r)
	if err != nil {
		return err
	}
	if err := storage.WriteFileAtomic(storage.OS, filepath.Join(r.Dir, "junit.xml"), ju, 0o644); err != nil {
		return err
	}
	all, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return storage.WriteFileAtomic(storage.OS, filepath.Join(r.Dir, "grade.json"), all, 0o644)
}
