package nemesis

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The lies of the byzantine fault, one per message a liar sends to
// another node.
const (
	LieForge      = "forge"      // sent as another node: network src and every field naming the liar changed to it
	LieReplay     = "replay"     // an older message of the liar's sent again, before the real one
	LieEquivocate = "equivocate" // a field mutated differently for each recipient
	LieMutate     = "mutate"     // one field changed (a number, a letter of a string, a digest, a signature)
	LieResign     = "resign"     // a field changed and the body signed again with the liar's own key
	LieSilence    = "silence"    // dropped
	LieMalformed  = "malformed"  // a field given the wrong type
	// LieTamper changes one number of the payload, never the protocol's
	// own fields: a number inside base64-encoded JSON (data the protocol
	// carries for the application, such as a log entry's command) or in
	// an object nested in the body (a request's op, a reply's result),
	// never one at the top level or in an array's objects (terms,
	// indexes, views, an entry's position). A body without one passes
	// unchanged. The protocol runs on; what it replicates is wrong.
	LieTamper = "tamper"
	// LieTamperResign is LieTamper, then the body signed again with the
	// liar's own key, as LieResign does.
	LieTamperResign = "tamper-resign"
	// LieTruth passes the message on as it is: a liar that tells the
	// truth now and then is still a liar, and an f+1 coalition that
	// signs its lies must keep the protocol going to profit from them.
	// Not among the default lies.
	LieTruth = "truth"
)

// Lies lists every lie the fault tells by default.
var Lies = []string{LieForge, LieReplay, LieEquivocate, LieMutate, LieResign, LieSilence, LieMalformed, LieTamper, LieTamperResign}

// Tamperer is implemented by an Env that lets a Tamper rewrite what some
// nodes send to other nodes (nil: nobody lies).
type Tamperer interface {
	SetTamper(t *Tamper)
}

// Byzantine takes over Count nodes (0: f = (n-1)/3) and makes what they
// send to other nodes lie. Start picks the liars anew, the node the
// traffic shows leading first; Stop makes them honest again. The nodes'
// own code runs on unchanged: only their outgoing node-to-node messages
// are rewritten (replies to clients stay honest).
type Byzantine struct {
	Count int
	Lies  []string // nil: all
	cur   *Tamper
}

// Name returns "byzantine".
func (*Byzantine) Name() string { return "byzantine" }

// Liars is how many nodes the fault takes over among n.
func (b *Byzantine) Liars(n int) int {
	if b.Count > 0 {
		return min(b.Count, n)
	}
	return (n - 1) / 3
}

// Start picks the liars and installs their tamper; the value is the
// liars, sorted.
func (b *Byzantine) Start(_ context.Context, env Env, rng *rand.Rand) (string, any, error) {
	tam, ok := env.(Tamperer)
	if !ok {
		return "start-byzantine", nil, errors.New("this runner cannot rewrite nodes' messages")
	}
	nodes := env.Nodes()
	k := b.Liars(len(nodes))
	var liars []string
	if lg, ok := env.(LeaderGuesser); ok && k > 0 {
		if l := lg.Leader(); l != "" && slices.Contains(nodes, l) {
			liars = append(liars, l)
		}
	}
	rest := slices.Clone(nodes)
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for _, id := range rest {
		if len(liars) < k && !slices.Contains(liars, id) {
			liars = append(liars, id)
		}
	}
	sort.Strings(liars)
	lies := b.Lies
	if len(lies) == 0 {
		lies = Lies
	}
	b.cur = NewTamper(liars, nodes, lies, rng.Uint64())
	tam.SetTamper(b.cur)
	return "start-byzantine", liars, nil
}

// Stop makes every node honest again; the value counts the lies told.
func (b *Byzantine) Stop(_ context.Context, env Env) (string, any, error) {
	if tam, ok := env.(Tamperer); ok {
		tam.SetTamper(nil)
	}
	var told map[string]int
	if b.cur != nil {
		told = b.cur.Told()
	}
	b.cur = nil
	return "stop-byzantine", told, nil
}

// ParseLies checks a --byzantine-lies list.
func ParseLies(list string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(list, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !slices.Contains(Lies, l) && l != LieTruth {
			return nil, fmt.Errorf("unknown lie %q (known: %s, %s)", l, strings.Join(Lies, ", "), LieTruth)
		}
		out = append(out, l)
	}
	return out, nil
}

// ConfigureByzantine returns faults with every Byzantine fault given the
// count and lies (--byzantine-count, --byzantine-lies).
func ConfigureByzantine(faults []Fault, count int, lies []string) []Fault {
	out := make([]Fault, len(faults))
	for i, f := range faults {
		if _, ok := f.(*Byzantine); ok {
			f = &Byzantine{Count: count, Lies: lies}
		}
		out[i] = f
	}
	return out
}

// Forward is one message a Tamper lets through, perhaps rewritten.
type Forward struct {
	Src, Dest string
	Body      json.RawMessage
}

// Tamper rewrites the messages liars send to other nodes. Which lie a
// message gets, and how a field changes, follow from the seed and the
// message's content (without its sender's name and signature), so a seed
// replays the same lies, and two liars relaying one message tell the same
// lie about it. A replay draws from the liar's own past messages.
type Tamper struct {
	liars map[string]bool
	nodes []string
	lies  []string
	seed  uint64

	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey
	past map[string][]json.RawMessage // liar -> recent bodies
	told map[string]int
}

// NewTamper makes liars lie with the given lies.
func NewTamper(liars, nodes, lies []string, seed uint64) *Tamper {
	t := &Tamper{liars: map[string]bool{}, nodes: slices.Clone(nodes), lies: slices.Clone(lies), seed: seed,
		past: map[string][]json.RawMessage{}, told: map[string]int{}}
	for _, l := range liars {
		t.liars[l] = true
	}
	return t
}

// SetKeys gives the tamper the private keys of the nodes it took over,
// for LieResign (the grader handed them out, so it holds them).
func (t *Tamper) SetKeys(keys map[string]ed25519.PrivateKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys = keys
}

// Lies reports whether node is one of the liars.
func (t *Tamper) Lies(node string) bool { return t.liars[node] }

// Told counts the lies told so far, by kind.
func (t *Tamper) Told() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.told))
	for k, v := range t.told {
		out[k] = v
	}
	return out
}

const pastKept = 64

// Apply rewrites one message from a liar to dest and returns what to
// send instead.
func (t *Tamper) Apply(src, dest string, body json.RawMessage) []Forward {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hash(body, "")
	rng := rand.New(rand.NewPCG(h, t.seed))
	lie := t.lies[rng.IntN(len(t.lies))]
	t.told[lie]++
	past := t.past[src]
	t.past[src] = append(past, body)
	if len(t.past[src]) > pastKept {
		t.past[src] = t.past[src][1:]
	}
	switch lie {
	case LieSilence:
		return nil
	case LieForge:
		others := make([]string, 0, len(t.nodes))
		for _, n := range t.nodes {
			if n != src && n != dest {
				others = append(others, n)
			}
		}
		if len(others) == 0 {
			return nil
		}
		as := others[rng.IntN(len(others))]
		return []Forward{{as, dest, replaceName(body, src, as)}}
	case LieReplay:
		out := []Forward{}
		if len(past) > 0 {
			out = append(out, Forward{src, dest, past[rng.IntN(len(past))]})
		}
		return append(out, Forward{src, dest, body})
	case LieEquivocate:
		r := rand.New(rand.NewPCG(t.hash(body, dest), t.seed))
		return []Forward{{src, dest, mutate(body, r, false, nil)}}
	case LieMutate:
		return []Forward{{src, dest, mutate(body, rng, false, nil)}}
	case LieResign:
		return []Forward{{src, dest, mutate(body, rng, false, t.keys[src])}}
	case LieMalformed:
		return []Forward{{src, dest, mutate(body, rng, true, nil)}}
	case LieTamper:
		return []Forward{{src, dest, tamper(body, rng, nil)}}
	case LieTamperResign:
		return []Forward{{src, dest, tamper(body, rng, t.keys[src])}}
	}
	return []Forward{{src, dest, body}}
}

// hash digests a body without the fields that name or authenticate its
// sender, plus salt.
func (t *Tamper) hash(body json.RawMessage, salt string) uint64 {
	var m map[string]any
	b := []byte(body)
	if decode(body, &m) == nil {
		delete(m, "from")
		delete(m, "sig")
		delete(m, "msg_id")
		if c, err := json.Marshal(m); err == nil {
			b = c
		}
	}
	s := sha256.Sum256(append(append(b, 0), salt...))
	return binary.LittleEndian.Uint64(s[:8])
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// replaceName rewrites every string equal to old (anywhere in the body)
// to name.
func replaceName(body json.RawMessage, old, name string) json.RawMessage {
	var v any
	if decode(body, &v) != nil {
		return body
	}
	var walk func(any) any
	walk = func(x any) any {
		switch y := x.(type) {
		case map[string]any:
			for k, e := range y {
				y[k] = walk(e)
			}
		case []any:
			for i, e := range y {
				y[i] = walk(e)
			}
		case string:
			if y == old {
				return name
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return body
	}
	return out
}

// A leaf is one scalar of a body, with a way to replace it.
type leaf struct {
	depth int
	val   any
	set   func(any)
	// payload: inside base64-encoded JSON, or reached from the top
	// through objects only, below the top level (what LieTamper may
	// change).
	payload bool
}

// leaves lists a body's scalars in a fixed order. Strings holding
// base64 of a JSON object or array (how Go encodes []byte payloads) are
// opened, so a lie reaches the command inside a log entry. Types (at
// any depth: a lie should reach the handler), ids, the sender's name and
// its signature are left out.
func leaves(v any, depth int, set func(any), out *[]leaf) {
	walkLeaves(v, depth, set, false, false, out)
}

// walkLeaves is leaves; encoded says v lies inside base64-encoded JSON,
// inArray that the path to v passed through an array.
func walkLeaves(v any, depth int, set func(any), encoded, inArray bool, out *[]leaf) {
	payload := encoded || (depth >= 2 && !inArray)
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "from" || k == "sig" || k == "type" || depth == 0 && (k == "msg_id" || k == "in_reply_to") {
				continue
			}
			walkLeaves(x[k], depth+1, func(n any) { x[k] = n }, encoded, inArray, out)
		}
	case []any:
		for i := range x {
			walkLeaves(x[i], depth+1, func(n any) { x[i] = n }, encoded, true, out)
		}
	case string:
		if inner, ok := embedded(x); ok {
			var sub []leaf
			walkLeaves(inner, depth+1, func(any) {}, true, inArray, &sub)
			for _, l := range sub {
				l := l
				*out = append(*out, leaf{depth: l.depth, val: l.val, payload: l.payload, set: func(n any) {
					l.set(n)
					if b, err := json.Marshal(inner); err == nil {
						set(base64.StdEncoding.EncodeToString(b))
					}
				}})
			}
			return
		}
		*out = append(*out, leaf{depth, x, set, payload})
	default:
		*out = append(*out, leaf{depth, x, set, payload})
	}
}

func embedded(s string) (any, bool) {
	if len(s) < 4 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return nil, false
	}
	var v any
	if decode(b, &v) != nil {
		return nil, false
	}
	return v, true
}

// mutate changes one scalar of body: among the deepest ones, since the
// payload is what a liar wants to change. malformed gives it the wrong
// type instead; with key, the body is signed again (a top-level "sig":
// base64 ed25519 over the body's JSON without sig, keys sorted).
func mutate(body json.RawMessage, rng *rand.Rand, malformed bool, key ed25519.PrivateKey) json.RawMessage {
	var v any
	if decode(body, &v) != nil {
		return body
	}
	var all []leaf
	leaves(v, 0, func(any) {}, &all)
	if len(all) == 0 {
		return body
	}
	deepest := 0
	for _, l := range all {
		deepest = max(deepest, l.depth)
	}
	var pick []leaf
	for _, l := range all {
		if l.depth == deepest || malformed {
			pick = append(pick, l)
		}
	}
	l := pick[rng.IntN(len(pick))]
	if malformed {
		switch l.val.(type) {
		case string:
			l.set([]any{json.Number("1")})
		default:
			l.set("???")
		}
	} else {
		l.set(changed(l.val, rng))
	}
	return encode(v, body, key)
}

// encode marshals the rewritten body v (body if that fails), signed again
// with key if it is not nil and the body was signed: a top-level "sig",
// base64 ed25519 over the body's JSON without sig, keys sorted.
func encode(v any, body json.RawMessage, key ed25519.PrivateKey) json.RawMessage {
	if m, ok := v.(map[string]any); ok && key != nil {
		if _, signed := m["sig"]; signed {
			delete(m, "sig")
			if b, err := json.Marshal(m); err == nil {
				m["sig"] = base64.StdEncoding.EncodeToString(ed25519.Sign(key, b))
			}
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// tamper changes one number of body's payload (see LieTamper), among the
// deepest such numbers, and signs the body again with key if not nil.
// A body without a payload number is returned as it is.
func tamper(body json.RawMessage, rng *rand.Rand, key ed25519.PrivateKey) json.RawMessage {
	var v any
	if decode(body, &v) != nil {
		return body
	}
	var all []leaf
	leaves(v, 0, func(any) {}, &all)
	var pick []leaf
	deepest := 0
	for _, l := range all {
		if _, num := l.val.(json.Number); !num || !l.payload {
			continue
		}
		if l.depth > deepest {
			deepest, pick = l.depth, pick[:0]
		}
		if l.depth == deepest {
			pick = append(pick, l)
		}
	}
	if len(pick) == 0 {
		return body
	}
	l := pick[rng.IntN(len(pick))]
	l.set(changed(l.val, rng))
	return encode(v, body, key)
}

// changed returns a different value of the same type.
func changed(v any, rng *rand.Rand) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return json.Number(fmt.Sprint(i + 1 + rng.Int64N(3)))
		}
		return json.Number(string(x) + "1")
	case string:
		if x == "" {
			return "x"
		}
		b := []byte(x)
		i := rng.IntN(len(b))
		const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
		c := alnum[rng.IntN(len(alnum))]
		if c == b[i] {
			c = alnum[(strings.IndexByte(alnum, c)+1)%len(alnum)]
		}
		b[i] = c
		return string(b)
	case bool:
		return !x
	}
	return json.Number("1")
}
