//go:build !unix

package maelstrom

import (
	"errors"
	"os"
	"syscall"
)

var errNoStop = errors.New("pausing a process needs SIGSTOP, which this system lacks")

// Without process groups only the node's own process can be signalled.
func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
func stopGroup(int) error     { return errNoStop }
func continueGroup(int) error { return errNoStop }
