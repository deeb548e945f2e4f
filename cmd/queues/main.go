// Command queues is the queues track's node (Kafka-style logs with
// --kafka, SQS-style queues otherwise): run it under the grader with
// `make track-queues`.
package main

import (
	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/queues"
)

func main() { node.Main(queues.Configure) }
