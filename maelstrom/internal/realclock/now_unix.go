//go:build unix

package realclock

import (
	"syscall"
	"time"
)

// Now reads the real clock; synctest does not intercept the system call.
func Now() Instant {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return Instant(time.Now().UnixNano())
	}
	return Instant(tv.Nano())
}
