package memtree

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The tree against a sorted slice: same contents after every change, same
// answers to Get, and the same range scans.
func TestTreeMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tr := New(rapid.IntRange(2, 5).Draw(t, "degree"), func(a, b int) bool { return a < b })
		model := map[int]bool{}
		keys := rapid.IntRange(0, 200)
		for range rapid.IntRange(0, 400).Draw(t, "steps") {
			k := keys.Draw(t, "key")
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0, 1:
				_, replaced := tr.Set(k)
				if replaced != model[k] {
					t.Fatalf("Set(%d) replaced=%v, model has it: %v", k, replaced, model[k])
				}
				model[k] = true
			case 2:
				_, ok := tr.Delete(k)
				if ok != model[k] {
					t.Fatalf("Delete(%d) = %v, model has it: %v", k, ok, model[k])
				}
				delete(model, k)
			}
			if tr.Len() != len(model) {
				t.Fatalf("Len %d, model %d", tr.Len(), len(model))
			}
		}
		var want []int
		for k := range model {
			want = append(want, k)
		}
		slices.Sort(want)
		from := keys.Draw(t, "from")
		var got []int
		tr.Ascend(from, false, func(k int) bool { got = append(got, k); return true })
		i, _ := slices.BinarySearchFunc(want, from, cmp.Compare)
		if !slices.Equal(got, want[i:]) {
			t.Fatalf("Ascend(%d) = %v, want %v", from, got, want[i:])
		}
		for k := range 201 {
			if _, ok := tr.Get(k); ok != model[k] {
				t.Fatalf("Get(%d) = %v, model %v", k, ok, model[k])
			}
		}
	})
}
