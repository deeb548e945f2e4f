package advanced

import "github.com/distsys-curriculum/distsys/tracks/advanced/streamlog"

// stream-log: the first capstone, exactly-once stream processing on the
// logger track's replicated log (streamlog).
func init() { register("stream-log", streamlog.Configure) }
