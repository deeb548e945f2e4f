// Package serve is `maelstrom serve`: it serves a store directory over
// HTTP on localhost, so that past runs can be browsed — an index of runs
// (workload, time, verdict, first violation, links to each run's
// report.html and results.json), newest first, filterable by workload and
// verdict, and the runs' files themselves. It only reads the store.
package serve

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// dirTime is the layout of a run directory's name (store/<workload>/<time>).
const dirTime = "20060102T150405.000Z"

// Run is one stored run, as the index lists it.
type Run struct {
	Workload string    `json:"workload"`
	Time     time.Time `json:"time"`
	Dir      string    `json:"dir"` // <workload>/<time>, relative to the store
	Verdict  string    `json:"verdict"`
	// Setup is the summary's first line (nodes, time limit, rate, seed).
	Setup string `json:"setup,omitempty"`
	// FirstViolation is the first invalid checker's first violation.
	FirstViolation string `json:"first_violation,omitempty"`
	Report         string `json:"report,omitempty"`  // URL path of report.html
	Results        string `json:"results,omitempty"` // URL path of results.json
}

// results is the part of a run's results.json the index reads.
type results struct {
	Valid   string `json:"valid"`
	Results []struct {
		Checker    string `json:"checker"`
		Valid      string `json:"valid"`
		Summary    string `json:"summary"`
		Violations []struct {
			What   string `json:"what"`
			Detail string `json:"detail"`
		} `json:"violations"`
	} `json:"results"`
	Crash *struct {
		Node string `json:"node"`
		What string `json:"what"`
	} `json:"crash"`
}

// Scan lists the runs under store, newest first. A directory that is not
// a run (no results.json yet: a run in progress) is left out; a
// results.json that does not parse is listed with verdict "unreadable".
func Scan(store string) ([]Run, error) {
	workloads, err := os.ReadDir(store)
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, w := range workloads {
		if !w.IsDir() || w.Name() == "latest" {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(store, w.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			t, err := time.Parse(dirTime, e.Name())
			if !e.IsDir() || err != nil {
				continue
			}
			dir := filepath.Join(store, w.Name(), e.Name())
			raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
			if err != nil {
				continue
			}
			rel := path.Join(w.Name(), e.Name())
			r := Run{Workload: w.Name(), Time: t, Dir: rel, Results: "/runs/" + rel + "/results.json"}
			if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
				r.Report = "/runs/" + rel + "/report.html"
			}
			if sum, err := os.ReadFile(filepath.Join(dir, "summary.txt")); err == nil {
				r.Setup, _, _ = strings.Cut(string(sum), "\n")
			}
			var res results
			if err := json.Unmarshal(raw, &res); err != nil {
				r.Verdict = "unreadable"
				r.FirstViolation = "results.json: " + err.Error()
			} else {
				r.Verdict, r.FirstViolation = res.Valid, firstViolation(res)
			}
			runs = append(runs, r)
		}
	}
	slices.SortFunc(runs, func(a, b Run) int {
		return cmp.Or(b.Time.Compare(a.Time), strings.Compare(a.Workload, b.Workload))
	})
	return runs, nil
}

func firstViolation(res results) string {
	for _, c := range res.Results {
		if c.Valid != "invalid" {
			continue
		}
		if len(c.Violations) > 0 {
			v := c.Violations[0]
			return fmt.Sprintf("%s: %s: %s", c.Checker, v.What, v.Detail)
		}
		return c.Checker + ": " + c.Summary
	}
	if res.Crash != nil {
		return fmt.Sprintf("crash: %s %s", res.Crash.Node, res.Crash.What)
	}
	return ""
}

// Filter keeps the runs of a workload and a verdict ("" keeps all).
func Filter(runs []Run, workload, verdict string) []Run {
	var out []Run
	for _, r := range runs {
		if (workload == "" || r.Workload == workload) && (verdict == "" || r.Verdict == verdict) {
			out = append(out, r)
		}
	}
	return out
}

// Handler serves the store: the index at /, the same as JSON at
// /index.json, and the runs' files under /runs/. The store is scanned on
// every index request, so new runs appear without a restart.
func Handler(store string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /runs/", http.StripPrefix("/runs/", http.FileServer(noListing{http.Dir(store)})))
	mux.HandleFunc("GET /index.json", func(w http.ResponseWriter, r *http.Request) {
		runs, err := Scan(store)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		runs = Filter(runs, r.FormValue("workload"), r.FormValue("verdict"))
		if runs == nil {
			runs = []Run{}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(runs)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		all, err := Scan(store)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page := indexPage{Store: store, Workload: r.FormValue("workload"), Verdict: r.FormValue("verdict"), Total: len(all)}
		for _, run := range all {
			if !slices.Contains(page.Workloads, run.Workload) {
				page.Workloads = append(page.Workloads, run.Workload)
			}
			if !slices.Contains(page.Verdicts, run.Verdict) {
				page.Verdicts = append(page.Verdicts, run.Verdict)
			}
		}
		slices.Sort(page.Workloads)
		slices.Sort(page.Verdicts)
		page.Runs = Filter(all, page.Workload, page.Verdict)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := indexTemplate.Execute(w, page); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// noListing serves files but not directory listings: the index is the
// way to browse.
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

type indexPage struct {
	Store               string
	Workload, Verdict   string
	Workloads, Verdicts []string
	Runs                []Run
	Total               int
}

var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>maelstrom runs</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.valid{color:#176b2c;font-weight:600}.invalid{color:#b3261e;font-weight:600}.unknown,.unreadable{color:#8a5a00;font-weight:600}
td.why{max-width:50em;font-size:13px}form{margin:.8em 0}
</style></head>
<body>
<h1>Runs in {{.Store}}</h1>
<form method="get" id="filter">
<label>workload <select name="workload" onchange="this.form.submit()"><option value="">all</option>
{{range .Workloads}}<option{{if eq . $.Workload}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label>verdict <select name="verdict" onchange="this.form.submit()"><option value="">all</option>
{{range .Verdicts}}<option{{if eq . $.Verdict}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<noscript><button>filter</button></noscript>
</form>
<p id="count">{{len .Runs}} of {{.Total}} runs, newest first</p>
<table id="runs"><thead><tr><th>time</th><th>workload</th><th>verdict</th><th>first violation</th><th>setup</th><th>files</th></tr></thead>
<tbody>
{{range .Runs}}<tr class="run" data-workload="{{.Workload}}" data-verdict="{{.Verdict}}">
<td>{{when .Time}}</td><td>{{.Workload}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td class="why">{{.FirstViolation}}</td><td>{{.Setup}}</td>
<td>{{if .Report}}<a href="{{.Report}}">report.html</a> {{end}}<a href="{{.Results}}">results.json</a></td></tr>
{{else}}<tr><td colspan="6">no runs{{if or $.Workload $.Verdict}} match{{end}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))
