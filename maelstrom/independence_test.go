package maelstrom_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The grader judges the tracks, so it must not share code with them: a bug
// in a reference solution that the grader also ran would be invisible.
// Every package of the grader, with its tests, must import nothing under
// tracks/, directly or not.
func TestGraderImportsNoTrack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	tracks := strings.TrimSpace(string(mod)) + "/tracks/"
	// -deps lists every package the named ones import, transitively; -test
	// adds what their tests import. Each line is "importer: imported".
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", `{{.ImportPath}}: {{join .Imports " "}}`,
		"../maelstrom/...", "../cmd/maelstrom")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	listed := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkg, imports, _ := strings.Cut(sc.Text(), ": ")
		listed++
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, tracks) {
				t.Errorf("%s imports %s: the grader must have its own implementation", pkg, imp)
			}
		}
		if strings.HasPrefix(pkg, tracks) {
			t.Errorf("the grader depends on %s", pkg)
		}
	}
	if listed < 20 {
		t.Fatalf("go list listed only %d packages: the test looks at the wrong ones\n%s", listed, out)
	}
}
