package canary

import "testing"

func TestRule(t *testing.T) {
	r := Rule{Window: 20, MinRequests: 10, MaxErrorRate: 0.2}
	// A healthy canary (one error in ten) never trips, however long it runs.
	w := NewWatch(r)
	for i := range 1000 {
		if w.Observe(i%10 == 0) {
			t.Fatalf("healthy canary tripped at request %d (rate %.2f)", i, w.ErrorRate())
		}
	}
	// A faulty one (every other request fails) trips once it has seen
	// MinRequests, not before.
	w = NewWatch(r)
	for i := range 9 {
		if w.Observe(i%2 == 0) {
			t.Fatalf("tripped after %d requests, before MinRequests", i+1)
		}
	}
	if !w.Observe(true) || w.TripSeen != 10 {
		t.Fatalf("faulty canary: tripped %v at %d; want at 10", w.Tripped, w.TripSeen)
	}
	if !w.Observe(false) {
		t.Fatal("a tripped rule untripped")
	}
	// Old errors leave the window: a burst at the start followed by
	// healthy traffic does not trip later.
	w = NewWatch(Rule{Window: 10, MinRequests: 10, MaxErrorRate: 0.5})
	for i := range 5 {
		w.Observe(i < 5)
	}
	for range 100 {
		if w.Observe(false) {
			t.Fatal("errors that left the window tripped the rule")
		}
	}
	if w.ErrorRate() != 0 {
		t.Fatalf("rate %v", w.ErrorRate())
	}
}
