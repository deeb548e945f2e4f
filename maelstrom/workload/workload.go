// Package workload defines what the grader asks of a system under test:
// for each Maelstrom workload, its operation generator, how a client turns
// an operation into RPCs and the replies into history outcomes, the strict
// reply schemas, and which checker judges the history.
//
// The runner (package maelstrom) owns time, clients, nodes and faults; a
// workload only says what to send and how to read the answer. New
// workloads are added by writing a Spec and listing it in specs().
package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distsys-curriculum/distsys/internal/rawjson"
	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
	"github.com/distsys-curriculum/distsys/maelstrom/netsim"
)

// Params is what a workload instance knows about the run.
type Params struct {
	NodeIDs           []string
	Concurrency       int // worker threads
	Rand              *rand.Rand
	Topology          string
	KeyCount          int
	MaxTxnLength      int
	MaxWritesPerKey   int
	ConsistencyModels []string
	Latency           time.Duration
	OutDir            string      // where checkers may write artefacts; "" for none
	IDOrder           string      // unique-ids: "per-node" adds the per-node-increasing check
	Timestamps        string      // clocks: the timestamp kind demanded ("" infers it)
	Network           NetworkView // the run's network, for workloads whose checks read it
	// Flags holds the values of the workload's own flags (Spec.Flags), by
	// name without dashes; a flag not given has its default.
	Flags map[string]string
}

// Flag is a command-line flag that belongs to one workload, e.g. the queue
// workload's delivery guarantee. The grader accepts it only with that
// workload and lists it in `maelstrom test --help`.
type Flag struct {
	Name    string // without the leading dashes
	Default string
	Usage   string
	// Switch marks a flag that takes no value: given alone it is "true"
	// (--name=false turns it off).
	Switch bool
}

// Caller is a client bound to one node: RPC sends a request body (without
// msg_id) and returns the raw reply body, netsim.ErrTimeout, or a context
// error. The runner applies the workload's timeout.
type Caller interface {
	ID() string
	Node() string
	RPC(ctx context.Context, body map[string]any) (json.RawMessage, error)
}

// Completion is how an invoked operation ended.
type Completion struct {
	Type  history.Type
	Value any
	Error *history.Error
}

// Invocation is an operation to perform.
type Invocation struct {
	F     string
	Value any
}

// Instance is one run's workload. Next and Final are called from a single
// goroutine (the generator); Invoke runs concurrently, one call per worker.
type Instance interface {
	// Setup runs once per node, from that node's setup client, before any
	// operation (broadcast sends its topology here).
	Setup(ctx context.Context, node string, c Caller) error
	// Next returns the next operation for a worker thread and its current
	// Jepsen process.
	Next(thread, process int) Invocation
	// Final returns the final-phase operations of one worker.
	Final(thread int) []Invocation
	// Invoke performs an operation. thread identifies per-client state.
	Invoke(ctx context.Context, c Caller, thread int, inv Invocation) Completion
	// Check judges the history.
	Check(h history.History) checker.Result
}

// ExtraChecker is implemented by instances that judge the history with
// further checkers after Check; each result counts in the verdict.
type ExtraChecker interface {
	ExtraChecks(h history.History) []checker.Result
}

// ClientResetter is implemented by instances with per-client state that a
// fresh client (after an indefinite outcome) must forget.
type ClientResetter interface {
	ResetClient(thread int)
}

// Spec describes a workload.
type Spec struct {
	Name        string
	Description string
	// Reusable clients keep their id after an :info; others are closed and
	// replaced by a fresh client id, as Maelstrom does.
	Reusable bool
	// Final workloads get a final phase: heal, 10 s of quiet, Final ops.
	Final bool
	// QuietTail, when set, ends the fault schedule this long before the
	// end of the main phase, with every fault stopped, so that checks
	// that judge what follows a heal (the election's failover bound) see
	// the last heal on every seed, with no final phase needed.
	QuietTail time.Duration
	// Journal workloads read the network journal in their checks, so the
	// runner keeps it even when nothing is stored.
	Journal bool
	// ProcessOnly, if set, says why the workload cannot run in-process
	// (net-rpc needs real sockets); the runner refuses InProcess nodes.
	ProcessOnly string
	// Timeout is the client RPC timeout (nil: 5 s).
	Timeout func(latency time.Duration) time.Duration
	// ConcurrencyMultipleOf, if above zero, is a function of node count the
	// concurrency must be a multiple of (lin-kv: 2n).
	ConcurrencyMultipleOf func(nodes int) int
	// Flags are the workload's own flags; their values reach New in
	// Params.Flags.
	Flags []Flag
	New   func(p Params) (Instance, error)
}

// RPCTimeout returns the spec's timeout for a latency.
func (s Spec) RPCTimeout(latency time.Duration) time.Duration {
	if s.Timeout == nil {
		return 5 * time.Second
	}
	return s.Timeout(latency)
}

// registered holds the workloads added with Register, in order.
var registered []func() Spec

// Register adds a workload. Each workload file of a track's workload calls
// it from init, so that adding a workload touches no shared list.
func Register(spec func() Spec) { registered = append(registered, spec) }

func specs() []Spec {
	out := []Spec{
		echoSpec(), uniqueIDsSpec(), broadcastSpec(), gSetSpec(),
		counterSpec("g-counter", false), counterSpec("pn-counter", true),
		linKVSpec(), txnSpec("txn-rw-register"), txnSpec("txn-list-append"), kafkaSpec(), clocksSpec(),
		electionSpec(), errorsSpec(), netRPCSpec(),
		raftLogSpec(),
	}
	for _, s := range registered {
		out = append(out, s())
	}
	return out
}

// FlagNumber reads a numeric workload flag (Params.Flags), refusing
// values outside [lo, hi] with an error that names the flag.
func (p Params) FlagNumber(name string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(p.Flags[name], 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("--%s %q: want a number from %g to %g", name, p.Flags[name], lo, hi)
	}
	return v, nil
}

// FlagOwners returns the workloads that declare a flag (name without
// dashes), sorted.
func FlagOwners(name string) []string {
	var out []string
	for _, s := range specs() {
		for _, f := range s.Flags {
			if f.Name == name {
				out = append(out, s.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// IsSwitch reports whether a workload flag (name without dashes) takes
// no value.
func IsSwitch(name string) bool {
	for _, s := range specs() {
		for _, f := range s.Flags {
			if f.Name == name && f.Switch {
				return true
			}
		}
	}
	return false
}

// FlagUsage lists every workload flag, one "  --name V   usage (workload)"
// line each, for the help text.
func FlagUsage() string {
	var b strings.Builder
	for _, s := range specs() {
		for _, f := range s.Flags {
			line := fmt.Sprintf("  --%s V", f.Name)
			if f.Switch {
				line = "  --" + f.Name
			}
			fmt.Fprintf(&b, "%-30s%s: %s (%s)\n", line, s.Name, f.Usage, f.Default)
		}
	}
	return b.String()
}

// FlagValues resolves a spec's flags: the given values over the defaults.
// A given flag the spec does not declare is an error.
func (s Spec) FlagValues(given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range s.Flags {
		out[f.Name] = f.Default
	}
	for name, v := range given {
		if _, ok := out[name]; !ok {
			owners := FlagOwners(name)
			return nil, fmt.Errorf("--%s belongs to the %s workload, not %s", name, strings.Join(owners, ", "), s.Name)
		}
		for _, f := range s.Flags {
			if f.Name == name && f.Switch && v != "true" && v != "false" {
				return nil, fmt.Errorf("--%s takes no value (or =true, =false), got %q", name, v)
			}
		}
		out[name] = v
	}
	return out, nil
}

// Names lists the known workloads, sorted.
func Names() []string {
	var out []string
	for _, s := range specs() {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// Lookup finds a workload by name.
func Lookup(name string) (Spec, error) {
	for _, s := range specs() {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
}

// RPCError is an error reply from a node.
type RPCError struct {
	Code int
	Text string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("error %d (%s): %s", e.Code, ErrorName(e.Code), e.Text)
}

// MalformedError is a reply that does not match the workload's schema.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed response: " + e.Reason }

// definite codes mean the operation certainly did not happen.
var definite = map[int]bool{1: true, 10: true, 11: true, 12: true, 14: true, 20: true, 21: true, 22: true, 30: true}

// ErrorName is Maelstrom's name for an error code ("unknown" otherwise).
func ErrorName(code int) string {
	if n, ok := history.ErrorName(code); ok {
		return n
	}
	return "unknown"
}

// Field is one expected key of a reply body.
type Field struct {
	Name     string
	Optional bool
}

// Decode checks a reply strictly: type must be want (or "error", returned
// as *RPCError), in_reply_to present, every required field present and no
// key other than type, in_reply_to, msg_id and the fields.
func Decode(raw json.RawMessage, want string, fields ...Field) (map[string]json.RawMessage, error) {
	// A plain object takes rawjson's one-pass path; anything else is left
	// to encoding/json and its error messages.
	m, plain := rawjson.Members(raw)
	if !plain {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, &MalformedError{Reason: "reply body is not a JSON object: " + err.Error()}
		}
	}
	var typ string
	if err := json.Unmarshal(m["type"], &typ); err != nil {
		return nil, &MalformedError{Reason: fmt.Sprintf("reply has no string type (want %q)", want)}
	}
	if typ == "error" {
		var e struct {
			Code *int   `json:"code"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Code == nil {
			return nil, &MalformedError{Reason: "error reply without an integer code"}
		}
		return nil, &RPCError{Code: *e.Code, Text: e.Text}
	}
	if typ != want {
		return nil, &MalformedError{Reason: fmt.Sprintf("reply type %q, want %q", typ, want)}
	}
	allowed := map[string]bool{"type": true, "in_reply_to": true, "msg_id": true}
	for _, f := range fields {
		allowed[f.Name] = true
		if _, ok := m[f.Name]; !ok && !f.Optional {
			return nil, &MalformedError{Reason: fmt.Sprintf("missing key %q in %s", f.Name, want)}
		}
	}
	var extra []string
	for k := range m {
		if !allowed[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, &MalformedError{Reason: fmt.Sprintf("extra key %s in %s (a %s reply may only carry type, in_reply_to, msg_id%s)",
			strings.Join(extra, ", "), want, want, fieldList(fields))}
	}
	return m, nil
}

func fieldList(fs []Field) string {
	s := ""
	for _, f := range fs {
		s += ", " + f.Name
	}
	return s
}

// Outcome maps an RPC error to a completion the way Maelstrom's clients
// do. withErrors selects Maelstrom's error mapping (definite -> fail);
// without it every error is indefinite. idempotent ops fail rather than
// end unknown, because repeating or losing them changes nothing.
func Outcome(err error, withErrors, idempotent bool) Completion {
	var rpc *RPCError
	var mal *MalformedError
	switch {
	case errors.As(err, &mal):
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "malformed-response", Text: mal.Reason}}
	case errors.As(err, &rpc):
		e := &history.Error{Code: rpc.Code, Name: ErrorName(rpc.Code), Text: rpc.Text}
		if withErrors && (definite[rpc.Code] || idempotent) {
			return Completion{Type: history.Fail, Error: e}
		}
		return Completion{Type: history.Info, Error: e}
	case errors.Is(err, netsim.ErrTimeout):
		e := &history.Error{Code: 0, Name: "net-timeout", Text: "no reply before the client timeout"}
		if withErrors && idempotent {
			return Completion{Type: history.Fail, Error: e}
		}
		return Completion{Type: history.Info, Error: e}
	default:
		return Completion{Type: history.Info, Error: &history.Error{Code: -1, Name: "client-error", Text: err.Error()}}
	}
}

func ok(v any) Completion { return Completion{Type: history.OK, Value: v} }

func decodeInt(raw json.RawMessage, key string) (int64, error) {
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, &MalformedError{Reason: fmt.Sprintf("%s must be an integer, got %s", key, string(raw))}
	}
	return v, nil
}

func decodeInts(raw json.RawMessage, key string) ([]int64, error) {
	// Plain integer arrays (a broadcast read's thousands of values) are
	// parsed directly; anything else is left to encoding/json.
	v, plain := rawjson.Ints(raw, nil)
	if !plain {
		v = nil
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, &MalformedError{Reason: fmt.Sprintf("%s must be an array of integers, got %s", key, truncate(string(raw), 80))}
		}
	}
	if v == nil {
		v = []int64{}
	}
	return v, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
