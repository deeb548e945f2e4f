//go:build !unix

package maelstrom

import (
	"errors"
	"os"
)

var errNoStop = errors.New("pausing a process needs SIGSTOP, which this system lacks")

func stopProcess(*os.Process) error     { return errNoStop }
func continueProcess(*os.Process) error { return errNoStop }
