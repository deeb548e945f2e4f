package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
)

// ErrSessionLost: the session's lease expired (or was revoked) and its
// ephemeral keys, the lock key among them, are gone.
var ErrSessionLost = errors.New("watcher: session lost")

// Session is a lease kept alive by heartbeats every ttl/3 until Close.
type Session struct {
	C     Client
	Lease int64

	stop     context.CancelFunc
	done     chan struct{}
	lostOnce sync.Once
	lost     chan struct{}
}

// NewSession grants a lease of ttl (waiting at most ttl for the grant) and
// starts its heartbeats, which run until Close, until the lease is lost
// or until ctx ends.
func NewSession(ctx context.Context, c Client, ttl time.Duration) (*Session, error) {
	gctx, cancel := context.WithTimeout(ctx, ttl)
	lease, err := c.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return nil, err
	}
	hctx, stop := context.WithCancel(ctx)
	s := &Session{C: c, Lease: lease, stop: stop, done: make(chan struct{}), lost: make(chan struct{})}
	go s.heartbeat(hctx, ttl/3)
	return s, nil
}

func (s *Session) heartbeat(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		kctx, cancel := context.WithTimeout(ctx, every)
		err := s.C.KeepAlive(kctx, s.Lease)
		cancel()
		if ErrorCode(err) == node.KeyDoesNotExist {
			s.lostOnce.Do(func() { close(s.lost) })
			return
		}
	}
}

// Lost is closed when the service says the lease has expired.
func (s *Session) Lost() <-chan struct{} { return s.lost }

// Close stops the heartbeats and revokes the lease, deleting its keys.
func (s *Session) Close(ctx context.Context) error {
	s.stop()
	<-s.done
	return s.C.Revoke(ctx, s.Lease)
}

// Mutex is ZooKeeper's lock recipe with etcd's fencing token: each
// contender creates a sequential ephemeral key under the lock's name; the
// key with the lowest creation revision holds the lock, and each other
// contender watches only the key just before its own (no herd). The token
// is the holder's creation revision: holders follow one another in
// increasing token order, so a resource that refuses tokens lower than the
// highest it has seen refuses a holder whose session expired unnoticed.
type Mutex struct {
	s    *Session
	name string
	key  string
}

// NewMutex is the lock called name (a key prefix) for session s.
func NewMutex(s *Session, name string) *Mutex { return &Mutex{s: s, name: name} }

// Lock waits until this session holds the lock and returns the fencing
// token.
func (m *Mutex) Lock(ctx context.Context) (int64, error) {
	c := m.s.C
	if m.key == "" {
		key, _, err := c.PutSequential(ctx, m.name+"/", m.s.Lease, m.s.Lease)
		if err != nil {
			return 0, err
		}
		m.key = key
	}
	for {
		kvs, rev, err := c.List(ctx, m.name+"/")
		if err != nil {
			return 0, err
		}
		slices.SortFunc(kvs, func(a, b KeyValue) int { return int(a.CreateRev - b.CreateRev) })
		i := slices.IndexFunc(kvs, func(kv KeyValue) bool { return kv.Key == m.key })
		if i < 0 {
			m.key = ""
			return 0, fmt.Errorf("%w: lock key gone", ErrSessionLost)
		}
		if i == 0 {
			return kvs[0].CreateRev, nil
		}
		if err := waitDeleted(ctx, c, kvs[i-1].Key, rev+1); err != nil {
			return 0, err
		}
	}
}

// Unlock deletes the lock key.
func (m *Mutex) Unlock(ctx context.Context) error {
	if m.key == "" {
		return nil
	}
	_, err := m.s.C.Delete(ctx, m.key)
	if ErrorCode(err) == node.KeyDoesNotExist {
		err = nil // already gone with the session
	}
	if err == nil {
		m.key = ""
	}
	return err
}

// waitDeleted returns once key changes at revision rev or later (a
// delete, or any change: the caller re-reads either way).
func waitDeleted(ctx context.Context, c Client, key string, rev int64) error {
	for {
		// A server answers an expired request with no events rather than
		// an error, so the deadline is checked here.
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, through, err := c.WatchOnce(ctx, key, rev)
		if err != nil {
			return err
		}
		if ev != nil {
			return nil
		}
		rev = max(rev, through+1)
	}
}

// Election is leader election as a lock: the candidate holding the lock
// leads, and its key's value says who it is.
type Election struct {
	m    *Mutex
	name string
}

// NewElection is the election called name for session s.
func NewElection(s *Session, name string) *Election {
	return &Election{m: NewMutex(s, name), name: name}
}

// Campaign waits until this session leads; the term is the fencing token.
func (e *Election) Campaign(ctx context.Context) (term int64, err error) { return e.m.Lock(ctx) }

// Resign steps down.
func (e *Election) Resign(ctx context.Context) error { return e.m.Unlock(ctx) }

// Leader returns the current leader's lease (its session) and term, or 0
// when nobody leads.
func (e *Election) Leader(ctx context.Context) (lease, term int64, err error) {
	kvs, _, err := e.m.s.C.List(ctx, e.name+"/")
	if err != nil || len(kvs) == 0 {
		return 0, 0, err
	}
	slices.SortFunc(kvs, func(a, b KeyValue) int { return int(a.CreateRev - b.CreateRev) })
	return kvs[0].Lease, kvs[0].CreateRev, nil
}

// Barrier holds clients back while its key exists: one client Holds it
// (tied to its session, so a dead holder releases it), the others Wait.
type Barrier struct {
	C   Client
	Key string
}

// Hold raises the barrier for as long as lease lives or until Release.
func (b Barrier) Hold(ctx context.Context, lease int64) error {
	_, err := b.C.Put(ctx, b.Key, true, lease)
	return err
}

// Release lowers the barrier.
func (b Barrier) Release(ctx context.Context) error {
	_, err := b.C.Delete(ctx, b.Key)
	if ErrorCode(err) == node.KeyDoesNotExist {
		return nil
	}
	return err
}

// Wait returns once the barrier is down.
func (b Barrier) Wait(ctx context.Context) error {
	for {
		kvs, rev, err := b.C.List(ctx, b.Key)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(kvs, func(kv KeyValue) bool { return kv.Key == b.Key }) {
			return nil
		}
		if err := waitDeleted(ctx, b.C, b.Key, rev+1); err != nil {
			return err
		}
	}
}
