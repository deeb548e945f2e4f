package checker

import (
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/distsys-curriculum/distsys/maelstrom/internal/realclock"
)

// searchMemory bounds the memory the linearizability searches of one check
// may hold at once. Porcupine remembers every (linearized set, state) pair
// it has visited; on an invalid or very concurrent history that set grows
// without limit long before any time budget runs out. Past the bound the
// key is unknown, as Knossos reports a search that exhausts its memory.
var searchMemory int64 = 1 << 30

// searchBudget stops porcupine when real time or memory runs out. It works
// through the model's step function rather than porcupine's own timeout
// because that timeout is a timer: under a synctest bubble (in-process
// grading) timers stand still while the search keeps the CPU busy, so the
// search would never be stopped.
type searchBudget struct {
	deadline realclock.Instant // zero: no time limit
	memory   atomic.Int64      // bytes left to the searches running now
}

func newSearchBudget(timeout time.Duration) *searchBudget {
	b := &searchBudget{}
	if timeout > 0 {
		b.deadline = realclock.Deadline(timeout)
	}
	b.memory.Store(searchMemory)
	return b
}

// keySearch is one search's share of the budget: the memory it holds,
// returned when it ends, and whether it was cut short. Porcupine runs one
// search per key on one goroutine, so its fields need no locks.
type keySearch struct {
	b        *searchBudget
	deadline realclock.Instant // zero: no time limit
	entry    int64             // bytes porcupine keeps per visited configuration
	charged  int64
	steps    uint
	cut      bool
}

// search starts a search over ops operations that must end by deadline.
func (b *searchBudget) search(ops int, deadline realclock.Instant) *keySearch {
	// A visited configuration costs a bitset of ops bits, a stored state
	// and the bookkeeping of a map bucket and a slice element.
	return &keySearch{b: b, deadline: deadline, entry: int64(8*(ops/64+1)) + 96}
}

// model wraps m so that each step first checks the budget; once it is
// spent every step fails, which unwinds porcupine's search in time linear
// in the history, and the caller reads cut to know the verdict is unknown.
func (k *keySearch) model(m porcupine.Model) porcupine.Model {
	step := m.Step
	m.StepContext = nil
	m.Step = func(state, input, output any) (bool, any) {
		if k.cut || k.exhausted() {
			k.cut = true
			return false, state
		}
		ok, next := step(state, input, output)
		if ok {
			k.charged += k.entry
			if k.b.memory.Add(-k.entry) < 0 {
				k.cut = true
			}
		}
		return ok, next
	}
	return m
}

// exhausted reads the clock every 256 steps: a system call per step would
// cost more than the step.
func (k *keySearch) exhausted() bool {
	k.steps++
	return k.steps%256 == 0 && k.deadline != 0 && k.deadline.Passed()
}

// done returns the memory the search held.
func (k *keySearch) done() { k.b.memory.Add(k.charged) }
