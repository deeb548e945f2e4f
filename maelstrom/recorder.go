package maelstrom

import (
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// ProtocolError is a line a node printed that the grader had to drop.
type ProtocolError struct {
	Node    string        `json:"node"`
	Time    time.Duration `json:"time"`
	Line    string        `json:"line"`
	Message string        `json:"message"`
}

// recorder collects the history and everything else observed during a
// run; it is shared by clients, nodes and the nemesis.
type recorder struct {
	since func() time.Duration

	mu         sync.Mutex
	h          history.History
	protocol   []ProtocolError
	protoCount int
	late       map[string]int // node -> replies to closed clients
	// spoofCount counts lines dropped because their src was not the node
	// that printed them; firstSpoof is the first.
	spoofCount     int
	firstSpoof     *ProtocolError
	warnings       []string // about the run itself
	ok, fail, info int
}

func newRecorder(since func() time.Duration) *recorder {
	return &recorder{since: since, late: map[string]int{}}
}

func (r *recorder) add(op history.Op) history.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = len(r.h)
	op.Time = r.since()
	r.h = append(r.h, op)
	if op.Process >= 0 && !checker.Bookkeeping(op.F) {
		switch op.Type {
		case history.OK:
			r.ok++
		case history.Fail:
			r.fail++
		case history.Info:
			r.info++
		}
	}
	return op
}

// maxProtocolErrors bounds what is kept; the count stays exact.
const maxProtocolErrors = 100

func (r *recorder) protocolError(node, line, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.protoCount++
	if len(r.protocol) < maxProtocolErrors {
		if len(line) > 500 {
			line = line[:500] + "..."
		}
		r.protocol = append(r.protocol, ProtocolError{Node: node, Time: r.since(), Line: line, Message: msg})
	}
}

func (r *recorder) spoof(node, line, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spoofCount++
	if r.firstSpoof == nil {
		if len(line) > 500 {
			line = line[:500] + "..."
		}
		r.firstSpoof = &ProtocolError{Node: node, Time: r.since(), Line: line, Message: msg}
	}
}

// warn keeps a warning about the run itself (the summary lists it).
func (r *recorder) warn(msg string) {
	r.mu.Lock()
	r.warnings = append(r.warnings, msg)
	r.mu.Unlock()
}

func (r *recorder) lateReply(node, client string) {
	r.mu.Lock()
	r.late[node]++
	r.mu.Unlock()
}

func (r *recorder) counts() (ok, fail, info int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, r.fail, r.info
}

func (r *recorder) history() history.History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(history.History(nil), r.h...)
}
