package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom"
	"github.com/distsys-curriculum/distsys/maelstrom/internal/testnodes"
)

// storeRun grades prog in-process under virtual time, storing the run in
// store as `maelstrom test --store` does, so that the index reads the
// grader's real files.
func storeRun(t *testing.T, store string, prog program.Program, args ...string) string {
	t.Helper()
	opts, err := maelstrom.ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir, opts.Seed = store, 3
	var rep *maelstrom.Report
	synctest.Test(t, func(t *testing.T) {
		rep, err = maelstrom.Run(context.Background(), opts, maelstrom.InProcess{Program: prog})
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep.StorePath
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServeIndex(t *testing.T) {
	store := t.TempDir()
	good := storeRun(t, store, testnodes.Echo(false), "-w", "echo", "--node-count", "1", "--time-limit", "1", "--rate", "10")
	bad := storeRun(t, store, testnodes.Echo(true), "-w", "echo", "--node-count", "1", "--time-limit", "1", "--rate", "10")
	ids := storeRun(t, store, testnodes.Echo(false), "-w", "echo", "--node-count", "2", "--time-limit", "1", "--rate", "10")
	// A run still in progress (no results.json) is not listed; a broken
	// results.json is, as unreadable.
	if err := os.MkdirAll(filepath.Join(store, "echo", "20200101T000000.000Z"), 0o755); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(store, "g-set", "20200102T000000.000Z")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "results.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(Handler(store))
	defer srv.Close()

	code, body := get(t, srv, "/index.json")
	if code != 200 {
		t.Fatalf("index.json: %d %s", code, body)
	}
	var runs []Run
	if err := json.Unmarshal([]byte(body), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs listed, want 4:\n%s", len(runs), body)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].Time.After(runs[i-1].Time) {
			t.Errorf("not newest first: %s before %s", runs[i-1].Dir, runs[i].Dir)
		}
	}
	byDir := map[string]Run{}
	for _, r := range runs {
		byDir[filepath.Join(store, filepath.FromSlash(r.Dir))] = r
	}
	if r := byDir[good]; r.Verdict != "valid" || r.FirstViolation != "" || !strings.Contains(r.Setup, "echo, 1 nodes") {
		t.Errorf("valid run listed as %+v", r)
	}
	if r := byDir[bad]; r.Verdict != "invalid" || !strings.Contains(r.FirstViolation, "echo") {
		t.Errorf("invalid run listed as %+v", r)
	}
	if r := byDir[broken]; r.Verdict != "unreadable" {
		t.Errorf("broken run listed as %+v", r)
	}

	// The page: a row per run, each linking to its report and results.
	code, page := get(t, srv, "/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	rows := regexp.MustCompile(`<tr class="run" data-workload="([^"]*)" data-verdict="([^"]*)">`).FindAllStringSubmatch(page, -1)
	if len(rows) != 4 {
		t.Fatalf("%d rows on the page, want 4:\n%s", len(rows), page)
	}
	if !strings.Contains(page, "4 of 4 runs") {
		t.Errorf("page lacks the count")
	}
	for _, link := range regexp.MustCompile(`href="(/runs/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if code, _ := get(t, srv, link[1]); code != 200 {
			t.Errorf("link %s: %d", link[1], code)
		}
	}
	if n := strings.Count(page, `">report.html</a>`); n != 3 {
		t.Errorf("%d report links, want 3 (the broken run has none)", n)
	}

	// Filters, on the page and in JSON.
	_, page = get(t, srv, "/?workload=echo&verdict=invalid")
	rows = regexp.MustCompile(`<tr class="run" data-workload="([^"]*)" data-verdict="([^"]*)">`).FindAllStringSubmatch(page, -1)
	if len(rows) != 1 || rows[0][1] != "echo" || rows[0][2] != "invalid" || !strings.Contains(page, "<option selected>invalid</option>") {
		t.Errorf("filtered page rows %v", rows)
	}
	_, body = get(t, srv, "/index.json?verdict=valid")
	runs = nil
	json.Unmarshal([]byte(body), &runs)
	if len(runs) != 2 || runs[0].Dir != relDir(t, store, ids) {
		t.Errorf("valid runs %+v", runs)
	}
	_, body = get(t, srv, "/index.json?workload=kafka")
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("no kafka runs, got %s", body)
	}

	// Only the store is served, and no directory listings.
	for _, p := range []string{"/runs/../serve.go", "/runs/echo/", "/runs/%2e%2e/serve_test.go"} {
		if code, _ := get(t, srv, p); code == 200 {
			t.Errorf("%s served", p)
		}
	}
}

func relDir(t *testing.T, store, dir string) string {
	rel, err := filepath.Rel(store, dir)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func TestMainRefusesMissingStore(t *testing.T) {
	var out, errOut strings.Builder
	if code := Main(context.Background(), []string{"--store", filepath.Join(t.TempDir(), "none")}, &out, &errOut); code != 254 {
		t.Errorf("exit %d, stderr %s", code, errOut.String())
	}
}

func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() { done <- Main(ctx, []string{"--store", t.TempDir(), "--port", "0"}, pw, io.Discard) }()
	line := make([]byte, 200)
	n, _ := pr.Read(line)
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(string(line[:n]))
	if m == "" {
		t.Fatalf("no loopback URL in %q", line[:n])
	}
	resp, err := http.Get(m)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d", m, resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after cancel", code)
	}
}
