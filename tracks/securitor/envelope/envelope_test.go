package envelope

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

func keks(ids ...string) map[string][]byte {
	m := map[string][]byte{}
	for _, id := range ids {
		k := make([]byte, KeySize)
		_, _ = rand.Read(k)
		m[id] = k
	}
	return m
}

func TestSealOpenAndNoPlaintext(t *testing.T) {
	kr, err := NewKeyring(keks("k1"), "k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("the launch code is 0000")
	s, err := kr.Seal(plain, "key-7")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Ciphertext, plain) || bytes.Contains(s.DataKey, plain) {
		t.Fatal("plaintext visible in the sealed value")
	}
	got, err := kr.Open(s)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Moved to another record: the AAD no longer matches.
	moved := s
	moved.AAD = "key-8"
	if _, err := kr.Open(moved); err == nil {
		t.Fatal("a ciphertext moved to another record opened")
	}
	// Tampered ciphertext.
	bad := s
	bad.Ciphertext = append([]byte(nil), s.Ciphertext...)
	bad.Ciphertext[len(bad.Ciphertext)-1] ^= 1
	if _, err := kr.Open(bad); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
}

// TestRotationLosesNothing seals values under k1, rotates to k2, re-wraps
// them all, retires k1, and opens every one.
func TestRotationLosesNothing(t *testing.T) {
	all := keks("k1", "k2")
	kr, _ := NewKeyring(all, "k1", nil)
	var sealed []Sealed
	for i := range 100 {
		s, err := kr.Seal([]byte(fmt.Sprint("value-", i)), fmt.Sprint("key-", i))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	if err := kr.SetActive("k2"); err != nil {
		t.Fatal(err)
	}
	for i, s := range sealed {
		r, err := kr.Rewrap(s)
		if err != nil {
			t.Fatal(err)
		}
		if r.KEK != "k2" || !bytes.Equal(r.Ciphertext, s.Ciphertext) {
			t.Fatalf("rewrap changed the wrong thing: %+v", r)
		}
		sealed[i] = r
	}
	delete(all, "k1") // retired: nothing may still need it
	for i, s := range sealed {
		got, err := kr.Open(s)
		if err != nil || string(got) != fmt.Sprint("value-", i) {
			t.Fatalf("value %d after rotation: %q, %v", i, got, err)
		}
	}
	old := Sealed{KEK: "k1"}
	if _, err := kr.Open(old); !errors.Is(err, ErrUnknownKEK) {
		t.Fatalf("retired KEK: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	if _, err := NewKeyring(map[string][]byte{"k": make([]byte, 16)}, "k", nil); err == nil {
		t.Fatal("16-byte KEK accepted")
	}
	if _, err := NewKeyring(keks("k1"), "k9", nil); !errors.Is(err, ErrUnknownKEK) {
		t.Fatalf("unknown active KEK: %v", err)
	}
}
