//go:build linux

package maelstrom

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

// groupMembers lists the pids of live processes in process group pgid
// (zombies excluded: they are dead, only not yet reaped).
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split
		// after its closing parenthesis.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// wrapperScript writes a --bin that starts the test node as a child (no
// exec) next to a helper that ignores SIGTERM, and notes "<node> <pid>"
// of each incarnation in pids.
func wrapperScript(t *testing.T, node, pids string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "wrapper.sh")
	body := fmt.Sprintf(`#!/bin/sh
echo "$MAELSTROM_NODE_ID $$" >> %q
(trap '' TERM; while :; do sleep 0.1; done) &
%q echo
`, pids, node)
	require.NoError(t, os.WriteFile(script, []byte(body), 0o755))
	return script
}

// incarnations reads the pids file: each node's process (group) ids in
// start order.
func incarnations(t *testing.T, pids string) map[string][]int {
	t.Helper()
	data, err := os.ReadFile(pids)
	require.NoError(t, err)
	out := map[string][]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, pid, ok := strings.Cut(line, " ")
		require.True(t, ok, "pids line %q", line)
		n, err := strconv.Atoi(pid)
		require.NoError(t, err)
		out[id] = append(out[id], n)
	}
	return out
}

// killN1Checked is killN1 that also looks, right after the kill, for
// processes left in the killed incarnation's group.
type killN1Checked struct {
	t        *testing.T
	pids     string
	leftover *[]int
	checked  *int
}

func (killN1Checked) Name() string { return "kill-n1-checked" }
func (k killN1Checked) Start(ctx context.Context, env nemesis.Env, _ *rand.Rand) (string, any, error) {
	before := incarnations(k.t, k.pids)["n1"]
	err := env.Kill(ctx, "n1")
	if len(before) > 0 {
		*k.checked++
		*k.leftover = append(*k.leftover, groupMembers(k.t, before[len(before)-1])...)
	}
	return "kill", "n1", err
}
func (killN1Checked) Stop(ctx context.Context, env nemesis.Env) (string, any, error) {
	return "start", "n1", env.Restart(ctx, "n1")
}

// A wrapper script whose child ignores SIGTERM leaves nothing behind: not
// after a kill, and not after the run.
func TestWrapperNodeLeavesNoProcess(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	bin := wrapperScript(t, buildTestNode(t), pids)
	opts, err := ParseArgs([]string{"-w", "echo", "--node-count", "2", "--time-limit", "4", "--rate", "10",
		"--nemesis-interval", "1", "--seed", "5"})
	require.NoError(t, err)
	opts.StoreDir = ""
	var leftover []int
	checked := 0
	opts.Faults = []nemesis.Fault{killN1Checked{t: t, pids: pids, leftover: &leftover, checked: &checked}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, opts, Binary{Path: bin})
	require.NoError(t, err)
	require.Nil(t, rep.Crash, "run crashed:\n%s", rep.Summary())
	require.Positive(t, checked, "the nemesis never killed n1\n%s", rep.Summary())
	require.Empty(t, leftover, "processes of a killed node's group outlived its kill")
	inc := incarnations(t, pids)
	require.Greater(t, len(inc["n1"]), 1, "n1 never restarted")
	for id, groups := range inc {
		for _, g := range groups {
			require.Empty(t, groupMembers(t, g), "processes of %s (group %d) outlived the run", id, g)
		}
	}
}

// cat echoes init back as if from the client: the run ends at once with
// a clear reason instead of a message storm until init times out.
func TestCatAsNodeEndsQuickly(t *testing.T) {
	if _, err := os.Stat("/bin/cat"); err != nil {
		t.Skip("no /bin/cat")
	}
	var out, errOut bytes.Buffer
	start := time.Now()
	code := Main(context.Background(), []string{"test", "-w", "echo", "--bin", "/bin/cat", "--node-count", "1",
		"--time-limit", "10", "--store", ""}, &out, &errOut)
	require.Equal(t, 255, code, "%s%s", out.String(), errOut.String())
	require.Less(t, time.Since(start), 8*time.Second, "the run waited for the init timeout")
	for _, want := range []string{`src "c0"`, "before answering init", "like cat"} {
		require.Contains(t, out.String(), want)
	}
}

// A node printing one huge line without a newline: the grader reads 16
// MiB of it, no more, and the summary says why the run ended.
func TestHugeLineBoundsGraderMemory(t *testing.T) {
	const lineMiB = 128
	bin := buildTestNode(t)
	opts, err := ParseArgs([]string{"-w", "echo", "--node-count", "1", "--time-limit", "5"})
	require.NoError(t, err)
	opts.StoreDir = ""
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	rep, err := Run(context.Background(), opts, Binary{Path: bin, Args: []string{"hugeline", strconv.Itoa(lineMiB)}})
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	require.NotNil(t, rep.Crash, "no crash report:\n%s", rep.Summary())
	require.Contains(t, rep.Summary(), "longer than 16 MiB")
	require.Less(t, time.Since(start), 9*time.Second)
	allocated := (after.TotalAlloc - before.TotalAlloc) >> 20
	// Reading up to the cap costs about twice the cap (32 MiB) whatever
	// the length of the line; reading the whole line would cost more
	// than the line.
	require.Less(t, allocated, uint64(lineMiB/2), "the grader allocated %d MiB for a %d MiB line", allocated, lineMiB)
	t.Logf("grader allocated %d MiB while a node printed a %d MiB line", allocated, lineMiB)
}

// The limits reach the node process and what it starts.
func TestNodeLimitsApplied(t *testing.T) {
	script := filepath.Join(t.TempDir(), "limits.sh")
	// The limits are set right after the process starts: look a moment later.
	body := fmt.Sprintf("#!/bin/sh\nsleep 0.3\necho \"limits as=$(ulimit -v) nofile=$(ulimit -n)\" >&2\nexec %q echo\n", buildTestNode(t))
	require.NoError(t, os.WriteFile(script, []byte(body), 0o755))
	opts, err := ParseArgs([]string{"-w", "echo", "--node-count", "1", "--time-limit", "1", "--node-memory", "1024",
		"--node-open-files", "100"})
	require.NoError(t, err)
	opts.StoreDir = ""
	rep, err := Run(context.Background(), opts, Binary{Path: script, Limits: opts.NodeLimits})
	require.NoError(t, err)
	require.Nil(t, rep.Crash, rep.Summary())
	require.Contains(t, rep.nodeLogs["n0"], "limits as=1048576 nofile=100")
}

// kill and kill-leader both take n1 down on this seed and both restart it
// at the end: n1 comes back as one process, and nothing outlives the run.
func TestKillAndKillLeaderLeaveNoProcess(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	bin := wrapperScript(t, buildTestNode(t), pids)
	opts, err := ParseArgs([]string{"-w", "echo", "--node-count", "2", "--time-limit", "3", "--rate", "10",
		"--nemesis", "kill,kill-leader", "--nemesis-interval", "1", "--seed", "1"})
	require.NoError(t, err)
	opts.StoreDir = ""
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, opts, Binary{Path: bin})
	require.NoError(t, err)
	require.Nil(t, rep.Crash, "run crashed:\n%s", rep.Summary())
	held := map[string]int{}
	overlap := false
	for _, op := range rep.History {
		if op.Process != NemesisProcess {
			continue
		}
		nodes, ok := op.Value.([]string)
		require.True(t, ok, "nemesis step %s failed: %v", op.F, op.Value)
		for _, n := range nodes {
			if op.F == "kill" {
				held[n]++
				overlap = overlap || held[n] > 1
			} else {
				held[n]--
			}
		}
	}
	require.True(t, overlap, "the two faults never held a node down at once on this seed\n%s", rep.Summary())
	inc := incarnations(t, pids)
	t.Cleanup(func() {
		// A failing run must not leave the wrapper's loop running.
		for _, groups := range inc {
			for _, g := range groups {
				if len(groupMembers(t, g)) > 0 {
					_ = killGroup(g)
				}
			}
		}
	})
	for id, groups := range inc {
		for _, g := range groups {
			require.Empty(t, groupMembers(t, g), "processes of %s (group %d) outlived the run", id, g)
		}
	}
	// n0 and n1 start once, and n1 once more for the one restart that
	// brought it back.
	require.Len(t, inc["n1"], 2, "n1 started %d times", len(inc["n1"]))
}
