package rpc

import (
	"context"
	"errors"
	"fmt"
)

// Code is a call's outcome. The numbers are gRPC's, so a learner who knows
// one knows the other.
type Code uint32

const (
	OK                 Code = 0
	Canceled           Code = 1  // the caller gave up
	Unknown            Code = 2  // a handler error without a code
	InvalidArgument    Code = 3  // the request is malformed, whatever the state
	DeadlineExceeded   Code = 4  // the deadline passed before an answer
	NotFound           Code = 5  // no such method (or entity)
	ResourceExhausted  Code = 8  // a limit: streams per connection, frame size
	FailedPrecondition Code = 9  // the state forbids it now
	Unimplemented      Code = 12 // the method exists but not this operation
	Internal           Code = 13 // a bug: a handler panicked, an invariant broke
	Unavailable        Code = 14 // the connection failed or the server is going away; retry
)

var codeNames = map[Code]string{
	OK: "OK", Canceled: "Canceled", Unknown: "Unknown", InvalidArgument: "InvalidArgument",
	DeadlineExceeded: "DeadlineExceeded", NotFound: "NotFound", ResourceExhausted: "ResourceExhausted",
	FailedPrecondition: "FailedPrecondition", Unimplemented: "Unimplemented", Internal: "Internal",
	Unavailable: "Unavailable",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%d)", uint32(c))
}

// Error is a call that ended with a code other than OK.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "rpc: " + e.Code.String()
	}
	return "rpc: " + e.Code.String() + ": " + e.Message
}

// Errorf returns an *Error for a handler to return.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// StatusCode is the code an error carries: OK for nil, the *Error's code,
// Canceled or DeadlineExceeded for context errors, Unknown otherwise.
func StatusCode(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Unknown
}

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: StatusCode(err), Message: err.Error()}
}
