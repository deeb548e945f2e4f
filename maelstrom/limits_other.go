//go:build !linux

package maelstrom

// applyLimits does nothing where prlimit(2) is missing: there a node runs
// under the grader's own limits.
func applyLimits(int, Limits) error { return nil }
