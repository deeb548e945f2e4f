package pbft

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Keyring holds a node's own ed25519 private key and every node's public
// key. Signatures, not MACs: a view change forwards other replicas'
// prepares and checkpoints to third parties as proofs, and only a
// signature convinces a replica that was not the message's addressee.
type Keyring struct {
	self string
	priv ed25519.PrivateKey
	pubs map[string]ed25519.PublicKey
}

// NewKeyring builds a keyring from this node's private key and the
// public keys of all nodes.
func NewKeyring(self string, priv ed25519.PrivateKey, pubs map[string]ed25519.PublicKey) *Keyring {
	return &Keyring{self: self, priv: priv, pubs: pubs}
}

// ParseKeys reads the keys as the grader hands them out: the node's
// private key seed in hex, and "id:hexpub,id:hexpub,...".
func ParseKeys(self, seedHex, pubList string) (*Keyring, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("pbft: bad private key seed (want %d bytes of hex)", ed25519.SeedSize)
	}
	pubs := map[string]ed25519.PublicKey{}
	for _, item := range strings.Split(pubList, ",") {
		id, h, ok := strings.Cut(item, ":")
		if !ok {
			continue
		}
		pub, err := hex.DecodeString(h)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("pbft: bad public key for %s", id)
		}
		pubs[id] = pub
	}
	if len(pubs) == 0 {
		return nil, errors.New("pbft: no public keys")
	}
	return NewKeyring(self, ed25519.NewKeyFromSeed(seed), pubs), nil
}

// signedBytes is what a signature covers: the message as it goes on the
// wire ({"type":"pbft", ...}) without its "sig", in canonical JSON
// (compact, object keys sorted). The convention is the grader's: having
// taken a node over, its byzantine fault holds the node's key and signs
// its lies the same way.
func signedBytes(m Msg) []byte {
	m.Sig = nil
	b, err := json.Marshal(wireMsg{Type: "pbft", Msg: m})
	if err != nil {
		panic(err) // a Msg always encodes
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		panic(err)
	}
	if b, err = json.Marshal(v); err != nil {
		panic(err)
	}
	return b
}

// Sign sets m.From to this node and signs it.
func (k *Keyring) Sign(m Msg) Msg {
	m.From = k.self
	m.Sig = ed25519.Sign(k.priv, signedBytes(m))
	return m
}

// Verify reports whether m carries a valid signature of the node it
// names in From. A request's From is "node#slot": the node signs.
func (k *Keyring) Verify(m Msg) bool {
	signer, _, _ := strings.Cut(m.From, "#")
	pub, ok := k.pubs[signer]
	if !ok || len(m.Sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, signedBytes(m), m.Sig)
}

// digest is the hex SHA-256 of v's JSON encoding.
func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signWith signs m as it stands (its From already set).
func signWith(k *Keyring, m Msg) []byte { return ed25519.Sign(k.priv, signedBytes(m)) }
