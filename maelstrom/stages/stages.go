// Package stages reads a track's stages.tsv: the single list of how each
// stage of a track is graded, shared by `make track-<name>` (process mode)
// and the track's Go tests (in-process mode).
//
// Format: one stage per line, tab- or space-separated columns
//
//	stage  expect  ci  grader-args... [-- node-args...]
//
// where expect is "valid", or "invalid" for a teaching counter-example, or
// "invalid:checker[,checker]" to demand that the rejection comes from those
// checkers (the right reason, e.g. "invalid:counter" for lost updates); ci
// is "yes" for the one stage `make test` grades against the real binary.
// Blank lines and lines starting with # are ignored.
package stages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

// Stage is one graded step of a track.
type Stage struct {
	Name       string
	ExpectPass bool // false: the grader must say invalid
	// InvalidBy lists the checkers that must report the violation when
	// ExpectPass is false; empty means any reason will do.
	InvalidBy  []string
	CI         bool     // graded in process mode by make test
	GraderArgs []string // flags for `maelstrom test`, without --bin
	NodeArgs   []string // arguments passed to every node
}

// Expect renders ExpectPass as in the file.
func (s Stage) Expect() string {
	if s.ExpectPass {
		return "valid"
	}
	return "invalid"
}

// Parse reads stages from r; name is used in error messages.
func Parse(r io.Reader, name string) ([]Stage, error) {
	var out []Stage
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 4 {
			return nil, fmt.Errorf("%s:%d: want `stage expect ci args...`, got %q", name, line, text)
		}
		s := Stage{Name: f[0]}
		switch expect, by, _ := strings.Cut(f[1], ":"); {
		case f[1] == "valid":
			s.ExpectPass = true
		case expect == "invalid" && (by != "" || f[1] == "invalid"):
			if by != "" {
				s.InvalidBy = strings.Split(by, ",")
			}
		default:
			return nil, fmt.Errorf("%s:%d: expect must be valid, invalid or invalid:checker, got %q", name, line, f[1])
		}
		switch f[2] {
		case "yes":
			s.CI = true
		case "no":
		default:
			return nil, fmt.Errorf("%s:%d: ci must be yes or no, got %q", name, line, f[2])
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%s:%d: stage %q listed twice", name, line, s.Name)
		}
		seen[s.Name] = true
		args := f[3:]
		for i, a := range args {
			if a == "--" {
				s.NodeArgs = append([]string{}, args[i+1:]...)
				args = args[:i]
				break
			}
		}
		s.GraderArgs = append([]string{}, args...)
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no stages", name)
	}
	return out, nil
}

// Load reads a stages file from disk.
func Load(path string) ([]Stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Find returns the stage called name.
func Find(all []Stage, name string) (Stage, error) {
	var names []string
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Stage{}, fmt.Errorf("no stage %q (stages: %s)", name, strings.Join(names, ", "))
}

// Judge reports whether a run met the stage's expectation, and why not:
// crash describes a crash ("" for none), valid is the run's verdict and
// results its checkers' verdicts. Every way of grading a stage (the
// tracks' tests, `maelstrom grade`) asks this one function.
func (s Stage) Judge(crash string, valid checker.Validity, results []checker.Result) (bool, string) {
	if crash != "" {
		return false, "the run crashed: " + crash
	}
	if s.ExpectPass {
		if valid != checker.Valid {
			return false, "expected valid, got " + string(valid)
		}
		return true, ""
	}
	if valid != checker.Invalid {
		return false, "expected invalid (a teaching counter-example), got " + string(valid)
	}
	if len(s.InvalidBy) == 0 {
		return true, ""
	}
	var by []string
	for _, res := range results {
		if res.Valid == checker.Invalid {
			if slices.Contains(s.InvalidBy, res.Checker) {
				return true, ""
			}
			by = append(by, res.Checker)
		}
	}
	return false, "expected invalid by " + strings.Join(s.InvalidBy, " or ") + ", but invalid by " + strings.Join(by, ", ")
}
