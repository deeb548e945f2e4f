package pbft

import "encoding/json"

// Message kinds. Every message is signed by the node named in From.
const (
	KindRequest    = "request"    // client -> all replicas: an operation
	KindPrePrepare = "preprepare" // primary -> backups: request req gets sequence seq in view
	KindPrepare    = "prepare"    // backup -> all: I accept (view, seq, digest)
	KindCommit     = "commit"     // replica -> all: (view, seq, digest) is prepared at 2f+1
	KindReply      = "reply"      // replica -> client: the result of executing (client, ts)
	KindCheckpoint = "checkpoint" // replica -> all: my state after executing seq hashes to digest
	KindViewChange = "viewchange" // replica -> all: move to view, with my stable checkpoint and prepared certificates
	KindNewView    = "newview"    // new primary -> all: 2f+1 view changes and the pre-prepares they imply
)

// nullDigest is the digest of the null request that fills a sequence
// number a new view has no request for.
const nullDigest = "null"

// Msg is every protocol message; which fields matter depends on Kind.
// On the wire it is the body of a node message of type "pbft".
type Msg struct {
	Kind   string `json:"kind"`
	From   string `json:"from"` // the signer; a request's is "node#slot"
	View   uint64 `json:"view"`
	Seq    uint64 `json:"seq"`
	Digest string `json:"digest,omitempty"`
	// request
	TS uint64 `json:"ts,omitempty"`
	Op *Op    `json:"op,omitempty"`
	// preprepare: the client's signed request (nil for a null request)
	Req *Msg `json:"req,omitempty"`
	// reply
	Client string          `json:"client,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	// checkpoint: the state itself, so a lagging replica can adopt it
	State *Snapshot `json:"state,omitempty"`
	// viewchange: the 2f+1 checkpoints proving Seq stable;
	// newview: the 2f+1 view changes
	Proof []Msg `json:"proof,omitempty"`
	// viewchange: a certificate for every sequence number above Seq
	// this replica prepared
	Prepared []Cert `json:"prepared,omitempty"`
	// newview: the new view's pre-prepares
	PrePrepares []Msg  `json:"preprepares,omitempty"`
	Sig         []byte `json:"sig,omitempty"`
}

// Cert proves a request prepared: its pre-prepare and 2f matching
// prepares from distinct backups.
type Cert struct {
	PrePrepare Msg   `json:"preprepare"`
	Prepares   []Msg `json:"prepares"`
}

// Op is a lin-kv operation: read, write or cas. Keys and values are kept
// as compact JSON.
type Op struct {
	F     string          `json:"f"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
	From  json.RawMessage `json:"from,omitempty"`
	To    json.RawMessage `json:"to,omitempty"`
}

// ClientRec is the last request executed for a client slot and its
// result, so a retransmission is answered without executing twice.
type ClientRec struct {
	TS     uint64          `json:"ts"`
	Result json.RawMessage `json:"result"`
}

// Snapshot is the replicated state: the key-value map and the client
// table. Checkpoints hash it.
type Snapshot struct {
	KV      map[string]json.RawMessage `json:"kv"`
	Clients map[string]ClientRec       `json:"clients"`
}

func (s Snapshot) clone() Snapshot {
	c := Snapshot{KV: make(map[string]json.RawMessage, len(s.KV)), Clients: make(map[string]ClientRec, len(s.Clients))}
	for k, v := range s.KV {
		c.KV[k] = v
	}
	for k, v := range s.Clients {
		c.Clients[k] = v
	}
	return c
}
