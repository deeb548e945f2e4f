// Package tracer is the reference solution of the tracer track: every
// node serves traced calls, and the first node (the cluster's monitoring
// node, like a Jaeger collector next to a Prometheus server) also holds
// the span collector (tracks/tracer/spans) and the time-series store with
// its alert rules (tracks/tracer/tsdb, on tracks/tracer/gorilla).
//
//   - A call carries a W3C traceparent (tracks/tracer/tracectx). The node
//     starts a span as the child of the caller's span, passes the call on
//     to the next node of its path with its own span as parent, and when
//     the call returns ends the span. Only sampled traces are recorded:
//     the head-sampling decision, taken by whoever started the trace,
//     travels in the flags.
//   - Finished spans are buffered and flushed to the monitoring node every
//     --flush (100 ms), the way tracing exporters batch; the collector
//     assembles traces by parent id, whatever order spans arrive in.
//   - Pushes, queries, rules and the final reads are forwarded to the
//     monitoring node.
//
// tracks/tracer/stages.tsv says how each stage is graded and README.md is
// the lesson.
package tracer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
	"github.com/distsys-curriculum/distsys/tracks/tracer/gorilla"
	"github.com/distsys-curriculum/distsys/tracks/tracer/spans"
	"github.com/distsys-curriculum/distsys/tracks/tracer/tracectx"
	"github.com/distsys-curriculum/distsys/tracks/tracer/tsdb"
)

// Options configure a tracer node.
type Options struct {
	// Flush is how often finished spans are sent to the collector.
	Flush time.Duration
	// DropLate selects the counter-example collector (--collector drop-late).
	DropLate bool
}

const usage = "usage: tracer [--flush D] [--collector keep|drop-late]"

// ParseArgs reads the node's flags.
func ParseArgs(args []string) (Options, error) {
	o := Options{Flush: 100 * time.Millisecond}
	fs := nodeflags.New("tracer")
	fs.DurationVar(&o.Flush, "flush", o.Flush, "how often finished spans are sent to the collector")
	col := fs.String("collector", "keep", "keep: assemble every span; drop-late: drop spans that arrive after their parent (counter-example)")
	if err := nodeflags.Parse(fs, args, usage); err != nil {
		return o, err
	}
	switch *col {
	case "keep":
	case "drop-late":
		o.DropLate = true
	default:
		return o, fmt.Errorf("tracer: --collector %q: want keep or drop-late (%s)", *col, usage)
	}
	if o.Flush <= 0 {
		return o, fmt.Errorf("tracer: --flush must be positive (%s)", usage)
	}
	return o, nil
}

// Configure sets up a node from its command-line arguments.
func Configure(n *node.Node) error {
	o, err := ParseArgs(n.Args())
	if err != nil {
		return err
	}
	Setup(n, o)
	return nil
}

type tracer struct {
	n *node.Node
	o Options

	mu  sync.Mutex
	buf []spans.Span // finished spans not yet flushed
	col *spans.Collector
	db  *tsdb.DB
}

// Setup serves the trace workload on n.
func Setup(n *node.Node, o Options) {
	t := &tracer{n: n, o: o, col: spans.NewCollector(), db: tsdb.New()}
	t.col.DropLate = o.DropLate
	node.HandleTyped(n, "call", t.call)
	node.HandleTyped(n, "spans", t.spans)
	for typ, fn := range map[string]func(json.RawMessage) (any, error){
		"push": t.push, "query": t.query, "rule": t.rule, "traces": t.traces, "alerts": t.alerts, "stats": t.stats,
	} {
		n.Handle(typ, func(m node.Message) error {
			var resp any
			var err error
			if n.ID() == t.home() {
				resp, err = fn(m.Body)
			} else {
				resp, err = t.forward(m.Body)
			}
			if err != nil {
				return err
			}
			return n.Reply(m, resp)
		})
	}
	n.Every(o.Flush, t.flush)
}

// home is the monitoring node.
func (t *tracer) home() string { return t.n.NodeIDs()[0] }

// requestDeadline stays under the workload's client timeout.
const requestDeadline = 1500 * time.Millisecond

func rpcErr(err error) error {
	var re *node.RPCError
	if errors.As(err, &re) {
		return re
	}
	// No answer: the request may or may not have been applied.
	return node.NewRPCError(node.Timeout, err.Error())
}

// forward passes a request to the monitoring node and relays its answer.
func (t *tracer) forward(body json.RawMessage) (any, error) {
	ctx, cancel := context.WithTimeout(t.n.Context(), requestDeadline)
	defer cancel()
	m, err := t.n.SyncRPC(ctx, t.home(), body)
	if err != nil {
		return nil, rpcErr(err)
	}
	var reply map[string]json.RawMessage
	if err := json.Unmarshal(m.Body, &reply); err != nil {
		return nil, err
	}
	delete(reply, "in_reply_to")
	delete(reply, "msg_id")
	return reply, nil
}

type callRequest struct {
	TraceParent string   `json:"traceparent"`
	Path        []string `json:"path"`
}

func (t *tracer) call(_ node.Message, req callRequest) (any, error) {
	if len(req.Path) == 0 {
		return nil, node.NewRPCError(node.MalformedRequest, "call needs a path starting with this node")
	}
	return map[string]any{"type": "call_ok"}, t.serve(req)
}

// serve runs one hop of a call and the hops after it.
func (t *tracer) serve(req callRequest) error {
	parent, err := tracectx.Parse(req.TraceParent)
	if err != nil {
		// The specification: an unreadable context starts a new trace
		// (unsampled here: nobody asked to record it).
		parent = tracectx.Context{TraceID: tracectx.NewTraceID(), SpanID: tracectx.SpanID{}}
	}
	id := tracectx.NewSpanID()
	start := t.n.Clock().Now()
	var callErr error
	if rest := req.Path[1:]; len(rest) > 0 {
		next := callRequest{TraceParent: parent.Child(id).Format(), Path: rest}
		if rest[0] == t.n.ID() {
			callErr = t.serve(next)
		} else {
			ctx, cancel := context.WithTimeout(t.n.Context(), requestDeadline)
			_, callErr = t.n.SyncRPC(ctx, rest[0], map[string]any{"type": "call", "traceparent": next.TraceParent, "path": next.Path})
			cancel()
		}
	}
	if parent.Sampled() {
		s := spans.Span{Trace: parent.TraceID.String(), Span: id.String(), Parent: parent.SpanID.String(), Node: t.n.ID(),
			Name: "call", Start: start.UnixMicro(), End: t.n.Clock().Now().UnixMicro(), Error: callErr != nil}
		t.mu.Lock()
		if t.n.ID() == t.home() {
			t.col.Add(s)
		} else {
			t.buf = append(t.buf, s)
		}
		t.mu.Unlock()
	}
	if callErr != nil {
		return rpcErr(callErr)
	}
	return nil
}

// flush sends buffered spans to the collector; a batch that is not
// acknowledged goes back in the buffer (the collector ignores resends).
func (t *tracer) flush(ctx context.Context) {
	t.mu.Lock()
	batch := t.buf
	t.buf = nil
	t.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, requestDeadline)
	defer cancel()
	if _, err := t.n.SyncRPC(ctx, t.home(), map[string]any{"type": "spans", "spans": batch}); err != nil {
		t.mu.Lock()
		t.buf = append(batch, t.buf...)
		t.mu.Unlock()
	}
}

type spansRequest struct {
	Spans []spans.Span `json:"spans"`
}

func (t *tracer) spans(_ node.Message, req spansRequest) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range req.Spans {
		t.col.Add(s)
	}
	return map[string]any{"type": "spans_ok"}, nil
}

type sample struct {
	Metric string      `json:"metric"`
	Labels tsdb.Labels `json:"labels"`
	T      int64       `json:"t"`
	V      float64     `json:"v"`
}

func decode[T any](body json.RawMessage, what string) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("%s: %v", what, err))
	}
	return v, nil
}

func (t *tracer) push(body json.RawMessage) (any, error) {
	req, err := decode[struct {
		Samples []sample `json:"samples"`
	}](body, "push body")
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range req.Samples {
		if s.Metric == "" {
			return nil, node.NewRPCError(node.MalformedRequest, "a sample needs a metric")
		}
		if err := t.db.Append(s.Metric, s.Labels, gorilla.Sample{T: s.T, V: s.V}); err != nil {
			return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("%s at %d: %v", tsdb.Key(s.Metric, s.Labels), s.T, err))
		}
	}
	return map[string]any{"type": "push_ok"}, nil
}

func (t *tracer) query(body json.RawMessage) (any, error) {
	req, err := decode[struct {
		Query struct {
			Fn     string      `json:"fn"`
			Metric string      `json:"metric"`
			Match  tsdb.Labels `json:"match"`
			By     string      `json:"by"`
			Q      float64     `json:"q"`
			Window int64       `json:"window"`
			At     int64       `json:"at"`
		} `json:"query"`
	}](body, "query body")
	if err != nil {
		return nil, err
	}
	q := req.Query
	if q.Window <= 0 {
		return nil, node.NewRPCError(node.MalformedRequest, "query needs a positive window")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch q.Fn {
	case "sum_rate":
		return map[string]any{"type": "query_ok", "result": t.db.SumRateBy(q.Metric, q.Match, q.By, q.Window, q.At)}, nil
	case "quantile":
		var res *float64
		if v, ok := t.db.HistogramQuantile(q.Q, q.Metric, q.Match, q.Window, q.At); ok {
			res = &v
		}
		return map[string]any{"type": "query_ok", "result": res}, nil
	}
	return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("query fn %q: want sum_rate or quantile", q.Fn))
}

func (t *tracer) rule(body json.RawMessage) (any, error) {
	req, err := decode[struct {
		Rule tsdb.Rule `json:"rule"`
	}](body, "rule body")
	if err != nil {
		return nil, err
	}
	if req.Rule.Name == "" || req.Rule.Metric == "" {
		return nil, node.NewRPCError(node.MalformedRequest, "a rule needs a name and a metric")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Every node installs the rule at setup: the same name twice is one rule.
	if !t.db.HasRule(req.Rule.Name) {
		t.db.AddRule(req.Rule)
	}
	return map[string]any{"type": "rule_ok"}, nil
}

func (t *tracer) traces(json.RawMessage) (any, error) {
	type out struct {
		Span   string `json:"span"`
		Parent string `json:"parent"`
		Node   string `json:"node"`
		Name   string `json:"name"`
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	res := map[string][]out{}
	for id, ss := range t.col.Traces() {
		for _, s := range ss {
			res[id] = append(res[id], out{s.Span, s.Parent, s.Node, s.Name})
		}
	}
	return map[string]any{"type": "traces_ok", "traces": res}, nil
}

func (t *tracer) alerts(json.RawMessage) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return map[string]any{"type": "alerts_ok", "events": t.db.Alerts()}, nil
}

func (t *tracer) stats(json.RawMessage) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.db.Stats()
	return map[string]any{"type": "stats_ok", "series": st.Series, "samples": st.Samples, "compressed": st.Compressed, "bytes": st.CompressedBytes}, nil
}
