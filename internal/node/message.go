package node

import (
	"errors"
	"fmt"

	maelstrom "github.com/jepsen-io/maelstrom/demo/go"
)

// The message types and error helpers are those of Maelstrom's Go library,
// so code written against that library reads the same here.
type (
	// Message is one envelope: Src, Dest and the raw JSON Body.
	Message = maelstrom.Message
	// MessageBody holds the reserved body fields; embed it in your bodies.
	MessageBody = maelstrom.MessageBody
	// InitMessageBody is the body of the init message.
	InitMessageBody = maelstrom.InitMessageBody
	// RPCError is an error reply: a Maelstrom error code and a text.
	RPCError = maelstrom.RPCError
	// HandlerFunc handles one message. A returned *RPCError is sent back as
	// an error reply; any other error is logged and answered with code 13.
	HandlerFunc = maelstrom.HandlerFunc
)

// Error codes reserved by Maelstrom (codes from 1000 on are free for
// applications).
const (
	Timeout                = maelstrom.Timeout
	NodeNotFound           = 1
	NotSupported           = maelstrom.NotSupported
	TemporarilyUnavailable = maelstrom.TemporarilyUnavailable
	MalformedRequest       = maelstrom.MalformedRequest
	Crash                  = maelstrom.Crash
	Abort                  = maelstrom.Abort
	KeyDoesNotExist        = maelstrom.KeyDoesNotExist
	KeyAlreadyExists       = maelstrom.KeyAlreadyExists
	PreconditionFailed     = maelstrom.PreconditionFailed
	TxnConflict            = maelstrom.TxnConflict
)

// NewRPCError returns an error that handlers return to answer with an
// error reply.
func NewRPCError(code int, text string) *RPCError { return maelstrom.NewRPCError(code, text) }

// ErrorCode returns the code of the *RPCError in err's chain, or -1.
func ErrorCode(err error) int { return maelstrom.ErrorCode(err) }

// ErrorCodeText names a code, e.g. "NotSupported".
func ErrorCodeText(code int) string {
	if code == NodeNotFound {
		return "NodeNotFound"
	}
	return maelstrom.ErrorCodeText(code)
}

// IsDefinite reports whether an error code means the operation certainly
// did not happen. Timeouts, crashes and unknown codes are indefinite: the
// operation may or may not have taken effect.
func IsDefinite(code int) bool {
	switch code {
	case NodeNotFound, NotSupported, TemporarilyUnavailable, MalformedRequest,
		Abort, KeyDoesNotExist, KeyAlreadyExists, PreconditionFailed, TxnConflict:
		return true
	}
	return false
}

// Errors returned by the runtime itself.
var (
	// ErrStopped: the node was stopped (its context was cancelled); nothing
	// more is sent.
	ErrStopped = errors.New("node stopped")
	// ErrInputClosed: the node's input reached EOF, so no reply can arrive.
	ErrInputClosed = errors.New("node input closed: no reply can arrive")
	// ErrNotInitialized: the node has no id yet, so it cannot send (its
	// messages would carry an empty src, which the network rejects).
	ErrNotInitialized = errors.New("node not initialized: no init message received yet")
)

// errorBody is an error reply. Unlike RPCError's own JSON form it always
// carries "code", so code 0 (timeout) is not silently dropped.
type errorBody struct {
	Type string `json:"type"`
	Code int    `json:"code"`
	Text string `json:"text,omitempty"`
}

func toErrorBody(e *RPCError) errorBody {
	return errorBody{Type: "error", Code: e.Code, Text: e.Text}
}

// header is the part of a body the runtime routes on. Code is a pointer so
// that an error reply without a code can be told apart from code 0.
type header struct {
	Type      string `json:"type"`
	MsgID     int    `json:"msg_id"`
	InReplyTo int    `json:"in_reply_to"`
	Code      *int   `json:"code"`
	Text      string `json:"text"`
}

// replyError turns an error reply into an *RPCError. Any body with type
// "error" is an error, whatever its code, including 0 (timeout).
func replyError(m Message) error {
	h, err := decodeHeader(m.Body, false)
	if err != nil {
		return NewRPCError(Crash, fmt.Sprintf("undecodable reply from %s: %v", m.Src, err))
	}
	if h.Type != "error" {
		return nil
	}
	if h.Code == nil {
		return NewRPCError(Crash, fmt.Sprintf("error reply from %s without a code: %s", m.Src, h.Text))
	}
	return NewRPCError(*h.Code, h.Text)
}
