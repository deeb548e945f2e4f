package orchestrator

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// changeRequest is an apply, scale or delete.
type changeRequest struct {
	Type       string `json:"type"`
	Deployment string `json:"deployment"`
	Replicas   *int   `json:"replicas"`
	CPU        int    `json:"cpu"`
	Generation int64  `json:"generation"`
}

type apiState struct {
	once sync.Once
	c    client.Client
}

// apply writes a change to /deploy/<deployment> unless the stored
// deployment already has this generation or a later one: a read, then a
// create or a compare-and-set, again if another writer came in between.
func (x *Orchestrator) apply(_ node.Message, req changeRequest) (any, error) {
	switch {
	case req.Deployment == "" || req.Generation <= 0:
		return nil, node.NewRPCError(node.MalformedRequest, req.Type+" needs a deployment and a positive generation")
	case req.Type != "delete_deployment" && (req.Replicas == nil || *req.Replicas < 0):
		return nil, node.NewRPCError(node.MalformedRequest, req.Type+" needs replicas >= 0")
	case req.Type == "apply" && req.CPU <= 0:
		return nil, node.NewRPCError(node.MalformedRequest, "apply needs a positive cpu")
	}
	x.api.once.Do(func() { x.api.c = x.client("api") })
	c := x.api.c
	ctx, cancel := context.WithTimeout(x.n.Context(), x.o.CallDeadline)
	defer cancel()
	key := deployPrefix + req.Deployment
	done := map[string]any{"type": req.Type + "_ok"}
	for {
		raw, version, err := c.Get(ctx, key)
		if err != nil {
			return nil, indefinite(err)
		}
		var cur Deployment
		if version > 0 {
			if err := json.Unmarshal(raw, &cur); err != nil {
				return nil, err
			}
		}
		exists := version > 0 && !cur.Deleted
		if version > 0 && cur.Generation >= req.Generation {
			return done, nil // this change or a later one is in
		}
		if req.Type != "apply" && !exists {
			return nil, node.NewRPCError(node.KeyDoesNotExist, "no deployment "+req.Deployment)
		}
		next := Deployment{CPU: cur.CPU, Generation: req.Generation}
		switch req.Type {
		case "apply":
			next.Replicas, next.CPU = *req.Replicas, req.CPU
		case "scale":
			next.Replicas = *req.Replicas
		case "delete_deployment":
			next.Deleted = true
		}
		if version == 0 {
			_, err = c.Create(ctx, key, encode(next), 0)
		} else {
			_, err = c.Conn.Call(ctx, client.Request{Type: "cas", Key: key, From: raw, To: encode(next)})
		}
		switch code := client.ErrorCode(err); {
		case err == nil:
			return done, nil
		case code == node.KeyAlreadyExists || code == node.PreconditionFailed:
			continue // another writer came in between: read again
		default:
			return nil, indefinite(err)
		}
	}
}

// indefinite reports a failure after which the change may or may not be
// in (a write may commit after its caller stopped waiting).
func indefinite(err error) error {
	if client.ErrorCode(err) == node.KeyDoesNotExist {
		return err
	}
	return node.NewRPCError(node.Crash, "the change may or may not be in: "+err.Error())
}

// callRequest is a call to a service through the mesh.
type callRequest struct {
	Service string `json:"service"`
	Call    int64  `json:"call"`
}

// meshRequest is a call handed to the sidecar of the pod's machine.
type meshRequest struct {
	Pod  string `json:"pod"`
	Call int64  `json:"call"`
}

type podCallOK struct {
	Pod string `json:"pod"`
}

// call routes a call to a pod of the service.
func (x *Orchestrator) call(_ node.Message, req callRequest) (any, error) {
	ctx, cancel := context.WithTimeout(x.n.Context(), x.o.CallDeadline)
	defer cancel()
	pod, err := x.mesh.route(ctx, x, req.Service, req.Call)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": "call_ok", "pod": pod}, nil
}

// meshCall is the sidecar of a pod's machine handing a call to the pod.
func (x *Orchestrator) meshCall(_ node.Message, req meshRequest) (any, error) {
	ctx, cancel := context.WithTimeout(x.n.Context(), time.Second)
	defer cancel()
	r, err := node.Call[podCallOK](ctx, x.n, "runtime", map[string]any{"type": "pod_call", "pod": req.Pod, "call": req.Call})
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": "mesh_call_ok", "pod": r.Pod}, nil
}
