package maelstrom

import (
	"fmt"
	"strings"

	"github.com/distsys-curriculum/distsys/maelstrom/checker"
)

// exercisedBy maps the aimed faults to the fault they exercise.
var exercisedBy = map[string]string{
	"kill-leader": "kill", "partition-leader": "partition", "isolate-follower": "partition",
}

// exerciseSteps maps a fault to the schedule steps that exercise it.
var exerciseSteps = map[string][]string{
	"kill":      {"kill"},
	"partition": {"start-partition", "start-isolate"},
	"pause":     {"pause"},
	"clock":     {"start-clock"},
	"corrupt":   {"corrupt"},
}

// exerciseResult says whether the run's faults did what the stage is
// named for. A step with no effect (a partition that cut nobody off, a
// kill with every node already down) does not count: a pass of a run that
// never exercised its fault tested nothing, so the verdict is unknown.
func exerciseResult(steps []FaultStep, want []string) checker.Result {
	res := checker.Result{Checker: "exercise", Valid: checker.Valid}
	var done, missing []string
	for _, f := range want {
		n := 0
		for _, s := range steps {
			for _, name := range exerciseSteps[f] {
				if s.F == name && tookEffect(s.Value) {
					n++
				}
			}
		}
		if n == 0 {
			missing = append(missing, f)
		} else {
			done = append(done, fmt.Sprintf("%s ×%d", f, n))
		}
	}
	if len(missing) > 0 {
		res.Valid = checker.Unknown
		res.Summary = fmt.Sprintf("the stage needs a run that exercised %s, and this one never did (no step took effect): the verdict says nothing about them; rerun with another seed or a longer --time-limit", strings.Join(missing, " and "))
		return res
	}
	res.Summary = "exercised " + strings.Join(done, ", ")
	return res
}

// tookEffect reports whether a step's value names something it did: a
// node list or a partition's groups that are not empty.
func tookEffect(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []string:
		return len(x) > 0
	case []any:
		return len(x) > 0
	case map[string][]string:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case string:
		return x != ""
	default:
		return true
	}
}
