package orchestrator

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/orchestrator/schedule"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

// runController campaigns for the controller's election, and while this
// node leads runs the control loop. A lost session ends the term; the
// node campaigns again.
func (x *Orchestrator) runController(ctx context.Context) {
	c := x.client("controller")
	for ctx.Err() == nil {
		sess, err := client.NewSession(ctx, c, x.o.NodeTTL)
		if err != nil {
			pause(ctx, x.o.Resync)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Lost():
				cancel()
			case <-lctx.Done():
			}
		}()
		if _, err := client.NewElection(sess, electionName).Campaign(lctx); err == nil {
			x.n.Logger().Info("controller elected")
			x.lead(lctx, c)
		}
		cancel()
		cctx, ccancel := context.WithTimeout(ctx, x.o.NodeTTL)
		_ = sess.Close(cctx)
		ccancel()
	}
}

// lead is the control loop: look at everything, act, then wait for a
// change (or Resync) and look again. It never acts on what an event said:
// an event only wakes it, so a missed one costs a delay, never a mistake.
func (x *Orchestrator) lead(ctx context.Context, c client.Client) {
	for ctx.Err() == nil {
		rev, err := x.reconcile(ctx, c)
		if err != nil {
			pause(ctx, x.o.Resync/5)
			continue
		}
		// The watch waits a little for the first change after rev.
		wctx, cancel := context.WithTimeout(ctx, x.o.Resync)
		_, _, _ = c.Watch(wctx, "/", rev+1)
		cancel()
	}
}

type storedPod struct {
	key, name string
	raw       json.RawMessage
	Pod
}

// reconcile is one pass of the controller: the replica controller (pods
// per deployment), the node lifecycle controller (pods of dead machines)
// and the scheduler (unbound pods). It returns the revision it read at.
func (x *Orchestrator) reconcile(ctx context.Context, c client.Client) (int64, error) {
	depKVs, rev, err := c.List(ctx, deployPrefix)
	if err != nil {
		return 0, err
	}
	podKVs, _, err := c.List(ctx, podPrefix)
	if err != nil {
		return 0, err
	}
	nodeKVs, _, err := c.List(ctx, nodePrefix)
	if err != nil {
		return 0, err
	}
	deps := map[string]Deployment{}
	for _, kv := range depKVs {
		var d Deployment
		if json.Unmarshal(kv.Value, &d) == nil && !d.Deleted {
			deps[strings.TrimPrefix(kv.Key, deployPrefix)] = d
		}
	}
	machines := map[string]*schedule.Node{}
	for _, kv := range nodeKVs {
		var m Machine
		if json.Unmarshal(kv.Value, &m) == nil {
			name := strings.TrimPrefix(kv.Key, nodePrefix)
			machines[name] = &schedule.Node{Name: name, Capacity: m.CPU}
		}
	}
	byDep := map[string][]storedPod{}
	for _, kv := range podKVs {
		p := storedPod{key: kv.Key, name: podName(kv.Key), raw: kv.Value}
		if json.Unmarshal(kv.Value, &p.Pod) != nil {
			continue
		}
		_, live := deps[p.Deployment]
		if !live || (p.Node != "" && machines[p.Node] == nil) {
			x.deletePod(ctx, c, p.key) // deleted deployment, or dead machine
			continue
		}
		byDep[p.Deployment] = append(byDep[p.Deployment], p)
	}
	var unbound []schedule.Pod
	pods := map[string]storedPod{}
	for name, d := range deps {
		have := byDep[name] // by key: creation order
		for i := len(have); i < d.Replicas; i++ {
			if _, _, err := c.PutSequential(ctx, podPrefix+name+"/", encode(Pod{Deployment: name, CPU: d.CPU}), 0); err != nil {
				return 0, err
			}
		}
		if extra := len(have) - d.Replicas; extra > 0 {
			// Remove unbound pods first, then the newest.
			slices.SortStableFunc(have, func(a, b storedPod) int {
				if (a.Node == "") != (b.Node == "") {
					if a.Node == "" {
						return 1
					}
					return -1
				}
				return strings.Compare(a.key, b.key)
			})
			for _, p := range have[len(have)-extra:] {
				x.deletePod(ctx, c, p.key)
			}
			have = have[:len(have)-extra]
		}
		for _, p := range have {
			if p.Node == "" {
				unbound = append(unbound, schedule.Pod{Name: p.name, Deployment: name, CPU: p.CPU})
				pods[p.name] = p
			} else {
				machines[p.Node].Used += p.CPU
			}
		}
	}
	nodes := make([]schedule.Node, 0, len(machines))
	for _, m := range machines {
		nodes = append(nodes, *m)
	}
	bound, _ := schedule.Place(x.o.profile(), unbound, nodes)
	for _, b := range bound {
		p := pods[b.Pod.Name]
		to := encode(Pod{Deployment: p.Deployment, CPU: p.CPU, Node: b.Node})
		// A compare-and-set: if the pod changed since the list, the next
		// pass sees the change and decides again.
		if _, err := c.Conn.Call(ctx, client.Request{Type: "cas", Key: p.key, From: p.raw, To: to}); err != nil && ctx.Err() != nil {
			return 0, err
		}
	}
	return rev, nil
}

func (x *Orchestrator) deletePod(ctx context.Context, c client.Client, key string) {
	if _, err := c.Delete(ctx, key); err != nil && client.ErrorCode(err) != node.KeyDoesNotExist {
		x.n.Logger().Debug("delete pod", "key", key, "err", err)
	}
}
