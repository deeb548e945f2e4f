package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// elem is a generic XML element, enough to query the SVG parts.
type elem struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []elem     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (e elem) attr(name string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (e elem) hasClass(c string) bool {
	v, _ := e.attr("class")
	return slices.Contains(strings.Fields(v), c)
}

// find returns every descendant (and e itself) named tag with class c
// ("" matches any class).
func (e elem) find(tag, c string) []elem {
	var out []elem
	var walk func(x elem)
	walk = func(x elem) {
		if x.XMLName.Local == tag && (c == "" || x.hasClass(c)) {
			out = append(out, x)
		}
		for _, ch := range x.Children {
			walk(ch)
		}
	}
	walk(e)
	return out
}

// svgByID cuts the svg element with the given id out of the page and
// parses it as XML, which also proves it well-formed.
func svgByID(t *testing.T, page, id string) elem {
	t.Helper()
	start := strings.Index(page, `<svg id="`+id+`"`)
	if start < 0 {
		start = strings.Index(page, `id="`+id+`"`)
		if start >= 0 {
			start = strings.LastIndex(page[:start], "<svg")
		}
	}
	if start < 0 {
		t.Fatalf("no svg with id %q", id)
	}
	end := strings.Index(page[start:], "</svg>")
	if end < 0 {
		t.Fatalf("svg %q not closed", id)
	}
	var e elem
	if err := xml.Unmarshal([]byte(page[start:start+end+len("</svg>")]), &e); err != nil {
		t.Fatalf("svg %q is not well-formed XML: %v", id, err)
	}
	return e
}

func render(t testing.TB, in Input) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestLaneOrder(t *testing.T) {
	msgs := []Message{{Src: "n1", Dest: "seq-kv"}, {Src: "lin-kv", Dest: "n10"}, {Src: "c10", Dest: "n2"}}
	var got []string
	for _, l := range lanes([]string{"n10", "n2", "n1"}, []string{"c10", "c2", "c1"}, msgs) {
		got = append(got, l.name)
	}
	want := []string{"n1", "n2", "n10", "c1", "c2", "c10", "lin-kv", "seq-kv"}
	if !slices.Equal(got, want) {
		t.Fatalf("lanes = %v, want %v", got, want)
	}
}

func TestDiagramStructure(t *testing.T) {
	in := sampleRun(60)
	page := render(t, in)
	svg := svgByID(t, page, "lamport")

	participants := map[string]bool{}
	for _, n := range append(slices.Clone(in.Nodes), in.Clients...) {
		participants[n] = true
	}
	var delivered, dropped int
	for _, m := range in.Messages {
		participants[m.Src], participants[m.Dest] = true, true
		if m.Dropped {
			dropped++
		} else {
			delivered++
		}
	}
	if dropped == 0 || delivered == 0 {
		t.Fatalf("sample needs both delivered (%d) and dropped (%d) messages", delivered, dropped)
	}

	laneEls := svg.find("line", "lane")
	if len(laneEls) != len(participants) {
		t.Errorf("%d lanes, want one per participant (%d)", len(laneEls), len(participants))
	}
	var order []string
	for _, l := range laneEls {
		p, _ := l.attr("data-p")
		order = append(order, p)
	}
	if want := []string{"n0", "n1", "n2", "c2", "c3", "c10", "c11", "lin-kv"}; !slices.Equal(order, want) {
		t.Errorf("lane order %v, want %v", order, want)
	}
	heads := svgByID(t, page, "lamport-heads").find("text", "head")
	if len(heads) != len(participants) {
		t.Errorf("%d lane heads, want %d", len(heads), len(participants))
	}

	groups := svg.find("g", "m")
	if len(groups) != len(in.Messages) {
		t.Fatalf("%d message groups, want %d", len(groups), len(in.Messages))
	}
	var arrows, stubs, xs, pink, light int
	for _, g := range groups {
		a := g.find("line", "arrow")
		s := g.find("line", "stub")
		x := g.find("path", "x")
		arrows += len(a)
		stubs += len(s)
		xs += len(x)
		if g.hasClass("dropped") != (len(s) == 1 && len(x) == 1 && len(a) == 0) {
			t.Errorf("message group %v: dropped class and drawing disagree", g.Attrs)
		}
		if g.hasClass("err") {
			pink++
		}
		if g.hasClass("cli") {
			light++
		}
		if len(a) == 1 {
			if mk, _ := a[0].attr("marker-end"); !strings.HasPrefix(mk, "url(#ah-") {
				t.Errorf("arrow without an arrowhead: %v", a[0].Attrs)
			}
		}
		if len(g.find("title", "")) != 1 || len(g.find("text", "lbl")) != 1 {
			t.Errorf("message group without exactly one label and one hover title")
		}
	}
	if arrows != delivered || stubs != dropped || xs != dropped {
		t.Errorf("arrows %d stubs %d crosses %d; want %d delivered, %d dropped", arrows, stubs, xs, delivered, dropped)
	}
	if pink == 0 || light == 0 {
		t.Errorf("want error replies (%d) and client traffic (%d) coloured", pink, light)
	}

	if n := len(svg.find("rect", "fault")); n != len(in.Faults) {
		t.Errorf("%d shaded faults in the diagram, want %d", n, len(in.Faults))
	}
	if len(svg.find("text", "fault-label")) != len(in.Faults) {
		t.Errorf("fault labels missing")
	}
}

func TestArrowGeometryFollowsTime(t *testing.T) {
	in := Input{
		Nodes:    []string{"n0", "n1"},
		Duration: 10 * time.Millisecond,
		Faults:   []Interval{{Start: 2 * time.Millisecond, End: 4 * time.Millisecond, Label: "pause n1"}},
		Messages: []Message{
			{Src: "n0", Dest: "n1", Body: json.RawMessage(`{"type":"a"}`), Sent: 1 * time.Millisecond, Received: 3 * time.Millisecond},
			{Src: "n1", Dest: "n0", Body: json.RawMessage(`{"type":"b"}`), Sent: 5 * time.Millisecond, Received: 9 * time.Millisecond},
		},
	}
	svg := svgByID(t, render(t, in), "lamport")
	arrows := svg.find("line", "arrow")
	if len(arrows) != 2 {
		t.Fatalf("%d arrows", len(arrows))
	}
	f := func(e elem, k string) float64 {
		v, _ := e.attr(k)
		var x float64
		fmt.Sscan(v, &x)
		return x
	}
	a, b := arrows[0], arrows[1]
	if !(f(a, "x1") < f(a, "x2") && f(b, "x1") > f(b, "x2")) {
		t.Errorf("arrows should go n0->n1 then n1->n0: %v %v", a.Attrs, b.Attrs)
	}
	if !(f(a, "y1") < f(a, "y2") && f(a, "y2") < f(b, "y1") && f(b, "y1") < f(b, "y2")) {
		t.Errorf("time should flow down in order: %v %v", a.Attrs, b.Attrs)
	}
	// Time-scaled: the second message takes twice as long, so it falls twice as far.
	if da, db := f(a, "y2")-f(a, "y1"), f(b, "y2")-f(b, "y1"); db < 1.9*da || db > 2.1*da {
		t.Errorf("vertical extents %.1f and %.1f should be in ratio 1:2", da, db)
	}
	// The fault from 2ms to 4ms starts halfway down the first arrow (1ms
	// to 3ms) and is as tall as that arrow.
	rects := svg.find("rect", "fault")
	if len(rects) != 1 {
		t.Fatalf("%d fault rects", len(rects))
	}
	mid := (f(a, "y1") + f(a, "y2")) / 2
	if y := f(rects[0], "y"); y < mid-0.2 || y > mid+0.2 {
		t.Errorf("fault starts at y=%.1f, want %.1f", y, mid)
	}
	if h, da := f(rects[0], "height"), f(a, "y2")-f(a, "y1"); h < da-0.2 || h > da+0.2 {
		t.Errorf("fault height %.1f, want %.1f", h, da)
	}
}

func TestEscapesEverything(t *testing.T) {
	const evil = `<script>alert("x")</script>&'`
	in := Input{
		Title:    evil,
		Workload: evil,
		Nodes:    []string{"n0"},
		Clients:  []string{"c0"},
		History: history.History{
			{Index: 0, Type: history.Invoke, Process: 0, F: "echo", Value: evil, Client: "c0", Node: "n0"},
			{Index: 1, Type: history.OK, Process: 0, F: "echo", Value: evil, Time: time.Millisecond, Client: "c0", Node: "n0",
				Error: &history.Error{Name: evil}},
		},
		Messages: []Message{
			{Src: "c0", Dest: "n0", Body: mustJSON(t, map[string]any{"type": "echo", "echo": evil}), Received: time.Millisecond / 2},
			{Src: "n0", Dest: "c0", Body: json.RawMessage(`not json ` + evil), Sent: time.Millisecond / 2, Received: time.Millisecond},
			{Src: evil, Dest: "n0", Body: json.RawMessage(`{"type":"x"}`), Dropped: true},
		},
		Faults:  []Interval{{Start: 0, End: time.Millisecond, Label: evil}},
		Verdict: checker.Invalid,
		Results: []checker.Result{{Checker: evil, Valid: checker.Invalid, Summary: evil,
			Violations: []checker.Violation{{What: evil, Node: evil, Value: evil, Detail: evil}}}},
		Duration: time.Millisecond,
	}
	page := render(t, in)
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `alert("x")`) {
		t.Fatalf("unescaped value in the page")
	}
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("%d script elements, want only the page's own", n)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(") {
		t.Errorf("escaped value missing from the page")
	}
	svgByID(t, page, "lamport") // still well-formed
	svgByID(t, page, "lamport-heads")
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	bs, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestMessageCap(t *testing.T) {
	in := Input{Nodes: []string{"n0", "n1"}, Duration: time.Second}
	for i := range 150 {
		in.Messages = append(in.Messages, Message{ID: int64(i), Src: "n0", Dest: "n1", Body: json.RawMessage(`{"type":"ping"}`),
			Sent: time.Duration(i) * time.Millisecond, Received: time.Duration(i+1) * time.Millisecond})
	}
	in.MaxMessages = 100
	page := render(t, in)
	if n := len(svgByID(t, page, "lamport").find("g", "m")); n != 100 {
		t.Errorf("%d messages drawn, want the cap of 100", n)
	}
	if !strings.Contains(page, "50 more messages not shown") {
		t.Errorf("page does not say how many messages were left out")
	}
	// The cap keeps the earliest messages.
	for _, g := range svgByID(t, page, "lamport").find("g", "m") {
		if s, _ := g.attr("data-s"); len(s) > 5 {
			t.Errorf("message sent at %sµs drawn, beyond the first 100ms", s)
		}
	}
}

func TestDefaultCap(t *testing.T) {
	in := sampleRun(2000)
	if len(in.Messages) <= DefaultMaxMessages {
		t.Fatalf("sample too small: %d messages", len(in.Messages))
	}
	page := render(t, in)
	if n := strings.Count(page, `<g class="m `); n != DefaultMaxMessages {
		t.Errorf("%d messages drawn, want %d", n, DefaultMaxMessages)
	}
	if !strings.Contains(page, fmt.Sprintf("%d more messages not shown", len(in.Messages)-DefaultMaxMessages)) {
		t.Errorf("cap note missing")
	}
}

func TestWindow(t *testing.T) {
	in := sampleRun(100)
	in.WindowStart, in.WindowEnd = time.Second, 2*time.Second
	var want int
	for _, m := range in.Messages {
		if m.Sent >= in.WindowStart && m.Sent <= in.WindowEnd {
			want++
		}
	}
	page := render(t, in)
	groups := svgByID(t, page, "lamport").find("g", "m")
	if len(groups) != want || want == 0 {
		t.Fatalf("%d messages drawn, want the %d sent in the window", len(groups), want)
	}
	if !strings.Contains(page, fmt.Sprintf("%d messages outside it are not shown", len(in.Messages)-want)) {
		t.Errorf("window note missing")
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		body, typ, label string
	}{
		{`{"type":"broadcast","msg_id":3,"message":5}`, "broadcast", "broadcast message=5"},
		{`{"type":"read_ok","in_reply_to":3,"msg_id":9,"messages":[1, 2,3]}`, "read_ok", "read_ok messages=[1,2,3]"},
		{`{"type":"cas","key":1,"from":2,"to":3}`, "cas", "cas from=2 key=1 to=3"},
		{`{"type":"error","code":22,"text":"expected 3 but had 4","in_reply_to":1}`, "error", "error: expected 3 but had 4"},
		{`{"type":"error","code":11}`, "error", "error: code 11"},
		{`{"type":"topology","topology":{"n0":["n1","n2"],"n1":["n0","n2"],"n2":["n0","n1"]}}`, "topology",
			`topology topology={"n0":["n1","n2"],"n1":["n0",…`},
		{`garbage`, "", ""},
	} {
		typ, label := describe(Message{Body: json.RawMessage(c.body)})
		if typ != c.typ || label != c.label {
			t.Errorf("describe(%s) = %q, %q; want %q, %q", c.body, typ, label, c.typ, c.label)
		}
		if n := len([]rune(label)); n > labelRunes {
			t.Errorf("label %q has %d runes, more than %d", label, n, labelRunes)
		}
	}
}

func TestViolationHeader(t *testing.T) {
	in := sampleRun(120)
	page := render(t, in)
	if !strings.Contains(page, `<header class="top v-invalid">`) {
		t.Errorf("verdict not shown as invalid")
	}
	v := in.Results[1].Violations[0]
	for _, want := range []string{"stale read", "a linearizable store must return the latest completed write", opString(*v.Op)} {
		if !strings.Contains(page, escaped(want)) {
			t.Errorf("header lacks %q", want)
		}
	}
	if link := fmt.Sprintf(`data-t="%d">show in the diagram`, v.Time.Microseconds()); !strings.Contains(page, link) {
		t.Errorf("header lacks the diagram link %q", link)
	}
	svg := svgByID(t, page, "lamport")
	if n := len(svg.find("g", "vmark")); n != 1 {
		t.Errorf("%d violation markers, want 1", n)
	}
	if n := len(svg.find("rect", "opspan")); n != 1 {
		t.Errorf("%d operation spans, want 1", n)
	}
	hl := svg.find("g", "hl")
	if len(hl) < 2 {
		t.Fatalf("%d highlighted messages, want the request and its reply", len(hl))
	}
	// Every highlighted message is the blamed client's, during its operation.
	pairs := in.History.Pairs()
	var span history.Pair
	for _, p := range pairs {
		if p.Completion != nil && p.Completion.Time == v.Op.Time && p.Invoke.Process == v.Op.Process {
			span = p
		}
	}
	for _, g := range hl {
		s, _ := g.attr("data-s")
		var us int64
		fmt.Sscan(s, &us)
		if us < span.Invoke.Time.Microseconds() || us > span.Completion.Time.Microseconds() {
			t.Errorf("highlighted message at %dµs outside the operation", us)
		}
	}
	if !regexp.MustCompile(`<tr class="op t-ok focus"`).MatchString(page) {
		t.Errorf("the blamed operation is not highlighted in the history table")
	}
}

// escaped is s as it appears in the page.
func escaped(s string) string { return esc(s) }

func TestHistoryTableCap(t *testing.T) {
	in := sampleRun(100) // 200 entries
	in.MaxOps = 20
	page := render(t, in)
	rows := strings.Count(page, `<tr class="op `)
	focus := strings.Count(page, ` focus"`)
	if focus == 0 {
		t.Fatalf("no focused rows; the sample's blamed operation should be kept")
	}
	if rows != 20+focus {
		t.Errorf("%d rows, want 20 plus %d the violation names", rows, focus)
	}
	if !strings.Contains(page, "entries not shown") {
		t.Errorf("no gap row")
	}
	if !strings.Contains(page, `<select data-col="f"><option value="">all</option><option>cas</option><option>read</option><option>write</option></select>`) {
		t.Errorf("f filter does not list the op types")
	}
}

func TestCharts(t *testing.T) {
	in := sampleRun(200)
	page := render(t, in)
	pairs := in.History.Pairs()
	for _, f := range []string{"read", "write", "cas"} {
		svg := svgByID(t, page, "latency-"+f)
		var want int
		for _, p := range pairs {
			if p.Invoke.F == f && p.Completion != nil {
				want++
			}
		}
		if n := len(svg.find("circle", "pt")) - 3; n != want { // three legend dots
			t.Errorf("latency-%s: %d points, want %d", f, n, want)
		}
		if len(svg.find("rect", "fault")) != 1 {
			t.Errorf("latency-%s: fault not shaded", f)
		}
	}
	if n := len(svgByID(t, page, "latency-cas").find("circle", "fail")); n < 2 {
		t.Errorf("failed cas operations not drawn as fail (%d)", n)
	}
	th := svgByID(t, page, "throughput")
	if n := len(th.find("polyline", "rate")); n < 3 {
		t.Errorf("%d throughput lines, want one per op type at least", n)
	}
	if len(th.find("rect", "fault")) != 1 {
		t.Errorf("throughput: fault not shaded")
	}
}

func TestLatencySampling(t *testing.T) {
	var h history.History
	for i := range maxPoints + 500 {
		h = append(h, history.Op{Type: history.Invoke, Process: i, F: "read", Time: time.Duration(i) * time.Millisecond})
		typ := history.OK
		if i%1000 == 0 {
			typ = history.Fail
		}
		h = append(h, history.Op{Type: typ, Process: i, F: "read", Time: time.Duration(i)*time.Millisecond + time.Millisecond})
	}
	page := render(t, Input{History: h, Duration: time.Minute})
	svg := svgByID(t, page, "latency-read")
	if n := len(svg.find("circle", "pt")) - 3; n != maxPoints {
		t.Errorf("%d points, want the cap of %d", n, maxPoints)
	}
	if n := len(svg.find("circle", "fail")) - 1; n != 5 {
		t.Errorf("%d failures kept, want all 5", n)
	}
}

func TestVerdictFallback(t *testing.T) {
	for _, c := range []struct {
		rs   []checker.Result
		want checker.Validity
	}{
		{nil, checker.Unknown},
		{[]checker.Result{{Valid: checker.Valid}}, checker.Valid},
		{[]checker.Result{{Valid: checker.Valid}, {Valid: checker.Unknown}}, checker.Unknown},
		{[]checker.Result{{Valid: checker.Invalid}, {Valid: checker.Unknown}}, checker.Invalid},
	} {
		if got := verdict(Input{Results: c.rs}); got != c.want {
			t.Errorf("verdict(%v) = %s, want %s", c.rs, got, c.want)
		}
	}
	page := render(t, Input{Results: []checker.Result{{Checker: "x", Valid: checker.Valid}}})
	if !strings.Contains(page, `id="verdict">valid<`) {
		t.Errorf("fallback verdict not shown")
	}
}

func TestEmptyInput(t *testing.T) {
	page := render(t, Input{})
	svg := svgByID(t, page, "lamport")
	if len(svg.find("g", "m")) != 0 || len(svg.find("line", "lane")) != 0 {
		t.Errorf("an empty run should draw nothing")
	}
	if !strings.Contains(page, "No completed operations") {
		t.Errorf("empty charts not explained")
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(path, sampleRun(10)); err != nil {
		t.Fatal(err)
	}
	bs, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bs, []byte("<!DOCTYPE html>")) || !bytes.HasSuffix(bytes.TrimSpace(bs), []byte("</html>")) {
		t.Errorf("not a whole HTML document")
	}
	if bytes.Contains(bs, []byte("http://")) && bytes.Count(bs, []byte("http://")) != bytes.Count(bs, []byte("http://www.w3.org/2000/svg")) {
		t.Errorf("the page refers to something on the network")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "report.html"), Input{}); err == nil {
		t.Errorf("no error for a missing directory")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, io.ErrShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteReportsErrors(t *testing.T) {
	if err := Write(&failWriter{n: 100}, sampleRun(50)); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

func TestInputNotModified(t *testing.T) {
	in := sampleRun(30)
	// Reverse the messages: the report sorts its own copy.
	slices.Reverse(in.Messages)
	before := slices.Clone(in.Messages)
	render(t, in)
	if !slices.EqualFunc(before, in.Messages, func(a, b Message) bool { return a.ID == b.ID }) {
		t.Errorf("Write reordered the caller's messages")
	}
}

func BenchmarkWrite10k(b *testing.B) {
	in := sampleRun(2000)
	in.Messages = in.Messages[:min(len(in.Messages), 10000)]
	b.ReportMetric(float64(len(in.Messages)), "msgs")
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := Write(&buf, in); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes")
}
