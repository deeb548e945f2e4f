package filesystem

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/storage/memfs"
)

// Error codes of the chunk servers' protocol beyond Maelstrom's.
const (
	// CodeChunkFull: the record does not fit; the primary padded the
	// chunk and the writer must ask the master for the next one.
	CodeChunkFull = 1001
	// CodeNotPrimary: the server holds no valid lease for the chunk.
	CodeNotPrimary = 1002
)

// chunkServer stores chunks and, as a chunk's primary, orders its
// mutations.
type chunkServer struct {
	n *node.Node
	o Options

	mu     sync.Mutex
	store  *Store
	leases map[uint64]*primaryLease
	locks  map[uint64]chanLock
}

type primaryLease struct {
	version     uint64
	secondaries []string
	expiry      time.Time
}

func newChunkServer(n *node.Node, o Options) *chunkServer {
	cs := &chunkServer{n: n, o: o, leases: map[uint64]*primaryLease{}, locks: map[uint64]chanLock{}}
	n.OnInit(cs.start)
	node.HandleTyped(n, "c_create", cs.handleCreate)
	node.HandleTyped(n, "c_bump", cs.handleBump)
	node.HandleTyped(n, "c_lease", cs.handleLease)
	node.HandleTyped(n, "c_append", cs.handleAppend)
	node.HandleTyped(n, "c_write", cs.handleWrite)
	node.HandleTyped(n, "c_read", cs.handleRead)
	node.HandleTyped(n, "c_clone", cs.handleClone)
	node.HandleTyped(n, "c_sync", cs.handleSync)
	n.Every(o.Heartbeat, cs.heartbeat)
	return cs
}

func (cs *chunkServer) start() error {
	if isMaster(cs.n, cs.o) {
		return nil
	}
	fsys, dir := cs.n.Storage(), cs.n.DataDir()
	if dir == "" {
		// No data directory (a unit test without the grader): a disk in memory.
		fsys, dir = memfs.New(), "/data"
	}
	st, notes, err := OpenStore(fsys, filepath.Join(dir, "chunks"), cs.o.BlockSize, !cs.o.SkipChecksums)
	if err != nil {
		return fmt.Errorf("filesystem: open chunk store: %w", err)
	}
	for _, note := range notes {
		cs.n.Logger().Warn("chunk store: " + note)
	}
	cs.mu.Lock()
	cs.store = st
	cs.mu.Unlock()
	return nil
}

func (cs *chunkServer) now() time.Time { return cs.n.Clock().Now() }

func (cs *chunkServer) st() (*Store, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.store == nil {
		return nil, node.NewRPCError(node.NotSupported, "not a chunk server")
	}
	return cs.store, nil
}

// locked returns the chunk store with chunk h's lock held, and the
// function that releases it.
func (cs *chunkServer) locked(h uint64) (st *Store, unlock func(), err error) {
	st, err = cs.st()
	if err != nil {
		return nil, nil, err
	}
	l := cs.chunkLock(h)
	l.Lock()
	return st, l.Unlock, nil
}

func (cs *chunkServer) chunkLock(h uint64) chanLock {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	l := cs.locks[h]
	if l == nil {
		l = newChanLock()
		cs.locks[h] = l
	}
	return l
}

// heartbeat reports every chunk to every master and deletes what the
// leader calls garbage.
func (cs *chunkServer) heartbeat(context.Context) {
	st, err := cs.st()
	if err != nil {
		return
	}
	body := map[string]any{"type": "hb", "chunks": st.List()}
	ids := cs.n.NodeIDs()
	for _, m := range ids[:min(cs.o.Masters, len(ids))] {
		_ = cs.n.RPC(m, body, func(msg node.Message) error {
			var ok heartbeatOK
			if err := jsonBody(msg, &ok); err != nil || ok.Type != "hb_ok" {
				return nil
			}
			for _, h := range ok.Delete {
				l := cs.chunkLock(h)
				l.Lock()
				st.Delete(h)
				cs.mu.Lock()
				delete(cs.leases, h)
				cs.mu.Unlock()
				l.Unlock()
			}
			return nil
		})
	}
}

type chunkRequest struct {
	Handle      uint64   `json:"handle"`
	Version     uint64   `json:"version"`
	Length      int64    `json:"length"`
	Offset      int64    `json:"offset"`
	Data        []byte   `json:"data"`
	Record      Record   `json:"record"`
	Secondaries []string `json:"secondaries"`
	LeaseMS     int64    `json:"lease_ms"`
	Sources     []string `json:"sources"`
	CRCs        []uint32 `json:"crcs"`
}

func storeError(err error) error {
	var rpc *node.RPCError
	switch {
	case errors.As(err, &rpc):
		return rpc
	case errors.Is(err, ErrNoChunk):
		return node.NewRPCError(node.KeyDoesNotExist, err.Error())
	case errors.Is(err, ErrStale):
		return node.NewRPCError(node.PreconditionFailed, err.Error())
	}
	return node.NewRPCError(node.Crash, err.Error())
}

func (cs *chunkServer) handleCreate(_ node.Message, r chunkRequest) (any, error) {
	st, err := cs.st()
	if err != nil {
		return nil, err
	}
	if err := st.Create(r.Handle, r.Version); err != nil {
		return nil, storeError(err)
	}
	return node.MessageBody{Type: "c_create_ok"}, nil
}

type infoOK struct {
	Type string `json:"type"`
	ChunkInfo
}

func (cs *chunkServer) handleBump(_ node.Message, r chunkRequest) (any, error) {
	st, unlock, err := cs.locked(r.Handle)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ci, err := st.SetVersion(r.Handle, r.Version)
	if err != nil {
		return nil, storeError(err)
	}
	return infoOK{"c_bump_ok", ci}, nil
}

// handleLease makes this server the chunk's primary. Its copy becomes
// the chunk: it holds every acknowledged record (every replica of the
// version does), and the secondaries are made identical to it before the
// lease starts. Below the last acknowledged record the replicas agree;
// beyond it each may hold a different failed attempt, so no length alone
// (the shortest replica's, say) marks where they stop agreeing.
func (cs *chunkServer) handleLease(_ node.Message, r chunkRequest) (any, error) {
	st, unlock, err := cs.locked(r.Handle)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ci, err := st.Info(r.Handle)
	if err != nil {
		return nil, storeError(err)
	}
	if ci.Version != r.Version {
		return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("lease for version %d, chunk at %d", r.Version, ci.Version))
	}
	if err := cs.syncSecondaries(st, r.Handle, r.Version, r.Secondaries); err != nil {
		return nil, err
	}
	// The primary's lease ends a little before the master's: the clocks
	// run at the same rate, but the grant took a moment to arrive.
	d := time.Duration(r.LeaseMS) * time.Millisecond * 8 / 10
	cs.mu.Lock()
	cs.leases[r.Handle] = &primaryLease{version: r.Version, secondaries: r.Secondaries, expiry: cs.now().Add(d)}
	cs.mu.Unlock()
	return node.MessageBody{Type: "c_lease_ok"}, nil
}

// syncSecondaries makes every secondary's copy equal to this one.
func (cs *chunkServer) syncSecondaries(st *Store, h, version uint64, secondaries []string) error {
	_, data, bad, err := st.Read(h)
	if err != nil {
		return storeError(err)
	}
	if len(bad) > 0 {
		return node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("chunk %d: the primary's copy is damaged", h))
	}
	crcs := blockCRCs(data, cs.o.BlockSize)
	return cs.callSecondaries(secondaries, 2*cs.o.CallTimeout, "did not sync", map[string]any{"type": "c_sync",
		"handle": h, "version": version, "length": len(data), "crcs": crcs, "sources": []string{cs.n.ID()}})
}

// callSecondaries sends body to every secondary at once and waits for all;
// the first failure, in the secondaries' order, is the client's error 11.
func (cs *chunkServer) callSecondaries(secondaries []string, timeout time.Duration, failed string, body map[string]any) error {
	errs := make([]error, len(secondaries))
	var wg sync.WaitGroup
	for i, s := range secondaries {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(cs.n.Context(), timeout)
			defer cancel()
			_, errs[i] = node.Call[node.MessageBody](ctx, cs.n, s, body)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return node.NewRPCError(node.TemporarilyUnavailable, fmt.Sprintf("secondary %s %s: %v", secondaries[i], failed, err))
		}
	}
	return nil
}

// handleSync makes this secondary's copy equal to the primary's: cut to
// its length when every block agrees, else copied from the primary.
func (cs *chunkServer) handleSync(_ node.Message, r chunkRequest) (any, error) {
	st, unlock, err := cs.locked(r.Handle)
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, data, bad, err := st.Read(r.Handle)
	if err != nil {
		return nil, storeError(err)
	}
	if v != r.Version {
		return nil, node.NewRPCError(node.PreconditionFailed, fmt.Sprintf("sync for version %d, chunk at %d", r.Version, v))
	}
	if len(bad) == 0 && int64(len(data)) >= r.Length && slices.Equal(blockCRCs(data[:r.Length], cs.o.BlockSize), r.CRCs) {
		if int64(len(data)) > r.Length {
			if err := st.WriteAt(r.Handle, r.Version, r.Length, nil); err != nil {
				return nil, storeError(err)
			}
		}
		return node.MessageBody{Type: "c_sync_ok"}, nil
	}
	ctx, cancel := context.WithTimeout(cs.n.Context(), cs.o.CallTimeout)
	defer cancel()
	fresh, err := fetchChunk(ctx, cs.n, cs.o.BlockSize, r.Handle, r.Version, r.Length, r.Sources)
	if err != nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, err.Error())
	}
	if err := st.Install(r.Handle, r.Version, fresh); err != nil {
		return nil, storeError(err)
	}
	return node.MessageBody{Type: "c_sync_ok"}, nil
}

func blockCRCs(data []byte, block int) []uint32 {
	out := []uint32{}
	for lo := 0; lo < len(data); lo += block {
		out = append(out, crc32.Checksum(data[lo:min(lo+block, len(data))], castagnoli))
	}
	return out
}

type appendOK struct {
	Type   string `json:"type"`
	Offset int64  `json:"offset"`
}

// handleAppend is a record append at the primary: it picks the offset
// (the chunk's end), writes the record there, and has every secondary
// write it at the same offset before acknowledging. A record that does
// not fit pads the chunk instead.
func (cs *chunkServer) handleAppend(_ node.Message, r chunkRequest) (any, error) {
	st, unlock, err := cs.locked(r.Handle)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cs.mu.Lock()
	ls := cs.leases[r.Handle]
	cs.mu.Unlock()
	ci, err := st.Info(r.Handle)
	if err != nil {
		return nil, storeError(err)
	}
	if ls == nil || !cs.now().Before(ls.expiry) || ls.version != ci.Version {
		return nil, node.NewRPCError(CodeNotPrimary, fmt.Sprintf("no lease on chunk %d", r.Handle))
	}
	rec := encodeRecord(r.Record)
	if int64(len(rec)) > cs.o.ChunkSize/4 {
		return nil, node.NewRPCError(node.MalformedRequest, fmt.Sprintf("record of %d bytes: at most a quarter chunk (%d)", len(rec), cs.o.ChunkSize/4))
	}
	full := ci.Length+int64(len(rec)) > cs.o.ChunkSize
	data := rec
	if full {
		if ci.Length == cs.o.ChunkSize {
			return nil, node.NewRPCError(CodeChunkFull, fmt.Sprintf("chunk %d is full", r.Handle))
		}
		data = padding(ci.Length, cs.o.ChunkSize)
	}
	if err := cs.mutate(st, r.Handle, ls, ci.Length, data); err != nil {
		cs.mu.Lock()
		delete(cs.leases, r.Handle) // the replicas may differ now: the master must re-grant
		cs.mu.Unlock()
		return nil, err
	}
	if full {
		return nil, node.NewRPCError(CodeChunkFull, fmt.Sprintf("chunk %d is full", r.Handle))
	}
	return appendOK{"c_append_ok", ci.Length}, nil
}

// mutate writes data at offset here and on every secondary.
func (cs *chunkServer) mutate(st *Store, h uint64, ls *primaryLease, offset int64, data []byte) error {
	if err := st.WriteAt(h, ls.version, offset, data); err != nil {
		return storeError(err)
	}
	return cs.callSecondaries(ls.secondaries, cs.o.CallTimeout, "did not write", map[string]any{"type": "c_write",
		"handle": h, "version": ls.version, "offset": offset, "data": data})
}

func (cs *chunkServer) handleWrite(_ node.Message, r chunkRequest) (any, error) {
	st, unlock, err := cs.locked(r.Handle)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := st.WriteAt(r.Handle, r.Version, r.Offset, r.Data); err != nil {
		return nil, storeError(err)
	}
	return node.MessageBody{Type: "c_write_ok"}, nil
}

type readOK struct {
	Type    string `json:"type"`
	Version uint64 `json:"version"`
	Data    []byte `json:"data"`
	Bad     []int  `json:"bad,omitempty"`
}

func (cs *chunkServer) handleRead(_ node.Message, r chunkRequest) (any, error) {
	st, err := cs.st()
	if err != nil {
		return nil, err
	}
	v, data, bad, err := st.Read(r.Handle)
	if err != nil {
		return nil, storeError(err)
	}
	if len(bad) > 0 {
		cs.n.Logger().Warn("checksum mismatch", "chunk", r.Handle, "blocks", fmt.Sprint(bad))
	}
	return readOK{"c_read_ok", v, data, bad}, nil
}

// handleClone copies a chunk from its replicas, block by block from the
// first replica whose copy of the block is intact.
func (cs *chunkServer) handleClone(_ node.Message, r chunkRequest) (any, error) {
	st, err := cs.st()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(cs.n.Context(), 3*cs.o.CallTimeout)
	defer cancel()
	data, err := fetchChunk(ctx, cs.n, cs.o.BlockSize, r.Handle, r.Version, r.Length, r.Sources)
	if err != nil {
		return nil, node.NewRPCError(node.TemporarilyUnavailable, err.Error())
	}
	l := cs.chunkLock(r.Handle)
	l.Lock()
	defer l.Unlock()
	if err := st.Install(r.Handle, r.Version, data); err != nil {
		return nil, storeError(err)
	}
	return node.MessageBody{Type: "c_clone_ok"}, nil
}

// fetchChunk reads the first length bytes of a chunk (all of them when
// length < 0) from the replicas in order, filling each block a replica
// reports damaged from the next ones. Replicas older than version are
// skipped.
func fetchChunk(ctx context.Context, n *node.Node, block int, h, version uint64, length int64, replicas []string) ([]byte, error) {
	var out []byte
	missing := map[int]bool{}
	first := true
	var lastErr error
	for _, s := range replicas {
		rctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		res, err := node.Call[readOK](rctx, n, s, map[string]any{"type": "c_read", "handle": h})
		cancel()
		if err == nil && res.Version < version {
			err = fmt.Errorf("%s holds version %d of chunk %d, older than %d", s, res.Version, h, version)
		}
		if err == nil && length >= 0 && int64(len(res.Data)) < length {
			err = fmt.Errorf("%s holds %d bytes of chunk %d, fewer than %d", s, len(res.Data), h, length)
		}
		if err != nil {
			lastErr = err
			continue
		}
		data := res.Data
		if length >= 0 {
			data = data[:length]
		}
		bad := map[int]bool{}
		for _, b := range res.Bad {
			bad[b] = true
		}
		if first {
			out, first = data, false
			for b := range bad {
				if b*block < len(out) {
					missing[b] = true
				}
			}
		} else {
			for b := range missing {
				lo, hi := b*block, min((b+1)*block, len(out))
				if !bad[b] && hi <= len(data) {
					copy(out[lo:hi], data[lo:hi])
					delete(missing, b)
				}
			}
		}
		if len(missing) == 0 {
			return out, nil
		}
	}
	if first {
		if lastErr == nil {
			lastErr = fmt.Errorf("no replica of chunk %d", h)
		}
		return nil, lastErr
	}
	return nil, fmt.Errorf("chunk %d: %d block(s) damaged on every replica", h, len(missing))
}
