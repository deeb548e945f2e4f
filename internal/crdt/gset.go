package crdt

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
)

// GSet is a grow-only set; merge is union. Elements are ordered so that
// the encoded state is deterministic. The zero value is an empty set.
type GSet[T cmp.Ordered] struct {
	elems map[T]struct{}
}

// NewGSet returns a set holding elems.
func NewGSet[T cmp.Ordered](elems ...T) *GSet[T] {
	s := &GSet[T]{}
	for _, e := range elems {
		s.Add(e)
	}
	return s
}

// Add inserts e and reports whether it was new.
func (s *GSet[T]) Add(e T) bool {
	if _, ok := s.elems[e]; ok {
		return false
	}
	if s.elems == nil {
		s.elems = make(map[T]struct{})
	}
	s.elems[e] = struct{}{}
	return true
}

// Contains reports whether e is in the set.
func (s *GSet[T]) Contains(e T) bool {
	_, ok := s.elems[e]
	return ok
}

// Len returns the number of elements.
func (s *GSet[T]) Len() int { return len(s.elems) }

// Elements returns the elements in ascending order.
func (s *GSet[T]) Elements() []T { return slices.Sorted(maps.Keys(s.elems)) }

// Merge adds every element of o to s.
func (s *GSet[T]) Merge(o *GSet[T]) {
	for e := range o.elems {
		s.Add(e)
	}
}

// Missing returns the elements of s that o lacks, in ascending order: the
// delta worth sending to a peer whose state is known to be o.
func (s *GSet[T]) Missing(o *GSet[T]) []T {
	var out []T
	for e := range s.elems {
		if !o.Contains(e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Clone returns an independent copy.
func (s *GSet[T]) Clone() *GSet[T] { return &GSet[T]{elems: maps.Clone(s.elems)} }

// Equal reports whether both hold the same elements.
func (s *GSet[T]) Equal(o *GSet[T]) bool {
	return len(s.elems) == len(o.elems) && len(s.Missing(o)) == 0
}

// MarshalJSON encodes the set as a sorted array.
func (s *GSet[T]) MarshalJSON() ([]byte, error) {
	e := s.Elements()
	if e == nil {
		e = []T{}
	}
	return json.Marshal(e)
}

// UnmarshalJSON replaces the set with an encoded one.
func (s *GSet[T]) UnmarshalJSON(b []byte) error {
	var elems []T
	if err := json.Unmarshal(b, &elems); err != nil {
		return err
	}
	s.elems = nil
	for _, e := range elems {
		s.Add(e)
	}
	return nil
}
