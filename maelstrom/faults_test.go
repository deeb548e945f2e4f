package maelstrom

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

// faultWindows returns, per node, the [start, end) intervals during which
// the nemesis had it paused (or killed), from the history.
func faultWindows(h history.History, start, stop string, end time.Duration) map[string][][2]time.Duration {
	open := map[string]time.Duration{}
	out := map[string][][2]time.Duration{}
	for _, op := range h {
		if op.Process != NemesisProcess {
			continue
		}
		nodes, _ := op.Value.([]string)
		for _, n := range nodes {
			switch op.F {
			case start:
				open[n] = op.Time
			case stop:
				out[n] = append(out[n], [2]time.Duration{open[n], op.Time})
				delete(open, n)
			}
		}
	}
	for n, t := range open {
		out[n] = append(out[n], [2]time.Duration{t, end})
	}
	return out
}

// A paused node answers nothing while paused, and what was sent to it
// meanwhile is answered when it resumes: pauses here are shorter than the
// client timeout, so every request completes, some exactly at a resume.
func TestPauseHoldsMessagesUntilResume(t *testing.T) {
	rep := grade(t, testnodes.UniqueIDs(false), "-w", "unique-ids", "--node-count", "3", "--time-limit", "20",
		"--rate", "50", "--nemesis", "pause", "--nemesis-interval", "1")
	wantVerdict(t, rep, checker.Valid, "pause ×", "resume ×", "fault schedule")
	paused := faultWindows(rep.History, "pause", "resume", rep.SimDuration)
	if len(paused) == 0 {
		t.Fatalf("nothing was paused\n%s", rep.Summary())
	}
	resumes := map[time.Duration]bool{}
	for _, s := range rep.Faults {
		if s.F == "resume" {
			resumes[s.Time] = true
		}
	}
	heldAndAnswered := 0
	for _, op := range rep.History {
		if op.Process < 0 || op.Type != history.OK {
			continue
		}
		for _, w := range paused[op.Node] {
			if op.Time > w[0] && op.Time < w[1] {
				t.Fatalf("%s answered at %v while paused during %v", op.Node, op.Time, w)
			}
		}
		if resumes[op.Time] {
			heldAndAnswered++
		}
	}
	if heldAndAnswered == 0 {
		t.Fatalf("no request held during a pause was answered at the resume\n%s", rep.Summary())
	}
	if c := rep.ByF["generate"]; c.Info != 0 {
		t.Fatalf("%d requests timed out; pauses under 5 s should only delay them\n%s", c.Info, rep.Summary())
	}
}

// Messages sent to a killed node are lost (journaled as sent, never
// received), and its stderr log shows where each incarnation ended.
func TestKillDropsMessagesAndMarksLogs(t *testing.T) {
	opts, err := ParseArgs([]string{"-w", "unique-ids", "--node-count", "3", "--time-limit", "20", "--rate", "50",
		"--nemesis", "kill", "--nemesis-interval", "3", "--seed", "5"})
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = t.TempDir()
	var rep *Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = Run(context.Background(), opts, InProcess{Program: testnodes.UniqueIDs(false)})
	})
	if err != nil || rep.Crash != nil {
		t.Fatalf("run: %v\n%s", err, rep.Summary())
	}
	if rep.Net.Dropped == 0 {
		t.Fatalf("no message to a killed node was dropped\n%s", rep.Summary())
	}
	killed := faultWindows(rep.History, "kill", "restart", rep.SimDuration)
	var victim string
	for n := range killed {
		victim = n
	}
	if victim == "" {
		t.Fatalf("nothing was killed\n%s", rep.Summary())
	}
	logText, err := os.ReadFile(filepath.Join(rep.StorePath, "node-logs", victim+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "--- killed by the nemesis at ") || !strings.Contains(string(logText), "--- restarted by the nemesis at ") {
		t.Fatalf("log of %s has no kill and restart markers:\n%s", victim, logText)
	}
	if st, err := os.Stat(filepath.Join(rep.StorePath, "data", victim)); err != nil || !st.IsDir() {
		t.Fatalf("no data directory for %s in the run folder: %v", victim, err)
	}
	raw, err := os.ReadFile(filepath.Join(rep.StorePath, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Faults []FaultStep `json:"faults"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Faults) != len(rep.Faults) || res.Faults[0].F != "kill" {
		t.Fatalf("results.json faults %+v (%v); want the %d steps of the run", res.Faults, err, len(rep.Faults))
	}
}

// With one seed, an in-process run replays exactly: the same operations
// with the same values at the same times, and the same fault schedule.
func TestSeedReplaysInProcessRunExactly(t *testing.T) {
	args := []string{"-w", "unique-ids", "--node-count", "3", "--time-limit", "20", "--rate", "30",
		"--nemesis", "partition,kill,pause", "--nemesis-interval", "2", "--latency", "10", "--latency-dist", "uniform"}
	type step struct {
		Time    time.Duration
		Process int
		Type    history.Type
		F       string
		Value   string
		Node    string
	}
	// Events at the same virtual instant are concurrent, and the order in
	// which the recorder saw them is the goroutine scheduler's; the
	// comparison orders them canonically, everything else must match.
	flatten := func(h history.History) []step {
		var out []step
		for _, op := range h {
			v, _ := json.Marshal(op.Value)
			out = append(out, step{op.Time, op.Process, op.Type, op.F, string(v), op.Node})
		}
		sort.SliceStable(out, func(i, j int) bool {
			x, y := out[i], out[j]
			if x.Time != y.Time {
				return x.Time < y.Time
			}
			if x.Process != y.Process {
				return x.Process < y.Process
			}
			return x.Type == history.Invoke && y.Type != history.Invoke
		})
		return out
	}
	a := grade(t, testnodes.UniqueIDs(false), append(args, "--seed", "11")...)
	b := grade(t, testnodes.UniqueIDs(false), append(args, "--seed", "11")...)
	if len(a.Faults) < 4 {
		t.Fatalf("only %d fault steps; the scenario should exercise the schedule\n%s", len(a.Faults), a.Summary())
	}
	kinds := map[string]bool{}
	for _, s := range a.Faults {
		kinds[s.F] = true
	}
	if !kinds["kill"] || !kinds["pause"] || !kinds["start-partition"] {
		t.Fatalf("fault kinds %v: want kill, pause and partition in one run\n%s", kinds, a.Summary())
	}
	if !reflect.DeepEqual(a.Faults, b.Faults) {
		t.Fatalf("same seed, different fault schedules:\n%v\n%v", a.Faults, b.Faults)
	}
	ha, hb := flatten(a.History), flatten(b.History)
	if len(ha) != len(hb) {
		t.Fatalf("same seed, %d and %d history entries", len(ha), len(hb))
	}
	for i := range ha {
		if ha[i] != hb[i] {
			t.Fatalf("same seed, histories differ at entry %d:\n%+v\n%+v", i, ha[i], hb[i])
		}
	}
	c := grade(t, testnodes.UniqueIDs(false), append(args, "--seed", "12")...)
	if reflect.DeepEqual(a.Faults, c.Faults) {
		t.Fatal("another seed gave the same fault schedule")
	}
}

// pauseN1 pauses n1 on start and resumes it on stop.
type pauseN1 struct{}

func (pauseN1) Name() string { return "pause-n1" }
func (pauseN1) Start(ctx context.Context, env nemesis.Env, _ *rand.Rand) (string, any, error) {
	return "pause", []string{"n1"}, env.(nemesis.Pauser).Pause(ctx, "n1")
}
func (pauseN1) Stop(ctx context.Context, env nemesis.Env) (string, any, error) {
	return "resume", []string{"n1"}, env.(nemesis.Pauser).Resume(ctx, "n1")
}

// A pause longer than the client timeout makes requests to the paused
// node time out; after the resume it serves again.
func TestLongPauseTimesOutThenServes(t *testing.T) {
	rep := gradeWithFaults(t, testnodes.UniqueIDs(false), []nemesis.Fault{pauseN1{}},
		"-w", "unique-ids", "--node-count", "2", "--time-limit", "30", "--rate", "20",
		"--nemesis-interval", "8", "--seed", "3")
	if rep.Crash != nil {
		t.Fatalf("run crashed\n%s", rep.Summary())
	}
	paused := faultWindows(rep.History, "pause", "resume", rep.SimDuration)["n1"]
	var timeouts, okAfter int
	for _, op := range rep.History {
		if op.Node != "n1" || op.Process < 0 {
			continue
		}
		if op.Type == history.Info {
			timeouts++
		}
		if op.Type == history.OK && len(paused) > 0 && op.Time > paused[0][1] {
			okAfter++
		}
	}
	if len(paused) == 0 || timeouts == 0 || okAfter == 0 {
		t.Fatalf("pauses %v, timeouts on n1 %d, ok on n1 after the first resume %d; want all\n%s", paused, timeouts, okAfter, rep.Summary())
	}
}

// In process mode kill is SIGKILL plus a restart with the same argv and a
// fresh init, and pause is SIGSTOP/SIGCONT; the node must serve after both.
func TestProcessKillAndPause(t *testing.T) {
	bin := buildTestNode(t)
	opts, err := ParseArgs([]string{"-w", "echo", "--node-count", "3", "--time-limit", "8", "--rate", "60", "--concurrency", "4n",
		"--nemesis", "kill,pause", "--nemesis-interval", "1", "--seed", "8", "--", "echo"})
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = t.TempDir()
	rep, err := Run(context.Background(), opts, Binary{Path: bin, Args: opts.NodeArgs})
	if err != nil || rep.Crash != nil {
		t.Fatalf("run: %v\n%s", err, rep.Summary())
	}
	kinds := map[string]int{}
	for _, s := range rep.Faults {
		if v, ok := s.Value.(string); ok && strings.Contains(v, "failed") {
			t.Fatalf("fault step failed: %s %s\n%s", s.F, v, rep.Summary())
		}
		kinds[s.F]++
	}
	if kinds["restart"] == 0 && kinds["resume"] == 0 {
		t.Fatalf("no node was restarted or resumed: %v\n%s", kinds, rep.Summary())
	}
	// Nodes brought back serve again (a client stuck in a 5 s timeout on
	// the node may not ask it anything before the run ends, so some node,
	// not every one, must show it).
	servedAgain := 0
	for _, s := range rep.Faults {
		if s.F != "restart" && s.F != "resume" {
			continue
		}
		for _, id := range s.Value.([]string) {
			for _, op := range rep.History {
				if op.Node == id && op.Type == history.OK && op.Time > s.Time {
					servedAgain++
					break
				}
			}
		}
	}
	if servedAgain == 0 {
		t.Fatalf("no restarted or resumed node served again\n%s", rep.Summary())
	}
}

// A node that cannot come back after a kill (here: it refuses to start
// once its data directory holds anything) ends the run, exit 255, with
// the reason; the nemesis never quietly leaves it down.
func TestRestartThatFailsEndsTheRun(t *testing.T) {
	prog := func(ctx context.Context, pio program.IO) error {
		marker := filepath.Join(pio.Getenv(program.EnvDataDir), "started")
		if _, err := os.Stat(marker); err == nil {
			return testnodes.NoInit()(ctx, pio)
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
		return testnodes.Echo(false)(ctx, pio)
	}
	rep := gradeWithFaults(t, prog, []nemesis.Fault{killN1{}},
		"-w", "echo", "--node-count", "2", "--time-limit", "30", "--nemesis-interval", "3", "--seed", "2")
	if rep.Crash == nil || rep.ExitCode() != 255 || rep.Crash.Node != "n1" ||
		!strings.Contains(rep.Crash.What, "did not come back after the nemesis restarted it: did not answer init") {
		t.Fatalf("exit %d, crash %+v; want n1 reported as not coming back\n%s", rep.ExitCode(), rep.Crash, rep.Summary())
	}
}
