//go:build !unix

package realclock

import "time"

// Now falls back to time.Now where the system call is not available; under
// a synctest bubble it then reads virtual time.
func Now() Instant { return Instant(time.Now().UnixNano()) }
