// Package messenger is the reference solution of the first track: the
// Maelstrom protocol itself. A node answers init, then echo, then learns to
// fail well: unknown types get error 10, malformed requests error 12, and
// a bad input line never stops the node.
//
// Stages are cumulative (init ⊂ echo ⊂ errors) and chosen with --stage;
// tracks/messenger/stages.tsv says how the grader tests each one, and
// README.md is the lesson.
package messenger

import (
	"encoding/json"
	"fmt"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/nodeflags"
)

// Stages lists the track's stages in order.
func Stages() []string { return []string{"init", "echo", "errors"} }

// DefaultStage is the stage a node runs without --stage.
const DefaultStage = "echo"

// Configure sets up a node for the stage named by its --stage argument:
// node.Main(Configure) is the process, node.Program(Configure) the
// in-process program the grader runs.
func Configure(n *node.Node) error {
	fs := nodeflags.New("messenger")
	stage := fs.String("stage", DefaultStage, "stage to run: init, echo or errors")
	if err := nodeflags.Parse(fs, n.Args(), "usage: messenger [--stage init|echo|errors]"); err != nil {
		return err
	}
	return Setup(*stage)(n)
}

// Setup returns the setup function of one stage.
func Setup(stage string) func(*node.Node) error {
	return func(n *node.Node) error {
		switch stage {
		case "init":
			// The runtime answers init with init_ok; nothing else to do.
		case "echo":
			node.HandleTyped(n, "echo", echo)
		case "errors":
			node.HandleTyped(n, "echo", strictEcho)
		default:
			return fmt.Errorf("messenger: unknown stage %q (stages: %v)", stage, Stages())
		}
		return nil
	}
}

// echoBody is both the request and the reply: the reply carries exactly
// type, in_reply_to (added by Reply) and echo.
type echoBody struct {
	Type string          `json:"type"`
	Echo json.RawMessage `json:"echo"`
}

// echo returns the payload untouched. Keeping it raw means any JSON value
// (string, number, object) comes back byte for byte.
func echo(_ node.Message, req echoBody) (any, error) {
	if req.Echo == nil {
		req.Echo = json.RawMessage("null")
	}
	return echoBody{Type: "echo_ok", Echo: req.Echo}, nil
}

// strictEcho refuses a request without an echo field: error 12 is
// definite, so the client knows nothing happened and may fix and resend.
func strictEcho(msg node.Message, req echoBody) (any, error) {
	if req.Echo == nil {
		return nil, node.NewRPCError(node.MalformedRequest, `echo request without an "echo" field`)
	}
	return echo(msg, req)
}
