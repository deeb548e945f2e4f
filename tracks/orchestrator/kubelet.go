package orchestrator

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/tracks/watcher/client"
)

type nodeInfoOK struct {
	CPU int `json:"cpu"`
}

type runtimePod struct {
	Pod        string `json:"pod"`
	Deployment string `json:"deployment"`
	CPU        int    `json:"cpu"`
}

type podListOK struct {
	Pods []runtimePod `json:"pods"`
}

// kubelet is one machine's agent.
type kubelet struct {
	x        *Orchestrator
	c        client.Client
	capacity int
	lease    int64
	lastOK   atomic.Int64 // unix nanos at which the last acknowledged keepalive was sent
	// published are the endpoints this registration wrote.
	published map[string]bool
}

// runKubelet learns the machine's capacity from its runtime, registers it
// with a lease, keeps the lease alive and runs the pods bound to it. When
// the lease is lost (the controller has given the machine up and deleted
// its pods), it stops everything and registers again.
func (x *Orchestrator) runKubelet(ctx context.Context) {
	k := &kubelet{x: x, c: x.client("kubelet")}
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		info, err := node.Call[nodeInfoOK](cctx, x.n, "runtime", map[string]any{"type": "node_info"})
		cancel()
		if err == nil {
			k.capacity = info.CPU
			break
		}
	}
	for ctx.Err() == nil {
		if err := k.register(ctx); err != nil {
			pause(ctx, x.o.Resync/5)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		go k.keepAlive(lctx, cancel)
		if x.o.EdgeKubelet {
			k.edgeLoop(lctx)
		} else {
			k.levelLoop(lctx)
		}
		cancel()
		k.stopAll(ctx)
	}
}

func (k *kubelet) register(ctx context.Context) error {
	ttl := k.x.o.NodeTTL
	sent := k.x.n.Clock().Now()
	lease, err := k.c.Grant(ctx, ttl)
	if err != nil {
		return err
	}
	if _, err := k.c.Put(ctx, nodePrefix+k.x.n.ID(), encode(Machine{CPU: k.capacity}), lease); err != nil {
		return err
	}
	k.lease, k.published = lease, map[string]bool{}
	k.lastOK.Store(sent.UnixNano())
	return nil
}

// keepAlive renews the lease four times per ttl; it cancels the
// registration when the service says the lease is gone.
func (k *kubelet) keepAlive(ctx context.Context, lost context.CancelFunc) {
	every := k.x.o.NodeTTL / 4
	for pause(ctx, every) {
		sent := k.x.n.Clock().Now()
		kctx, cancel := context.WithTimeout(ctx, every)
		err := k.c.KeepAlive(kctx, k.lease)
		cancel()
		switch {
		case err == nil:
			k.lastOK.Store(sent.UnixNano())
		case client.ErrorCode(err) == node.KeyDoesNotExist:
			lost()
			return
		}
	}
}

// fenced says whether the lease may be about to expire: the service
// counts the ttl from when it applied the last keepalive, which is after
// this kubelet sent it, so a kubelet that stops its pods once 4/5 of the
// ttl has passed since then has stopped them before the controller could
// have started replacements. (Much less than the ttl, and a slow round of
// keepalives under load would stop and restart every pod for nothing.)
func (k *kubelet) fenced() bool {
	return k.x.n.Clock().Now().UnixNano()-k.lastOK.Load() > int64(k.x.o.NodeTTL*4/5)
}

// levelLoop: list the pods bound here and the pods running here, make
// them agree, then wait for a change (or Resync) and do it again.
func (k *kubelet) levelLoop(ctx context.Context) {
	for ctx.Err() == nil {
		kvs, rev, err := k.c.List(ctx, podPrefix)
		if err != nil {
			pause(ctx, k.x.o.Resync/5)
			continue
		}
		want := map[string]storedPod{}
		if !k.fenced() {
			for _, kv := range kvs {
				p := storedPod{key: kv.Key, name: podName(kv.Key), raw: kv.Value}
				if json.Unmarshal(kv.Value, &p.Pod) == nil && p.Node == k.x.n.ID() {
					want[p.name] = p
				}
			}
		}
		if err := k.sync(ctx, want); err != nil {
			pause(ctx, k.x.o.Resync/5)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, k.x.o.Resync)
		_, _, _ = k.c.Watch(wctx, podPrefix, rev+1)
		cancel()
	}
}

// sync makes the runtime run exactly want: it stops the others, then
// starts the missing ones that fit (admission) and hands back to the
// scheduler those that do not.
func (k *kubelet) sync(ctx context.Context, want map[string]storedPod) error {
	running, err := k.runtimePods(ctx)
	if err != nil {
		return err
	}
	used := 0
	for _, p := range running {
		if _, ok := want[p.Pod]; !ok {
			if err := k.stop(ctx, p); err != nil {
				return err
			}
			continue
		}
		used += p.CPU
		if !k.published[p.Pod] {
			if err := k.publish(ctx, p.Deployment, p.Pod); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		if !slices.ContainsFunc(running, func(r runtimePod) bool { return r.Pod == name }) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		p := want[name]
		if !k.x.o.IgnoreCapacity && used+p.CPU > k.capacity {
			// Does not fit (the scheduler's view was stale): unbind it.
			to := encode(Pod{Deployment: p.Deployment, CPU: p.CPU})
			_, _ = k.c.Conn.Call(ctx, client.Request{Type: "cas", Key: p.key, From: p.raw, To: to})
			continue
		}
		if err := k.start(ctx, p.name, p.Deployment, p.CPU); err != nil {
			return err
		}
		used += p.CPU
	}
	return nil
}

func (k *kubelet) runtimePods(ctx context.Context) ([]runtimePod, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r, err := node.Call[podListOK](cctx, k.x.n, "runtime", map[string]any{"type": "pod_list"})
	return r.Pods, err
}

func (k *kubelet) start(ctx context.Context, pod, dep string, cpu int) error {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err := node.Call[struct{}](cctx, k.x.n, "runtime", map[string]any{"type": "pod_start", "pod": pod, "deployment": dep, "cpu": cpu})
	cancel()
	if err != nil {
		return err
	}
	return k.publish(ctx, dep, pod)
}

// publish announces a running pod to the mesh, under the machine's lease.
func (k *kubelet) publish(ctx context.Context, dep, pod string) error {
	if _, err := k.c.Put(ctx, endpointPrefix+dep+"/"+pod, encode(Endpoint{Node: k.x.n.ID()}), k.lease); err != nil {
		return err
	}
	k.published[pod] = true
	return nil
}

func (k *kubelet) stop(ctx context.Context, p runtimePod) error {
	if k.published[p.Pod] {
		if _, err := k.c.Delete(ctx, endpointPrefix+p.Deployment+"/"+p.Pod); err != nil && client.ErrorCode(err) != node.KeyDoesNotExist {
			return err
		}
		delete(k.published, p.Pod)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := node.Call[struct{}](cctx, k.x.n, "runtime", map[string]any{"type": "pod_stop", "pod": p.Pod})
	return err
}

// stopAll stops every pod on the machine (the registration is gone).
func (k *kubelet) stopAll(ctx context.Context) {
	running, err := k.runtimePods(ctx)
	if err != nil {
		return
	}
	k.published = map[string]bool{} // gone with the lease
	for _, p := range running {
		_ = k.stop(ctx, p)
	}
}

// edgeLoop is the counter-example: it starts from the current revision
// and acts on each pod event as it comes (a pod bound here: start it; a
// pod deleted or bound elsewhere: stop it). It never lists, so a restarted
// kubelet never hears of the pods bound to its machine before it started.
func (k *kubelet) edgeLoop(ctx context.Context) {
	_, rev, err := k.c.List(ctx, "/none/")
	for err != nil && ctx.Err() == nil {
		pause(ctx, k.x.o.Resync/5)
		_, rev, err = k.c.List(ctx, "/none/")
	}
	for ctx.Err() == nil {
		evs, through, err := k.c.Watch(ctx, podPrefix, rev+1)
		if err != nil {
			pause(ctx, k.x.o.Resync/5)
			continue
		}
		for _, ev := range evs {
			name := podName(ev.Key)
			var p Pod
			_ = json.Unmarshal(ev.Value, &p)
			dep := strings.Split(strings.TrimPrefix(ev.Key, podPrefix), "/")[0]
			if ev.Type == "put" && p.Node == k.x.n.ID() {
				_ = k.start(ctx, name, dep, p.CPU)
			} else if k.published[name] {
				_ = k.stop(ctx, runtimePod{Pod: name, Deployment: dep})
			}
		}
		rev = max(rev, through)
	}
}
