//go:build !unix

package mr

import "time"

// cpuTime is not measured here: the benchmark then reports no cores figure.
func cpuTime() time.Duration { return 0 }
