package maelstrom

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/nemesis"
)

// nodeKeys hands every node an ed25519 key pair for authenticating its
// messages to other nodes: its own private key seed and all nodes' public
// keys, in the environment (program.EnvNodeKey, program.EnvNodeKeys). The
// keys follow from the run's seed, so a seed replays them; the byzantine
// fault never uses them, so what it forges carries no valid signature.
func nodeKeys(seed uint64, ids []string) map[string]map[string]string {
	seeds := map[string][]byte{}
	pubs := make([]string, 0, len(ids))
	for _, id := range ids {
		s := sha256.Sum256([]byte(fmt.Sprintf("maelstrom node key %d %s", seed, id)))
		seeds[id] = s[:ed25519.SeedSize]
		pub := ed25519.NewKeyFromSeed(seeds[id]).Public().(ed25519.PublicKey)
		pubs = append(pubs, id+":"+hex.EncodeToString(pub))
	}
	all := strings.Join(pubs, ",")
	out := map[string]map[string]string{}
	for _, id := range ids {
		out[id] = map[string]string{program.EnvNodeKey: hex.EncodeToString(seeds[id]), program.EnvNodeKeys: all}
	}
	return out
}

// SetTamper installs the byzantine nemesis's rewriting of its liars'
// messages (nemesis.Tamperer), nil to stop it. The tamper gets the
// private keys the grader handed out: it took those nodes over.
func (e *faultEnv) SetTamper(t *nemesis.Tamper) {
	if t != nil {
		privs := map[string]ed25519.PrivateKey{}
		for id, env := range e.r.cl.keys {
			if seed, err := hex.DecodeString(env[program.EnvNodeKey]); err == nil && len(seed) == ed25519.SeedSize {
				privs[id] = ed25519.NewKeyFromSeed(seed)
			}
		}
		t.SetKeys(privs)
	}
	e.r.cl.tamper.Store(t)
}
