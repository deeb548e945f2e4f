//go:build unix

package maelstrom

import (
	"errors"
	"syscall"
)

// A node process starts in a process group of its own (its pid is the
// group id), and every signal the grader sends it goes to the whole
// group: a --bin that is a wrapper script starting the real node as a
// child (no exec) loses the child with it on kill, pause and shutdown,
// instead of leaving it running next to its restarted replacement.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup signals every process of group pgid. A group that is
// already gone is not an error: the node had exited.
func signalGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func killGroup(pgid int) error     { return signalGroup(pgid, syscall.SIGKILL) }
func stopGroup(pgid int) error     { return signalGroup(pgid, syscall.SIGSTOP) }
func continueGroup(pgid int) error { return signalGroup(pgid, syscall.SIGCONT) }
