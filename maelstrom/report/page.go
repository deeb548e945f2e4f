package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

var (
	//go:embed page.html.tmpl
	pageSource string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

// page is parsed once; templates are safe for concurrent use and never
// change after parsing.
var page = template.Must(template.New("report").Parse(pageSource))

// maxFoci bounds the operations highlighted in the diagram: checkers cap
// their violations, but a report must stay readable whatever they do.
const maxFoci = 50

type fact struct{ Name, Value string }

type violationView struct {
	What, Node, Op, Value, Time, Detail string
	T                                   int64 // for the diagram link
}

type resultView struct {
	Checker, Valid, Summary string
	First                   *violationView
	More                    int // further violations not shown
}

type row struct {
	Gap                                       int // operations left out before this row
	Pos                                       int
	Time                                      string
	T                                         int64
	Process                                   int
	Client, Node, Type, F, Value, Full, Error string
	Focus                                     bool
}

type table struct {
	Rows             []row
	Total, Shown     int
	Fs, Types, Nodes []string
	TrailingGap      int
}

type pageData struct {
	Title, Workload, Verdict string
	Facts                    []fact
	Results                  []resultView
	Diagram                  diagram
	Latency                  []chart
	Throughput               *chart
	Table                    table
	CSS                      template.CSS
	JS                       template.JS
}

func build(in Input) pageData {
	pairs := in.History.Pairs()
	foci, focusPos := violationFoci(in, pairs)
	var fs []string
	for _, p := range pairs {
		if !slices.Contains(fs, p.Invoke.F) {
			fs = append(fs, p.Invoke.F)
		}
	}
	slices.Sort(fs)

	title := in.Title
	if title == "" {
		title = "Grader run"
		if in.Workload != "" {
			title = in.Workload + " run"
		}
	}
	d := pageData{
		Title:      title,
		Workload:   in.Workload,
		Verdict:    string(verdict(in)),
		Facts:      facts(in, pairs),
		Results:    results(in.Results),
		Diagram:    buildDiagram(in, foci),
		Latency:    latencyCharts(in, pairs, fs),
		Throughput: throughputChart(in, pairs, fs),
		Table:      historyTable(in, focusPos),
		// The stylesheet and script are this package's own files, not
		// run data, so they may go into the page unescaped.
		CSS: template.CSS(pageCSS),
		JS:  template.JS(pageJS),
	}
	return d
}

// verdict is the given one, or the worst of the results when none was.
func verdict(in Input) checker.Validity {
	if in.Verdict != "" {
		return in.Verdict
	}
	if len(in.Results) == 0 {
		return checker.Unknown
	}
	v := checker.Valid
	for _, r := range in.Results {
		v = checker.Worst(v, r.Valid)
	}
	return v
}

func facts(in Input, pairs []history.Pair) []fact {
	var ok, fail, info int
	for _, p := range pairs {
		switch p.Outcome() {
		case history.OK:
			ok++
		case history.Fail:
			fail++
		default:
			info++
		}
	}
	var dropped, client, server int
	kinds := map[string]laneKind{}
	for _, l := range lanes(in.Nodes, in.Clients, in.Messages) {
		kinds[l.name] = l.kind
	}
	for _, m := range in.Messages {
		if m.Dropped {
			dropped++
		}
		if kinds[m.Src] == clientLane || kinds[m.Dest] == clientLane {
			client++
		} else {
			server++
		}
	}
	out := []fact{
		{"workload", in.Workload},
		{"duration", seconds(in.Duration)},
		{"nodes", fmt.Sprint(len(in.Nodes))},
		{"clients", fmt.Sprint(len(in.Clients))},
		{"operations", fmt.Sprintf("%d (ok %d, fail %d, info %d)", len(pairs), ok, fail, info)},
		{"messages", fmt.Sprintf("%d (client %d, server %d, dropped %d)", len(in.Messages), client, server, dropped)},
	}
	if len(pairs) > 0 {
		out = append(out, fact{"server msgs per op", fmt.Sprintf("%.2f", float64(server)/float64(len(pairs)))})
	}
	if len(in.Faults) > 0 {
		out = append(out, fact{"faults", fmt.Sprint(len(in.Faults))})
	}
	return out
}

func results(rs []checker.Result) []resultView {
	var out []resultView
	for _, r := range rs {
		v := resultView{Checker: r.Checker, Valid: string(r.Valid), Summary: r.Summary}
		if f := r.First(); f != nil && r.Valid == checker.Invalid {
			v.First = &violationView{
				What:   f.What,
				Node:   f.Node,
				Time:   seconds(f.Time),
				T:      micros(f.Time),
				Detail: f.Detail,
			}
			if f.Op != nil {
				v.First.Op = opString(*f.Op)
			}
			if f.Value != nil {
				v.First.Value = truncate(compactValue(f.Value), 400)
			}
			v.More = len(r.Violations) - 1
		}
		out = append(out, v)
	}
	return out
}

// violationFoci finds the operations the violations of invalid results
// name, and their positions in the history for the table.
func violationFoci(in Input, pairs []history.Pair) ([]focus, map[int]bool) {
	type key struct {
		process int
		t       time.Duration
		typ     history.Type
		f       string
	}
	byKey := map[key]int{}
	for i, p := range pairs {
		byKey[key{p.Invoke.Process, p.Invoke.Time, p.Invoke.Type, p.Invoke.F}] = i
		if c := p.Completion; c != nil {
			byKey[key{c.Process, c.Time, c.Type, c.F}] = i
		}
	}
	posOf := map[key]int{}
	for i, o := range in.History {
		posOf[key{o.Process, o.Time, o.Type, o.F}] = i
	}
	var foci []focus
	positions := map[int]bool{}
	for _, r := range in.Results {
		if r.Valid != checker.Invalid {
			continue
		}
		for _, v := range r.Violations {
			if len(foci) == maxFoci {
				return foci, positions
			}
			f := focus{at: v.Time, what: r.Checker + ": " + v.What}
			if v.Op != nil {
				k := key{v.Op.Process, v.Op.Time, v.Op.Type, v.Op.F}
				if pos, ok := posOf[k]; ok {
					positions[pos] = true
				}
				if i, ok := byKey[k]; ok {
					p := pairs[i]
					f.client, f.start, f.hasSpan = p.Invoke.Client, p.Invoke.Time, true
					f.end = runEnd(in)
					if p.Completion != nil {
						f.end = p.Completion.Time
						if pos, ok := posOf[key{p.Completion.Process, p.Completion.Time, p.Completion.Type, p.Completion.F}]; ok {
							positions[pos] = true
						}
					}
					if pos, ok := posOf[key{p.Invoke.Process, p.Invoke.Time, p.Invoke.Type, p.Invoke.F}]; ok {
						positions[pos] = true
					}
				}
				if f.client == "" {
					f.client = v.Op.Client
				}
				f.what += " — " + opString(*v.Op)
			}
			foci = append(foci, f)
		}
	}
	return foci, positions
}

// historyTable keeps the first and last halves of the row budget, plus the
// operations violations name wherever they are.
func historyTable(in Input, focus map[int]bool) table {
	limit := in.MaxOps
	if limit <= 0 {
		limit = DefaultMaxOps
	}
	h := in.History
	t := table{Total: len(h)}
	keep := func(i int) bool {
		return len(h) <= limit || i < limit/2 || i >= len(h)-limit/2 || focus[i]
	}
	seen := map[string]map[string]bool{"f": {}, "type": {}, "node": {}}
	last := -1
	for i, o := range h {
		if !keep(i) {
			continue
		}
		value := compactValue(o.Value)
		r := row{
			Gap:     i - last - 1,
			Pos:     i,
			Time:    seconds(o.Time),
			T:       micros(o.Time),
			Process: o.Process,
			Client:  o.Client,
			Node:    o.Node,
			Type:    string(o.Type),
			F:       o.F,
			Value:   truncate(value, 120),
			Error:   o.Error.String(),
			Focus:   focus[i],
		}
		if r.Value != value {
			r.Full = truncate(value, titleBytes)
		}
		last = i
		t.Rows = append(t.Rows, r)
		seen["f"][o.F] = true
		seen["type"][string(o.Type)] = true
		if o.Node != "" {
			seen["node"][o.Node] = true
		}
	}
	t.TrailingGap = len(h) - last - 1
	t.Shown = len(t.Rows)
	t.Fs, t.Types = sortedKeys(seen["f"]), sortedKeys(seen["type"])
	nodes := sortedKeys(seen["node"])
	slices.SortFunc(nodes, func(a, b string) int {
		la, lb := lane{a, kindOf(a)}, lane{b, kindOf(b)}
		return compareLanes(la, lb)
	})
	t.Nodes = nodes
	return t
}
