package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// mesh is the machine's sidecar: its copy of the endpoints and the
// routing of calls.
type mesh struct {
	mu        sync.Mutex
	endpoints map[string]map[string]string // deployment -> pod -> node
}

// runEndpoints keeps the copy of /endpoints/ current: a list, then the
// changes from the list's revision on (an informer). If the service has
// compacted the revision it needs, it lists again.
func (x *Orchestrator) runEndpoints(ctx context.Context) {
	c := x.client("mesh")
	for ctx.Err() == nil {
		kvs, rev, err := c.List(ctx, endpointPrefix)
		if err != nil {
			pause(ctx, x.o.Resync/5)
			continue
		}
		fresh := map[string]map[string]string{}
		for _, kv := range kvs {
			x.mesh.set(fresh, kv.Key, kv.Value)
		}
		x.mesh.mu.Lock()
		x.mesh.endpoints = fresh
		x.mesh.mu.Unlock()
		for ctx.Err() == nil {
			evs, through, err := c.Watch(ctx, endpointPrefix, rev+1)
			if client.ErrorCode(err) == node.PreconditionFailed {
				break // compacted: list again
			}
			if err != nil {
				pause(ctx, x.o.Resync/5)
				continue
			}
			x.mesh.mu.Lock()
			for _, ev := range evs {
				if ev.Type == "put" {
					x.mesh.set(x.mesh.endpoints, ev.Key, ev.Value)
				} else {
					dep, pod := splitEndpoint(ev.Key)
					delete(x.mesh.endpoints[dep], pod)
				}
			}
			x.mesh.mu.Unlock()
			rev = max(rev, through)
		}
	}
}

func splitEndpoint(key string) (dep, pod string) {
	dep, pod, _ = strings.Cut(strings.TrimPrefix(key, endpointPrefix), "/")
	return dep, pod
}

func (m *mesh) set(into map[string]map[string]string, key string, value json.RawMessage) {
	var e Endpoint
	if json.Unmarshal(value, &e) != nil {
		return
	}
	dep, pod := splitEndpoint(key)
	if into[dep] == nil {
		into[dep] = map[string]string{}
	}
	into[dep][pod] = e.Node
}

// route sends a call to a pod of service: a pod on this machine straight
// to the runtime, another through that machine's sidecar. A pod that
// fails (its machine died, it moved) is skipped for the rest of the call;
// when every known pod has failed, the call waits for the endpoints to
// change and tries again, until its deadline.
func (m *mesh) route(ctx context.Context, x *Orchestrator, service string, call int64) (string, error) {
	failed := map[string]bool{}
	var last error
	for ctx.Err() == nil {
		m.mu.Lock()
		var pods []string
		for pod := range m.endpoints[service] {
			if !failed[pod] {
				pods = append(pods, pod)
			}
		}
		slices.Sort(pods)
		var pod, where string
		if len(pods) > 0 {
			pod = pods[int(call%int64(len(pods)))]
			where = m.endpoints[service][pod]
		}
		m.mu.Unlock()
		if pod == "" {
			clear(failed)
			if !pause(ctx, x.o.Resync/5) {
				break
			}
			continue
		}
		actx, cancel := context.WithTimeout(ctx, x.o.CallAttempt)
		var err error
		if where == x.n.ID() {
			_, err = node.Call[podCallOK](actx, x.n, "runtime", map[string]any{"type": "pod_call", "pod": pod, "call": call})
		} else {
			_, err = node.Call[podCallOK](actx, x.n, where, map[string]any{"type": "mesh_call", "pod": pod, "call": call})
		}
		cancel()
		if err == nil {
			return pod, nil
		}
		failed[pod], last = true, err
	}
	text := fmt.Sprintf("no pod of %s answered", service)
	if last != nil {
		text += " (last: " + last.Error() + ")"
	}
	return "", node.NewRPCError(node.TemporarilyUnavailable, text)
}
