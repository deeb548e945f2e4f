// Package rpc is a remote procedure call protocol in the manner of gRPC,
// built from the networker track's own parts: frames from package frame,
// envelopes encoded with package wire, connections from package server.
//
// One TCP connection carries many concurrent calls. Each call is a stream
// with an id chosen by the client; every frame names its stream, so replies
// may come back in any order and a slow call does not hold up a fast one.
// The caller's deadline travels in the request as a duration and the server
// cancels the handler's context when it passes; a caller that gives up sends
// a Cancel frame. Calls end with a status code (codes follow gRPC's numbers).
// Methods are unary (one request, one reply) or server-streaming (one
// request, many messages, then a status).
//
// What it leaves out, compared with gRPC over HTTP/2: per-stream flow
// control (a stream whose consumer stops reading eventually stalls the
// connection's reader, after ClientOptions.StreamBuffer messages), client
// streaming, metadata, compression and TLS.
//
// The protocol is described field by field on Envelope, so a server or
// client in any language can speak it.
package rpc
