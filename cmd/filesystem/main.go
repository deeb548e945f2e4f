// Command filesystem is the filesystem track's node (a GFS-style
// distributed file system): run it under the grader with
// `make track-filesystem`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/filesystem"
)

func main() { node.Main(filesystem.Configure) }
