package pbft

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Client is the client half of a node: it turns an operation into a
// request signed with a key of its own sent to every replica and accepts a result once f+1
// replicas (so at least one correct one) sent the same bytes. Each
// outstanding operation uses a slot of its own ("node/key#slot"), because a
// replica executes a slot's requests in timestamp order and remembers
// only the last.
type Client struct {
	id    string
	ids   []string
	f     int
	keys  *Keyring
	priv  ed25519.PrivateKey // signs requests; its public half is in every slot's name
	name  string             // "node/hexpubkey"
	epoch uint64             // timestamps start here, so a restarted node never reuses one
	ts    uint64
	slots []*call // nil: free
	ticks uint64
	// ResendTicks: an unanswered request is sent again this often.
	ResendTicks uint64
}

type call struct {
	req     Msg
	sent    uint64
	replies map[string][]byte
}

// NewClient returns a client for node id. epoch must exceed every
// timestamp an earlier incarnation of the node used (the driver passes
// the clock's nanoseconds at start).
func NewClient(id string, ids []string, keys *Keyring, epoch uint64) *Client {
	priv := keys.clientPriv(epoch)
	name := id + "/" + hex.EncodeToString(priv.Public().(ed25519.PublicKey))
	return &Client{id: id, ids: ids, f: (len(ids) - 1) / 3, keys: keys, priv: priv, name: name, epoch: epoch, ResendTicks: 20}
}

// Submit starts an operation; it returns the slot that identifies it
// and the request to send to every replica (To "*": all, this node
// included).
func (c *Client) Submit(op Op) (slot string, out []Out) {
	i := 0
	for i < len(c.slots) && c.slots[i] != nil {
		i++
	}
	if i == len(c.slots) {
		c.slots = append(c.slots, nil)
	}
	c.ts++
	slot = fmt.Sprintf("%s#%d", c.name, i)
	req := Msg{Kind: KindRequest, From: slot, TS: c.epoch + c.ts, Op: &op}
	req.Sig = ed25519.Sign(c.priv, signedBytes(req))
	c.slots[i] = &call{req: req, sent: c.ticks, replies: map[string][]byte{}}
	return slot, c.broadcast(req)
}

func (c *Client) broadcast(m Msg) []Out {
	out := make([]Out, 0, len(c.ids))
	for _, id := range c.ids {
		out = append(out, Out{To: id, M: m})
	}
	return out
}

// Cancel frees a slot whose caller gave up; a late reply is ignored.
func (c *Client) Cancel(slot string) {
	if i := c.index(slot); i >= 0 {
		c.slots[i] = nil
	}
}

func (c *Client) index(slot string) int {
	name, n, ok := strings.Cut(slot, "#")
	if !ok || name != c.name {
		return -1
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(c.slots) {
		return -1
	}
	return i
}

// OnReply takes a replica's reply; once f+1 replicas agree it returns
// the slot and the result, and frees the slot.
func (c *Client) OnReply(m Msg) (slot string, result []byte, done bool) {
	if m.Kind != KindReply || !c.keys.Verify(m) {
		return "", nil, false
	}
	i := c.index(m.Client)
	if i < 0 || c.slots[i] == nil || c.slots[i].req.TS != m.TS {
		return "", nil, false
	}
	call := c.slots[i]
	call.replies[m.From] = m.Result
	n := 0
	for _, r := range call.replies {
		if bytes.Equal(r, m.Result) {
			n++
		}
	}
	if n < c.f+1 {
		return "", nil, false
	}
	c.slots[i] = nil
	return m.Client, m.Result, true
}

// Tick resends requests that waited ResendTicks without an answer.
func (c *Client) Tick() []Out {
	c.ticks++
	var out []Out
	for _, call := range c.slots {
		if call != nil && c.ticks-call.sent >= c.ResendTicks {
			call.sent = c.ticks
			out = append(out, c.broadcast(call.req)...)
		}
	}
	return out
}
