package grade

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildTestNode compiles the grader's test node once per test binary.
func buildTestNode(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary and grades it in real time")
	}
	bin := filepath.Join(t.TempDir(), "testnode")
	cmd := exec.Command("go", "build", "-o", bin, "../internal/testnodes/testnode")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A submission directory whose build writes a wrapper around the test node.
func dirSubmission(t *testing.T, testnode string) string {
	dir := filepath.Join(t.TempDir(), "bob")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s \"$@\"\n", testnode)
	if err := os.WriteFile(filepath.Join(dir, "node.in"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gradescopeFile is Gradescope's documented results.json, read with no
// help from this package's types.
type gradescopeFile struct {
	Score         *float64 `json:"score"`
	ExecutionTime *float64 `json:"execution_time"`
	Output        string   `json:"output"`
	Visibility    string   `json:"visibility"`
	Tests         []struct {
		Score      *float64 `json:"score"`
		MaxScore   *float64 `json:"max_score"`
		Status     string   `json:"status"`
		Name       string   `json:"name"`
		Number     string   `json:"number"`
		Output     string   `json:"output"`
		Visibility string   `json:"visibility"`
	} `json:"tests"`
}

// junitFile is JUnit XML as a CI system parses it.
type junitFile struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestGradeSubmissions(t *testing.T) {
	testnode := buildTestNode(t)
	out := t.TempDir()
	items, err := LoadItems("testdata/tracks", []string{"demo", "other"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := []Submission{
		{Name: "alice", Path: testnode},
		{Name: "bob", Path: dirSubmission(t, testnode), Build: "cp node.in node && chmod +x node", BinName: "node"},
		{Name: "carol", Path: dirSubmission(t, testnode), Build: "exit 3"},
	}
	var progress bytes.Buffer
	results, err := Grade(context.Background(), Config{Items: items, Jobs: 3, Out: out, Progress: &progress, Seed: 5}, subs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"demo/echo": true, "demo/echo-2": true, "demo/slow-net": true, "demo/crash": false, "demo/not-wrong": false, "other/errors": true}
	for _, r := range results[:2] {
		if r.Dir != filepath.Join(out, r.Submission) {
			t.Errorf("%s written to %s", r.Submission, r.Dir)
		}
		for _, s := range r.Stages {
			if s.Passed != want[s.Name()] {
				t.Errorf("%s %s: passed=%v (%s: %s), want %v", r.Submission, s.Name(), s.Passed, s.Verdict, s.Why, want[s.Name()])
			}
			if s.Report == "" {
				t.Errorf("%s %s: no report path", r.Submission, s.Name())
			} else if _, err := os.Stat(s.Report); err != nil {
				t.Errorf("%s %s: %v", r.Submission, s.Name(), err)
			}
		}
		checkGradescope(t, filepath.Join(r.Dir, "results.json"), want)
		checkJUnit(t, filepath.Join(r.Dir, "junit.xml"), r.Submission, want)
	}
	crash := results[0].Stages[3]
	if crash.Verdict != "crashed" || !strings.Contains(crash.Why, "crashed") {
		t.Errorf("crash stage: %+v", crash)
	}
	if nw := results[0].Stages[4]; !strings.Contains(nw.Why, "expected invalid") {
		t.Errorf("a counter-example the node does not commit: %+v", nw)
	}
	if c := results[2]; !strings.Contains(c.BuildError, "exit 3") || c.Passed() != 0 || c.Stages[0].Verdict != "error" {
		t.Errorf("carol's build failed, yet: %+v", c)
	}
	checkJUnitErrors(t, filepath.Join(results[2].Dir, "junit.xml"), len(items))

	// The latency-sensitive stage ran with nothing beside it.
	for _, r := range results[:2] {
		alone := r.Stages[2]
		if !alone.Alone {
			t.Fatalf("slow-net should run alone: %+v", alone)
		}
		for _, other := range results[:2] {
			for _, s := range other.Stages {
				if s.Name() == alone.Name() && other.Submission == r.Submission {
					continue
				}
				if s.Started.Before(alone.Started.Add(alone.Elapsed)) && alone.Started.Before(s.Started.Add(s.Elapsed)) {
					t.Errorf("%s of %s overlapped %s of %s", s.Name(), other.Submission, alone.Name(), r.Submission)
				}
			}
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != 2*len(items) {
		t.Errorf("%d progress lines for %d graded stages:\n%s", n, 2*len(items), progress.String())
	}

	// The class table: one row per submission, one column per stage.
	table, err := Merge([]string{out})
	if err != nil {
		t.Fatal(err)
	}
	var csvOut bytes.Buffer
	if err := table.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantRows := [][]string{
		{"submission", "demo/echo", "demo/echo-2", "demo/slow-net", "demo/crash", "demo/not-wrong", "other/errors", "score", "max_score"},
		{"alice", "1", "1", "1", "0", "0", "1", "4", "6"},
		{"bob", "1", "1", "1", "0", "0", "1", "4", "6"},
		{"carol", "0", "0", "0", "0", "0", "0", "0", "6"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(wantRows) {
		t.Errorf("class table\n%v\nwant\n%v", rows, wantRows)
	}
	var md bytes.Buffer
	table.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| alice | 1 | 1 | 1 | 0 | 0 | 1 | 4/6 |") {
		t.Errorf("markdown table:\n%s", md.String())
	}
}

func checkGradescope(t *testing.T, path string, want map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g gradescopeFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if g.Score == nil || g.ExecutionTime == nil || g.Output == "" || g.Visibility != "visible" || len(g.Tests) != len(want) {
		t.Fatalf("%s: top-level fields missing or wrong:\n%s", path, raw)
	}
	total := 0.0
	for _, tc := range g.Tests {
		if tc.Score == nil || tc.MaxScore == nil || *tc.MaxScore != 1 || tc.Name == "" || tc.Number == "" || tc.Visibility != "visible" {
			t.Errorf("%s: test %q lacks a documented field", path, tc.Name)
			continue
		}
		wantStatus := map[bool]string{true: "passed", false: "failed"}[want[tc.Name]]
		if tc.Status != wantStatus || (*tc.Score == 1) != want[tc.Name] {
			t.Errorf("%s: %s status %s score %v, want %s", path, tc.Name, tc.Status, *tc.Score, wantStatus)
		}
		if !strings.Contains(tc.Output, "verdict: ") || !strings.Contains(tc.Output, "report.html") {
			t.Errorf("%s: %s output lacks the verdict or the report:\n%s", path, tc.Name, tc.Output)
		}
		total += *tc.Score
	}
	if *g.Score != total {
		t.Errorf("%s: score %v, tests add up to %v", path, *g.Score, total)
	}
}

func checkJUnit(t *testing.T, path, sub string, want map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j junitFile
	if err := xml.Unmarshal(raw, &j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	failures := 0
	seen := 0
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			seen++
			track := strings.TrimPrefix(s.Name, sub+"/")
			name := track + "/" + c.Name
			if c.Classname != sub+"."+track {
				t.Errorf("%s: case %s has classname %q", path, name, c.Classname)
			}
			if (c.Failure == nil) != want[name] {
				t.Errorf("%s: case %s failure=%v, want passed=%v", path, name, c.Failure, want[name])
			}
			if c.Failure != nil {
				failures++
				if c.Failure.Message == "" || !strings.Contains(c.Failure.Text, "report: ") {
					t.Errorf("%s: case %s failure lacks why or the report: %+v", path, name, c.Failure)
				}
			}
			if !strings.Contains(c.SystemOut, "report.html") {
				t.Errorf("%s: case %s: no report path in system-out", path, name)
			}
		}
	}
	if seen != len(want) || j.Tests != len(want) || j.Failures != failures || failures != 2 {
		t.Errorf("%s: %d cases (tests=%d), %d failures (failures=%d)", path, seen, j.Tests, failures, j.Failures)
	}
}

func checkJUnitErrors(t *testing.T, path string, n int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j junitFile
	if err := xml.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	if j.Errors != n || j.Failures != 0 {
		t.Errorf("%s: errors=%d failures=%d, want %d errors for a submission that did not build", path, j.Errors, j.Failures, n)
	}
	if c := j.Suites[0].Cases[0]; c.Error == nil || !strings.Contains(c.Error.Message, "did not build") {
		t.Errorf("%s: first case %+v", path, c)
	}
}

func TestLoadItemsRefusesUnknownStage(t *testing.T) {
	if _, err := LoadItems("testdata/tracks", []string{"demo"}, []string{"echo", "ecoh"}); err == nil || !strings.Contains(err.Error(), `"ecoh"`) {
		t.Errorf("a typo in --stage should be refused, got %v", err)
	}
	items, err := LoadItems("testdata/tracks", []string{"demo"}, []string{"demo/echo", "slow-net"})
	if err != nil || len(items) != 2 || items[0].Alone || !items[1].Alone || !strings.Contains(items[1].Why, "latency") {
		t.Errorf("items %+v, %v", items, err)
	}
}

func TestMergeRefusesDuplicateSubmission(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		r := Result{Submission: "same", Dir: filepath.Join(dir, d), Stages: []StageResult{{Track: "t", Stage: "s", Passed: true}}}
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFiles(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Merge([]string{dir}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("two results for one submission should be refused, got %v", err)
	}
}

func TestMainPlanAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"--track", "demo", "--tracks-dir", "testdata/tracks", "--plan"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "slow-net") || !strings.Contains(out.String(), "alone") {
		t.Errorf("plan:\n%s", out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"--tracks-dir", "testdata/tracks", "x"}, &out, &errOut); code != 254 {
		t.Errorf("no --track: exit %d", code)
	}
	if code := MergeMain([]string{"--format", "xls", "x"}, &out, &errOut); code != 254 {
		t.Errorf("bad format: exit %d", code)
	}
}
