package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// Every built track has a starter, aimed at its first stage, whose lesson
// section exists.
func TestEveryBuiltTrackHasAStarter(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "tracks", "*", "stages.tsv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stages files: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		tr, err := Find(name)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		all, err := stages.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		var before []string
		for _, st := range all {
			if st.Name == tr.Stage {
				break
			}
			before = append(before, st.Name)
		}
		if len(before) == len(all) || !slices.Equal(before, tr.Passes) {
			t.Errorf("%s: starter aims at stage %q after %v; the stages file has %v before it", name, tr.Stage, tr.Passes, before)
		}
		lesson, err := os.ReadFile(filepath.Join(root, tr.Lesson()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(lesson), "## "+tr.Section+"\n") {
			t.Errorf("%s: the lesson has no section %q", name, tr.Section)
		}
		if !strings.Contains(string(lesson), "make start-"+name) {
			t.Errorf("%s: the lesson does not say how to start from a starter", name)
		}
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	tr, _ := Find("counter")
	if _, err := Write(tr, dir, "python"); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(tr, dir, "python"); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second write: %v", err)
	}
	if _, err := Write(tr, dir, "rust"); err == nil {
		t.Errorf("an unknown language was accepted")
	}
	if inModule(root, t.TempDir()) || !inModule(root, filepath.Join(root, "mine", "x")) {
		t.Errorf("inModule is wrong")
	}
}

// gradeFirstStage grades bin on tr's first failing stage, as processes,
// with the time limit capped, and returns everything the learner would
// read: the summary, or the error when the run could not complete.
// A Python starter runs as interp with the file as its first argument.
func gradeFirstStage(t *testing.T, tr Track, bin string, pre ...string) string {
	t.Helper()
	all, err := stages.Load(filepath.Join(root, "tracks", tr.Name, "stages.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := stages.Find(all, tr.Stage)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := maelstrom.ParseArgs(st.GraderArgs)
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir, opts.Seed = "", 1
	opts.TimeLimit = min(opts.TimeLimit, 2*time.Second)
	opts.RecoveryTime = min(opts.RecoveryTime, time.Second)
	rep, err := maelstrom.Run(context.Background(), opts, maelstrom.Binary{Path: bin, Args: append(pre, st.NodeArgs...)})
	if rep == nil {
		return fmt.Sprint(err)
	}
	crash := ""
	if rep.Crash != nil {
		crash = rep.Crash.String()
	}
	if ok, _ := st.Judge(crash, rep.Valid, rep.Results); ok {
		t.Errorf("%s: the starter passed stage %s", tr.Name, st.Name)
	}
	return rep.Summary() + fmt.Sprint(err)
}

// Every Go starter builds; the messenger one and every Python one fail
// their first stage with the grader showing the pointer to the lesson.
func TestStartersFailFirstStagePointingAtLesson(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and grades them in real time")
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp("testdata", "starters-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	bins := t.TempDir()
	var pkgs []string
	for _, tr := range Tracks {
		if _, err := Write(tr, filepath.Join(tmp, tr.Name), "go"); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Join(tmp, tr.Name)))
	}
	cmd := exec.Command("go", append([]string{"build", "-o", bins + "/"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the Go starters: %v\n%s", err, out)
	}
	// The interpreter itself, not a launcher script in front of it: the
	// grader gives nodes 10 s to answer init.
	var python string
	out, pyErr := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if pyErr == nil {
		python = strings.TrimSpace(string(out))
	}
	t.Run("go/messenger", func(t *testing.T) {
		t.Parallel()
		tr, _ := Find("messenger")
		if out := gradeFirstStage(t, tr, filepath.Join(bins, "messenger")); !strings.Contains(out, tr.Lesson()) {
			t.Errorf("the grader's output does not point at %s:\n%s", tr.Lesson(), out)
		}
	})
	for _, tr := range Tracks {
		t.Run("python/"+tr.Name, func(t *testing.T) {
			if pyErr != nil {
				t.Skip("no python3")
			}
			t.Parallel()
			files, err := Write(tr, t.TempDir(), "python")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(python, "-m", "py_compile", files[0]).CombinedOutput(); err != nil {
				t.Fatalf("%s does not compile: %s", files[0], out)
			}
			if out := gradeFirstStage(t, tr, python, files[0]); !strings.Contains(out, tr.Lesson()) {
				t.Errorf("the grader's output does not point at %s:\n%s", tr.Lesson(), out)
			}
		})
	}
}
