package maelstrom

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildTestNode compiles the test node binary into a temporary directory.
func buildTestNode(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a binary")
	}
	bin := filepath.Join(tb.TempDir(), "testnode")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/testnodes/testnode")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestProcessModeCLI(t *testing.T) {
	bin := buildTestNode(t)
	store := t.TempDir()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"test", "-w", "echo", "--bin", bin, "--nodes", "n1,n2",
		"--time-limit", "2", "--rate", "20", "--store", store, "--seed", "7", "--test-count", "2", "echo"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"=== test 1 of 2 (seed 7)", "=== test 2 of 2 (seed 8)", "all 2 tests passed", "Everything looks good"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"results.json", "history.jsonl", "history.txt", "messages.jsonl", "summary.txt", "report.html", "node-logs/n1.log"} {
		if _, err := os.Stat(filepath.Join(store, "latest", f)); err != nil {
			t.Errorf("store: %v", err)
		}
	}
}

func TestProcessModeCrash(t *testing.T) {
	bin := buildTestNode(t)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"test", "-w", "echo", "--bin", bin, "--node-count", "1",
		"--time-limit", "5", "--rate", "20", "--store", "", "--", "crash"}, &out, &errOut)
	if code != 255 {
		t.Fatalf("exit %d, want 255\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"node n0", "exit status 2", "index out of range"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("crash report lacks %q:\n%s", want, out.String())
		}
	}
}

// BenchmarkProcessStartToFirstOp measures how long the grader takes from
// Run to the first client operation with process nodes: spawning three
// node processes, init and setup included (the JVM Maelstrom needs seconds).
func BenchmarkProcessStartToFirstOp(b *testing.B) {
	bin := buildTestNode(b)
	var total time.Duration
	for range b.N {
		opts, _ := ParseArgs([]string{"-w", "echo", "--node-count", "3", "--time-limit", "0.05", "--rate", "100"})
		opts.StoreDir = ""
		rep, err := Run(context.Background(), opts, Binary{Path: bin, Args: []string{"echo"}})
		if err != nil || rep.Crash != nil || len(rep.History) == 0 {
			b.Fatalf("run failed: %v %v", err, rep)
		}
		// History times count from the network's creation, the first thing
		// Run does, before any node is spawned.
		total += rep.History[0].Time
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-first-op")
}
