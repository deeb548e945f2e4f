//go:build unix

package maelstrom

import (
	"os"
	"syscall"
)

// stopProcess and continueProcess are the pause nemesis on a process.
func stopProcess(p *os.Process) error     { return p.Signal(syscall.SIGSTOP) }
func continueProcess(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
