// Package testnodes holds small Maelstrom nodes, correct and deliberately
// broken, that the grader's own tests and benchmarks run in-process. They
// are written straight against program.IO so that the grader is tested
// without depending on the node runtime it grades.
package testnodes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/internal/rawjson"
	"github.com/distsys-curriculum/distsys/internal/storage"
)

// Msg is a received message. Body is decoded for handlers unless they ask
// for RawBody; Raw is always the body as received.
type Msg struct {
	Src  string                     `json:"src"`
	Dest string                     `json:"dest"`
	Body map[string]json.RawMessage `json:"body"`
	Raw  json.RawMessage            `json:"-"`
}

// Field returns a top-level body field's raw value, or nil.
func (m Msg) Field(key string) json.RawMessage {
	if m.Body != nil || m.Raw == nil {
		return m.Body[key]
	}
	var out json.RawMessage
	rawjson.Object(m.Raw, func(k, v []byte) bool {
		if string(k) == key {
			out = v
			return false // our nodes' bodies never repeat a key
		}
		return true
	})
	return out
}

// Type returns the body's type.
func (m Msg) Type() string {
	v := m.Field("type")
	if s, ok := rawjson.String(v); ok {
		return s
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// Int decodes an integer field of the body.
func (m Msg) Int(key string) int64 {
	raw := m.Field(key)
	if v, ok := rawjson.Int(raw); ok {
		return v
	}
	var v int64
	_ = json.Unmarshal(raw, &v)
	return v
}

// isType reports whether the body's type is typ, without allocating.
func (m Msg) isType(typ string) bool {
	v := m.Field("type")
	return len(v) == len(typ)+2 && string(v[1:len(v)-1]) == typ
}

// parseMsg decodes an envelope; the grader's plain shape takes a fast path
// that leaves the body undecoded. name turns ids into strings.
func parseMsg(line []byte, name func([]byte) string) (Msg, error) {
	var m Msg
	ok := rawjson.Object(line, func(k, v []byte) bool {
		var good bool
		switch string(k) {
		case "src":
			m.Src, good = rawjson.Name(v, name)
		case "dest":
			m.Dest, good = rawjson.Name(v, name)
		case "body":
			m.Raw, good = v, len(v) > 0 && v[0] == '{'
		case "id":
			good = true
		}
		return good
	})
	if ok && m.Src != "" && m.Raw != nil {
		return m, nil
	}
	var env struct {
		Src  string          `json:"src"`
		Dest string          `json:"dest"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(line, &env); err != nil {
		return Msg{}, err
	}
	return Msg{Src: env.Src, Dest: env.Dest, Raw: env.Body}, nil
}

// Node is the state shared by the handlers of one node.
type Node struct {
	ID    string
	IDs   []string
	out   *bufio.Writer
	pio   program.IO
	msgID int64
	line  []byte // SendRaw's reused buffer
}

// SendRaw writes a message whose body is already encoded.
func (n *Node) SendRaw(dest string, body []byte) {
	b := append(n.line[:0], `{"src":`...)
	b = rawjson.AppendString(b, n.ID)
	b = append(b, `,"dest":`...)
	b = rawjson.AppendString(b, dest)
	b = append(b, `,"body":`...)
	b = append(b, body...)
	b = append(b, "}\n"...)
	n.line = b
	n.out.Write(b)
	n.out.Flush()
}

// NextMsgID returns a fresh msg_id.
func (n *Node) NextMsgID() int64 {
	n.msgID++
	return n.msgID
}

// Send writes a message to dest.
func (n *Node) Send(dest string, body map[string]any) {
	b, _ := json.Marshal(map[string]any{"src": n.ID, "dest": dest, "body": body})
	n.out.Write(b)
	n.out.WriteByte('\n')
	n.out.Flush()
}

// Reply answers req with body plus in_reply_to.
func (n *Node) Reply(req Msg, body map[string]any) {
	body["in_reply_to"] = req.Int("msg_id")
	n.Send(req.Src, body)
}

// RPC sends body with a fresh msg_id.
func (n *Node) RPC(dest string, body map[string]any) int64 {
	n.msgID++
	body["msg_id"] = n.msgID
	n.Send(dest, body)
	return n.msgID
}

// Raw writes a raw line to stdout.
func (n *Node) Raw(line string) {
	n.out.WriteString(line + "\n")
	n.out.Flush()
}

// Logf writes to stderr.
func (n *Node) Logf(format string, args ...any) { fmt.Fprintf(n.pio.Stderr, format+"\n", args...) }

// Handlers define a node: Handle gets every message but init; Tick, if
// set, runs every Every.
type Handlers struct {
	Handle   func(n *Node, m Msg) error
	Tick     func(n *Node)
	Every    time.Duration
	SkipInit bool // never answer init
	RawBody  bool // leave Msg.Body nil; handlers read Msg.Raw or Field
}

// Program turns handlers into a program.Program. newHandlers is called
// once per node start, so nodes share no state.
func Program(newHandlers func() Handlers) program.Program {
	return func(ctx context.Context, pio program.IO) error {
		h := newHandlers()
		n := &Node{out: bufio.NewWriter(pio.Stdout), pio: pio}
		names := interner{}
		lines := make(chan []byte, 64)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(pio.Stdin)
			sc.Buffer(make([]byte, 1<<16), 1<<24)
			for sc.Scan() {
				select {
				case lines <- append([]byte(nil), sc.Bytes()...):
				case <-ctx.Done():
					return
				}
			}
		}()
		var tick <-chan time.Time
		if h.Tick != nil && h.Every > 0 {
			t := time.NewTicker(h.Every)
			defer t.Stop()
			tick = t.C
		}
		// Handlers run here, on the program's own goroutine, so that a
		// panicking handler is the program's panic.
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
				if n.ID != "" {
					h.Tick(n)
				}
			case line, ok := <-lines:
				if !ok {
					return nil
				}
				m, err := parseMsg(line, names.get)
				if err == nil && !h.RawBody && len(m.Raw) > 0 {
					err = json.Unmarshal(m.Raw, &m.Body)
				}
				if err != nil {
					n.Logf("bad line: %s", line)
					continue
				}
				if m.isType("init") {
					if h.SkipInit {
						n.Logf("ignoring init on purpose")
						continue
					}
					_ = json.Unmarshal(m.Field("node_id"), &n.ID)
					_ = json.Unmarshal(m.Field("node_ids"), &n.IDs)
					n.Reply(m, map[string]any{"type": "init_ok"})
					continue
				}
				if err := h.Handle(n, m); err != nil {
					return err
				}
			}
		}
	}
}

// interner returns the same string for the same few ids, so that parsing
// a message allocates no src and dest.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 4096 {
		in[s] = s
	}
	return s
}

// Echo is a correct echo node; wrong makes it alter the payload.
func Echo(wrong bool) program.Program {
	return Program(func() Handlers {
		var body []byte
		return Handlers{RawBody: true, Handle: func(n *Node, m Msg) error {
			if wrong {
				var v any
				_ = json.Unmarshal(m.Field("echo"), &v)
				n.Reply(m, map[string]any{"type": "echo_ok", "echo": fmt.Sprint(v, "!")})
				return nil
			}
			echo := m.Field("echo")
			if echo == nil {
				echo = json.RawMessage("null")
			}
			body = append(body[:0], `{"type":"echo_ok","echo":`...)
			body = append(body, echo...)
			body = append(body, `,"in_reply_to":`...)
			body = strconv.AppendInt(body, m.Int("msg_id"), 10)
			body = append(body, '}')
			n.SendRaw(m.Src, body)
			return nil
		}}
	})
}

// EchoGarbage echoes correctly but also prints a debug line to stdout.
func EchoGarbage() program.Program {
	return Program(func() Handlers {
		return Handlers{Handle: func(n *Node, m Msg) error {
			n.Raw("got an echo, replying")
			var v any
			_ = json.Unmarshal(m.Body["echo"], &v)
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": v})
			return nil
		}}
	})
}

// EchoCrash echoes three messages, then exits with an error.
func EchoCrash() program.Program {
	return Program(func() Handlers {
		count := 0
		return Handlers{Handle: func(n *Node, m Msg) error {
			count++
			if count > 3 {
				n.Logf("panic: index out of range [3] with length 3")
				return errors.New("exit status 2")
			}
			var v any
			_ = json.Unmarshal(m.Body["echo"], &v)
			n.Reply(m, map[string]any{"type": "echo_ok", "echo": v})
			return nil
		}}
	})
}

// NoInit never answers init.
func NoInit() program.Program {
	return Program(func() Handlers {
		return Handlers{SkipInit: true, Handle: func(*Node, Msg) error { return nil }}
	})
}

// UniqueIDs generates ids; dup drops the node id so nodes collide.
func UniqueIDs(dup bool) program.Program {
	return Program(func() Handlers {
		var next int64
		return Handlers{Handle: func(n *Node, m Msg) error {
			next++
			var id any = fmt.Sprintf("%s-%d", n.ID, next)
			if dup {
				id = next
			}
			n.Reply(m, map[string]any{"type": "generate_ok", "id": id})
			return nil
		}}
	})
}

// Broadcast is a batched-gossip broadcast node, written the way learners'
// nodes and the gossiper track are: every Every it sends each neighbour
// one gossip message with the values that neighbour has not acknowledged
// (never back to the node a value came from), and resends a batch whose
// gossip_ok has not come back within a second, so partitions delay values
// but lose none. Bodies are encoded by hand and reads answer from a
// pre-encoded list, as a tuned node would.
//
// With lossy it forwards each value once, at once, and never retries, so a
// partition loses values; with extraKey its broadcast_ok still carries the
// message.
func Broadcast(lossy, extraKey bool) program.Program {
	const retryAfter = time.Second
	type batch struct {
		peer   string
		values []int64
		sent   time.Time
	}
	return Program(func() Handlers {
		seen := map[int64]bool{}
		var list []byte // the values seen, encoded: "1,2,3"
		var neighbours []string
		queued := map[string][]int64{} // peer -> values not yet sent
		inflight := map[int64]batch{}  // gossip msg_id -> unacknowledged batch
		var body []byte
		add := func(n *Node, v int64, from string) {
			if seen[v] {
				return
			}
			seen[v] = true
			if len(list) > 0 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, v, 10)
			for _, p := range neighbours {
				if lossy {
					body = append(body[:0], `{"type":"gossip","values":[`...)
					body = strconv.AppendInt(body, v, 10)
					body = append(body, "]}"...)
					n.SendRaw(p, body)
					continue
				}
				if p != from {
					queued[p] = append(queued[p], v)
				}
			}
		}
		start := func(prefix string) { body = append(body[:0], prefix...) }
		// reply ends the body that start began and sends it back.
		reply := func(n *Node, m Msg) {
			body = strconv.AppendInt(append(body, `,"in_reply_to":`...), m.Int("msg_id"), 10)
			n.SendRaw(m.Src, append(body, '}'))
		}
		return Handlers{
			RawBody: true,
			Every:   200 * time.Millisecond,
			Tick: func(n *Node) {
				now := time.Now()
				for id, b := range inflight {
					if now.Sub(b.sent) >= retryAfter {
						delete(inflight, id)
						queued[b.peer] = append(queued[b.peer], b.values...)
					}
				}
				for _, p := range neighbours {
					vs := queued[p]
					if len(vs) == 0 {
						continue
					}
					queued[p] = nil
					id := n.NextMsgID()
					inflight[id] = batch{p, vs, now}
					body = append(body[:0], `{"type":"gossip","msg_id":`...)
					body = strconv.AppendInt(body, id, 10)
					body = append(body, `,"values":`...)
					body = rawjson.AppendInts(body, vs)
					n.SendRaw(p, append(body, '}'))
				}
			},
			Handle: func(n *Node, m Msg) error {
				switch m.Type() {
				case "topology":
					var topo map[string][]string
					_ = json.Unmarshal(m.Field("topology"), &topo)
					neighbours = topo[n.ID]
					start(`{"type":"topology_ok"`)
					reply(n, m)
				case "broadcast":
					v := m.Int("message")
					add(n, v, "")
					start(`{"type":"broadcast_ok"`)
					if extraKey {
						body = strconv.AppendInt(append(body, `,"message":`...), v, 10)
					}
					reply(n, m)
				case "read":
					start(`{"type":"read_ok","messages":[`)
					body = append(body, list...)
					body = append(body, ']')
					reply(n, m)
				case "gossip":
					vs, ok := rawjson.Ints(m.Field("values"), nil)
					if !ok {
						_ = json.Unmarshal(m.Field("values"), &vs)
					}
					for _, v := range vs {
						add(n, v, m.Src)
					}
					if !lossy {
						start(`{"type":"gossip_ok"`)
						reply(n, m)
					}
				case "gossip_ok":
					delete(inflight, m.Int("in_reply_to"))
				}
				return nil
			},
		}
	})
}

// Counter is a state-based G-counter gossiped to every peer; with lossy
// each node only counts its own adds and never shares them.
func Counter(lossy bool) program.Program {
	return Program(func() Handlers {
		counts := map[string]int64{}
		total := func() int64 {
			var s int64
			for _, c := range counts {
				s += c
			}
			return s
		}
		return Handlers{
			Every: 300 * time.Millisecond,
			Tick: func(n *Node) {
				if lossy {
					return
				}
				for _, p := range n.IDs {
					if p != n.ID {
						n.Send(p, map[string]any{"type": "state", "counts": counts})
					}
				}
			},
			Handle: func(n *Node, m Msg) error {
				switch m.Type() {
				case "add":
					counts[n.ID] += m.Int("delta")
					n.Reply(m, map[string]any{"type": "add_ok"})
				case "read":
					n.Reply(m, map[string]any{"type": "read_ok", "value": total()})
				case "state":
					var other map[string]int64
					_ = json.Unmarshal(m.Body["counts"], &other)
					for k, v := range other {
						counts[k] = max(counts[k], v)
					}
				}
				return nil
			},
		}
	})
}

// LinKVProxy forwards lin-kv requests to the lin-kv service (correct) or
// to lww-kv (broken: stale reads).
func LinKVProxy(service string) program.Program {
	return Program(func() Handlers {
		waiting := map[int64]Msg{}
		return Handlers{Handle: func(n *Node, m Msg) error {
			if m.Src == service {
				var irt int64
				_ = json.Unmarshal(m.Body["in_reply_to"], &irt)
				req, ok := waiting[irt]
				if !ok {
					return nil
				}
				delete(waiting, irt)
				body := map[string]any{}
				for k, v := range m.Body {
					if k != "in_reply_to" && k != "msg_id" {
						body[k] = v
					}
				}
				n.Reply(req, body)
				return nil
			}
			body := map[string]any{}
			for k, v := range m.Body {
				if k != "msg_id" {
					body[k] = v
				}
			}
			waiting[n.RPC(service, body)] = m
			return nil
		}}
	})
}

// KafkaSingle is a correct single-node kafka log; with lossy it
// acknowledges every fifth send without storing it.
func KafkaSingle(lossy bool) program.Program {
	return Program(func() Handlers {
		logs := map[string][]int64{}
		committed := map[string]int64{}
		return Handlers{Handle: func(n *Node, m Msg) error {
			switch m.Type() {
			case "send":
				var k string
				_ = json.Unmarshal(m.Body["key"], &k)
				if lossy && m.Int("msg")%5 == 0 {
					n.Reply(m, map[string]any{"type": "send_ok", "offset": len(logs[k])})
					return nil
				}
				logs[k] = append(logs[k], m.Int("msg"))
				n.Reply(m, map[string]any{"type": "send_ok", "offset": len(logs[k]) - 1})
			case "poll":
				var offs map[string]int64
				_ = json.Unmarshal(m.Body["offsets"], &offs)
				out := map[string][][2]int64{}
				for k, from := range offs {
					for o := from; o < int64(len(logs[k])); o++ {
						out[k] = append(out[k], [2]int64{o, logs[k][o]})
					}
				}
				n.Reply(m, map[string]any{"type": "poll_ok", "msgs": out})
			case "commit_offsets":
				var offs map[string]int64
				_ = json.Unmarshal(m.Body["offsets"], &offs)
				for k, o := range offs {
					committed[k] = max(committed[k], o)
				}
				n.Reply(m, map[string]any{"type": "commit_offsets_ok"})
			case "list_committed_offsets":
				var keys []string
				_ = json.Unmarshal(m.Body["keys"], &keys)
				out := map[string]int64{}
				for _, k := range keys {
					if o, ok := committed[k]; ok {
						out[k] = o
					}
				}
				n.Reply(m, map[string]any{"type": "list_committed_offsets_ok", "offsets": out})
			}
			return nil
		}}
	})
}

// TxnSingle is a correct single-node transactional store for
// txn-rw-register and txn-list-append.
func TxnSingle() program.Program { return txnSingle(false) }

// TxnZeroDefault is TxnSingle answering 0, not null, for a register
// nobody wrote, as many Gossip Glomers solutions do.
func TxnZeroDefault() program.Program { return txnSingle(true) }

func txnSingle(zero bool) program.Program {
	return Program(func() Handlers {
		regs := map[int64]any{}
		lists := map[int64][]int64{}
		return Handlers{Handle: func(n *Node, m Msg) error {
			var ops [][]any
			d := json.NewDecoder(bytesReader(m.Body["txn"]))
			d.UseNumber()
			_ = d.Decode(&ops)
			for _, op := range ops {
				k, _ := op[1].(json.Number).Int64()
				switch op[0] {
				case "r":
					if l, ok := lists[k]; ok {
						op[2] = append([]int64{}, l...)
					} else if v, ok := regs[k]; ok || !zero {
						op[2] = v
					} else {
						op[2] = 0
					}
				case "w":
					regs[k] = op[2]
				case "append":
					v, _ := op[2].(json.Number).Int64()
					lists[k] = append(lists[k], v)
				}
			}
			n.Reply(m, map[string]any{"type": "txn_ok", "txn": ops})
			return nil
		}}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// DiskKV is a single-node lin-kv store that keeps its state in one file of
// its data directory, on the node's disk (program.IO.Storage), replaced
// atomically and fsynced on every write: [key int64][value int64] pairs,
// big-endian. It survives kills. With checksum, the file starts with the
// CRC-32C of the pairs and a damaged file makes the node refuse to start
// (it logs the error and exits); without, it serves whatever the damaged
// bytes say. With lazy it makes only every tenth write durable and
// rewrites the file in place without fsync otherwise: a killed process
// keeps those writes in the page cache, an in-process node's simulated
// disk loses them and comes back with an older state.
func DiskKV(checksum, lazy bool) program.Program {
	return func(ctx context.Context, pio program.IO) error {
		fsys := pio.Storage()
		path := filepath.Join(pio.Getenv(program.EnvDataDir), "state")
		state := map[int64]int64{}
		b, err := storage.ReadFile(fsys, path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if len(b) > 0 {
			if checksum {
				if len(b) < 4 || crc32.Checksum(b[4:], crcTable) != binary.BigEndian.Uint32(b) {
					fmt.Fprintf(pio.Stderr, "refusing to start: %s fails its checksum\n", path)
					return fmt.Errorf("%s fails its checksum", path)
				}
				b = b[4:]
			}
			for ; len(b) >= 16; b = b[16:] {
				state[int64(binary.BigEndian.Uint64(b))] = int64(binary.BigEndian.Uint64(b[8:]))
			}
		}
		saves := 0
		save := func() error {
			saves++
			keys := slices.Sorted(maps.Keys(state))
			var body []byte
			for _, k := range keys {
				body = binary.BigEndian.AppendUint64(body, uint64(k))
				body = binary.BigEndian.AppendUint64(body, uint64(state[k]))
			}
			if checksum {
				body = append(binary.BigEndian.AppendUint32(nil, crc32.Checksum(body, crcTable)), body...)
			}
			if lazy && saves%10 != 0 {
				f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					return err
				}
				_, err = f.Write(body)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				return err
			}
			return storage.WriteFileAtomic(fsys, path, body, 0o644)
		}
		return Program(func() Handlers {
			return Handlers{Handle: func(n *Node, m Msg) error {
				k := m.Int("key")
				switch m.Type() {
				case "read":
					v, ok := state[k]
					if !ok {
						n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "not found"})
						return nil
					}
					n.Reply(m, map[string]any{"type": "read_ok", "value": v})
				case "write":
					state[k] = m.Int("value")
					if err := save(); err != nil {
						return err
					}
					n.Reply(m, map[string]any{"type": "write_ok"})
				case "cas":
					v, ok := state[k]
					switch {
					case !ok:
						n.Reply(m, map[string]any{"type": "error", "code": 20, "text": "not found"})
					case v != m.Int("from"):
						n.Reply(m, map[string]any{"type": "error", "code": 22, "text": "precondition failed"})
					default:
						state[k] = m.Int("to")
						if err := save(); err != nil {
							return err
						}
						n.Reply(m, map[string]any{"type": "cas_ok"})
					}
				}
				return nil
			}}
		})(ctx, pio)
	}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)
