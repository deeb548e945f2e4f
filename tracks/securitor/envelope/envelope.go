// Package envelope encrypts values the way a key-management service does:
// each value under a fresh AES-256-GCM data key, and that data key
// wrapped (encrypted) under a key-encryption key (KEK) that never touches
// the disk. Rotating the KEK re-wraps the data keys only; the values'
// ciphertexts stay as they are, so rotation is cheap and loses nothing.
// The securitor node keeps every stored value as a Sealed.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// KeySize is the size of KEKs and data keys: AES-256.
const KeySize = 32

// Sealed is one encrypted value. Every field is safe to store.
type Sealed struct {
	KEK        string `json:"kek"` // id of the KEK that wraps DataKey
	DataKey    []byte `json:"dek"` // nonce || GCM(KEK, data key)
	Ciphertext []byte `json:"ct"`  // nonce || GCM(data key, value)
	AAD        string `json:"aad"` // bound into both seals: the record's name
}

// Keyring holds the KEKs by id and which one wraps new data keys.
type Keyring struct {
	keks   map[string][]byte
	active string
	rand   io.Reader
}

// ErrUnknownKEK is returned for a Sealed whose KEK the keyring lacks.
var ErrUnknownKEK = errors.New("envelope: unknown key-encryption key")

// NewKeyring returns a keyring over keks (id → 32-byte key) with active
// wrapping new data keys. random supplies data keys and nonces
// (crypto/rand.Reader when nil).
func NewKeyring(keks map[string][]byte, active string, random io.Reader) (*Keyring, error) {
	for id, k := range keks {
		if len(k) != KeySize {
			return nil, fmt.Errorf("envelope: KEK %q is %d bytes, want %d", id, len(k), KeySize)
		}
	}
	if random == nil {
		random = rand.Reader
	}
	kr := &Keyring{keks: keks, rand: random}
	return kr, kr.SetActive(active)
}

// Active returns the id of the KEK that wraps new data keys.
func (k *Keyring) Active() string { return k.active }

// SetActive makes id the KEK for new data keys (the first half of a
// rotation; Rewrap is the second).
func (k *Keyring) SetActive(id string) error {
	if _, ok := k.keks[id]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownKEK, id)
	}
	k.active = id
	return nil
}

func (k *Keyring) seal(key, plain []byte, aad string) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, plain, []byte(aad)), nil
}

func open(key, sealed []byte, aad string) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, errors.New("envelope: sealed data too short")
	}
	n := g.NonceSize()
	plain, err := g.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("envelope: authentication failed (wrong key or tampered data)")
	}
	return plain, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plain under a fresh data key wrapped by the active KEK.
// aad (e.g. the key name) is authenticated: a ciphertext moved to another
// record fails to open.
func (k *Keyring) Seal(plain []byte, aad string) (Sealed, error) {
	dek := make([]byte, KeySize)
	if _, err := io.ReadFull(k.rand, dek); err != nil {
		return Sealed{}, err
	}
	ct, err := k.seal(dek, plain, aad)
	if err != nil {
		return Sealed{}, err
	}
	wrapped, err := k.seal(k.keks[k.active], dek, aad)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{KEK: k.active, DataKey: wrapped, Ciphertext: ct, AAD: aad}, nil
}

func (k *Keyring) unwrap(s Sealed) ([]byte, error) {
	kek, ok := k.keks[s.KEK]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKEK, s.KEK)
	}
	return open(kek, s.DataKey, s.AAD)
}

// Open decrypts a Sealed.
func (k *Keyring) Open(s Sealed) ([]byte, error) {
	dek, err := k.unwrap(s)
	if err != nil {
		return nil, err
	}
	return open(dek, s.Ciphertext, s.AAD)
}

// Rewrap returns s with its data key wrapped by the active KEK instead:
// the value's ciphertext is untouched, so a rotation rewrites small keys,
// not the data.
func (k *Keyring) Rewrap(s Sealed) (Sealed, error) {
	if s.KEK == k.active {
		return s, nil
	}
	dek, err := k.unwrap(s)
	if err != nil {
		return s, err
	}
	wrapped, err := k.seal(k.keks[k.active], dek, s.AAD)
	if err != nil {
		return s, err
	}
	s.KEK, s.DataKey = k.active, wrapped
	return s, nil
}
