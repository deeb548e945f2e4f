package node

import (
	"context"
	"time"
)

// Every runs fn every interval, starting once the node is initialized and
// running, until the node stops. Runs never overlap: a slow fn delays the
// next one. fn gets the node's context and should return when it ends.
func (n *Node) Every(interval time.Duration, fn func(ctx context.Context)) {
	if interval <= 0 {
		panic("node: Every needs a positive interval")
	}
	n.addTask(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
				// A paused node's timers do not fire until it resumes.
				if n.pio.Gate.Wait(n.ctx) != nil {
					return
				}
				fn(n.ctx)
			}
		}
	})
}

// EveryAligned is Every with its runs on the multiples of interval since
// the Unix epoch rather than counted from the node's start: nodes that share
// a clock run in step however far apart they started. Teaching
// counter-examples need that (timeouts that coincide on every node); a
// protocol that must not act in lockstep uses Every.
func (n *Node) EveryAligned(interval time.Duration, fn func(ctx context.Context)) {
	if interval <= 0 {
		panic("node: EveryAligned needs a positive interval")
	}
	n.addTask(func() {
		for {
			// Recomputed each time, so the runs do not drift off the
			// boundaries however long fn takes.
			wait := interval - time.Duration(time.Now().UnixNano()%int64(interval))
			t := time.NewTimer(wait)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
				if n.pio.Gate.Wait(n.ctx) != nil {
					return
				}
				fn(n.ctx)
			}
		}
	})
}

// After runs fn once, d after the node is initialized and running, unless
// the node stops first.
func (n *Node) After(d time.Duration, fn func(ctx context.Context)) {
	n.addTask(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-n.ctx.Done():
		case <-t.C:
			if n.pio.Gate.Wait(n.ctx) == nil {
				fn(n.ctx)
			}
		}
	})
}

func (n *Node) addTask(task func()) {
	n.mu.Lock()
	started := n.tasksOn
	if !started {
		n.tasks = append(n.tasks, task)
	}
	n.mu.Unlock()
	if started {
		n.goTask(task)
	}
}

// maybeStartTasks starts registered tasks once the node is both running
// and initialized, whichever happens last.
func (n *Node) maybeStartTasks() {
	n.mu.Lock()
	if n.tasksOn || !n.running || n.initState != initDone {
		n.mu.Unlock()
		return
	}
	n.tasksOn = true
	tasks := n.tasks
	n.tasks = nil
	n.mu.Unlock()
	for _, t := range tasks {
		n.goTask(t)
	}
}

func (n *Node) goTask(task func()) {
	n.mu.Lock()
	if n.tasksClosed {
		n.mu.Unlock()
		return
	}
	n.tasksWG.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.tasksWG.Done()
		task()
	}()
}
