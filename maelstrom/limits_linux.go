package maelstrom

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// applyLimits sets a started node process's resource limits with
// prlimit(2). They apply from the moment the grader sets them, right after
// the process starts (its first instant runs under the grader's own
// limits), and every process the node starts afterwards inherits them. A
// limit above the hard limit the grader itself runs under is lowered to
// it: an unprivileged process cannot raise a hard limit.
func applyLimits(pid int, l Limits) error {
	set := func(res int, what string, v uint64) error {
		if v == 0 {
			return nil
		}
		var cur unix.Rlimit
		if err := unix.Prlimit(pid, res, nil, &cur); err != nil {
			return fmt.Errorf("read the %s limit: %w", what, err)
		}
		v = min(v, cur.Max)
		if err := unix.Prlimit(pid, res, &unix.Rlimit{Cur: v, Max: v}, nil); err != nil {
			return fmt.Errorf("set the %s limit to %d: %w", what, v, err)
		}
		return nil
	}
	if err := set(unix.RLIMIT_AS, "address space", l.Memory); err != nil {
		return err
	}
	if err := set(unix.RLIMIT_NOFILE, "open files", l.OpenFiles); err != nil {
		return err
	}
	return set(unix.RLIMIT_NPROC, "processes", l.Processes)
}

// waitExited returns when process pid has exited, without reaping it: as
// a zombie it keeps its pid, which is also its group's id, so the group
// can still be signalled without any risk of reaching a stranger that
// got the pid afterwards.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
