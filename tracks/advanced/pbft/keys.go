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
// names in From. A request is signed by its client's own key, which its
// From carries: "node/hexpubkey#slot".
func (k *Keyring) Verify(m Msg) bool {
	if len(m.Sig) != ed25519.SignatureSize {
		return false
	}
	var pub ed25519.PublicKey
	if m.Kind == KindRequest {
		pub = clientKey(m.From)
	} else {
		pub = k.pubs[m.From]
	}
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, signedBytes(m), m.Sig)
}

// clientKey reads the public key out of a client slot's name.
func clientKey(slot string) ed25519.PublicKey {
	_, rest, ok := strings.Cut(slot, "/")
	if !ok {
		return nil
	}
	h, _, ok := strings.Cut(rest, "#")
	if !ok {
		return nil
	}
	pub, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	return pub
}

// clientPriv is the key a node's client half signs its requests with,
// one per incarnation (epoch). It is not the node's key: the grader's
// byzantine fault, having taken the node over, re-signs with the node's
// key, and the client's requests stay the client's.
func (k *Keyring) clientPriv(epoch uint64) ed25519.PrivateKey {
	h := sha256.New()
	h.Write([]byte("pbft client key"))
	h.Write(k.priv.Seed())
	var e [8]byte
	for i := range e {
		e[i] = byte(epoch >> (8 * i))
	}
	h.Write(e[:])
	return ed25519.NewKeyFromSeed(h.Sum(nil))
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
