// Package memtree is an in-memory B-Tree: an ordered set of items under a
// caller's less function, with point lookups, inserts, deletes and range
// scans in O(log n).
//
// It is the indexes track's in-memory engine core and the LSM tree's
// memtable. Nodes hold between degree-1 and 2*degree-1 items (the root
// may hold fewer); inserts split full nodes on the way down and deletes
// top up thin nodes on the way down, so every change is one pass from the
// root, as in Cormen et al.'s B-Tree.
package memtree

// Tree is a B-Tree of items of type T. The zero value is not usable: call
// New. A Tree is not safe for concurrent use.
type Tree[T any] struct {
	less   func(a, b T) bool
	degree int
	root   *node[T]
	length int
}

type node[T any] struct {
	items    []T
	children []*node[T] // nil for a leaf
}

// New returns an empty tree. degree (at least 2) sets the node size:
// nodes hold up to 2*degree-1 items; 32 suits most item sizes.
func New[T any](degree int, less func(a, b T) bool) *Tree[T] {
	if degree < 2 {
		degree = 2
	}
	return &Tree[T]{less: less, degree: degree}
}

// Len is the number of items.
func (t *Tree[T]) Len() int { return t.length }

func (t *Tree[T]) maxItems() int { return 2*t.degree - 1 }
func (t *Tree[T]) minItems() int { return t.degree - 1 }

// find returns the index of the first item not less than x, and whether
// it equals x.
func (t *Tree[T]) find(n *node[T], x T) (int, bool) {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.less(n.items[m], x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.items) && !t.less(x, n.items[lo])
}

// Get returns the item equal to x.
func (t *Tree[T]) Get(x T) (T, bool) {
	n := t.root
	for n != nil {
		i, found := t.find(n, x)
		if found {
			return n.items[i], true
		}
		if n.children == nil {
			break
		}
		n = n.children[i]
	}
	var zero T
	return zero, false
}

// Set inserts x, or replaces the item equal to it, which it returns.
func (t *Tree[T]) Set(x T) (old T, replaced bool) {
	if t.root == nil {
		t.root = &node[T]{items: make([]T, 0, t.maxItems())}
		t.root.items = append(t.root.items, x)
		t.length++
		return old, false
	}
	if len(t.root.items) >= t.maxItems() {
		mid, right := t.split(t.root)
		t.root = &node[T]{items: []T{mid}, children: []*node[T]{t.root, right}}
	}
	old, replaced = t.insert(t.root, x)
	if !replaced {
		t.length++
	}
	return old, replaced
}

// split halves a full node: it keeps the left half and returns the middle
// item and the right half.
func (t *Tree[T]) split(n *node[T]) (T, *node[T]) {
	i := len(n.items) / 2
	mid := n.items[i]
	right := &node[T]{items: make([]T, 0, t.maxItems())}
	right.items = append(right.items, n.items[i+1:]...)
	clear(n.items[i:])
	n.items = n.items[:i]
	if n.children != nil {
		right.children = make([]*node[T], 0, t.maxItems()+1)
		right.children = append(right.children, n.children[i+1:]...)
		clear(n.children[i+1:])
		n.children = n.children[:i+1]
	}
	return mid, right
}

func (t *Tree[T]) insert(n *node[T], x T) (T, bool) {
	for {
		i, found := t.find(n, x)
		if found {
			old := n.items[i]
			n.items[i] = x
			return old, true
		}
		if n.children == nil {
			n.items = insertAt(n.items, i, x)
			var zero T
			return zero, false
		}
		if len(n.children[i].items) >= t.maxItems() {
			mid, right := t.split(n.children[i])
			n.items = insertAt(n.items, i, mid)
			n.children = insertAt(n.children, i+1, right)
			switch {
			case t.less(x, mid):
			case t.less(mid, x):
				i++
			default:
				old := n.items[i]
				n.items[i] = x
				return old, true
			}
		}
		n = n.children[i]
	}
}

func insertAt[E any](s []E, i int, x E) []E {
	var zero E
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

func removeAt[E any](s []E, i int) ([]E, E) {
	x := s[i]
	copy(s[i:], s[i+1:])
	var zero E
	s[len(s)-1] = zero
	return s[:len(s)-1], x
}

// Delete removes the item equal to x and returns it.
func (t *Tree[T]) Delete(x T) (T, bool) {
	var zero T
	if t.root == nil {
		return zero, false
	}
	old, ok := t.remove(t.root, x, removeItem)
	if len(t.root.items) == 0 {
		if t.root.children == nil {
			t.root = nil
		} else {
			t.root = t.root.children[0]
		}
	}
	if ok {
		t.length--
	}
	return old, ok
}

type removeKind int

const (
	removeItem removeKind = iota
	removeMax
)

// remove deletes x (or the maximum) from the subtree at n, which has more
// than minItems items unless it is the root.
func (t *Tree[T]) remove(n *node[T], x T, kind removeKind) (T, bool) {
	var zero T
	var i int
	var found bool
	if kind == removeMax {
		if n.children == nil {
			var it T
			n.items, it = removeAt(n.items, len(n.items)-1)
			return it, true
		}
		i = len(n.items)
	} else {
		i, found = t.find(n, x)
		if n.children == nil {
			if !found {
				return zero, false
			}
			var it T
			n.items, it = removeAt(n.items, i)
			return it, true
		}
	}
	if len(n.children[i].items) <= t.minItems() {
		t.grow(n, i)
		return t.remove(n, x, kind)
	}
	if found {
		// Replace by the predecessor, taken from the left subtree.
		out := n.items[i]
		pred, _ := t.remove(n.children[i], zero, removeMax)
		n.items[i] = pred
		return out, true
	}
	return t.remove(n.children[i], x, kind)
}

// grow gives child i of n more than minItems items, by borrowing from a
// sibling or merging with one.
func (t *Tree[T]) grow(n *node[T], i int) {
	switch {
	case i > 0 && len(n.children[i-1].items) > t.minItems():
		child, left := n.children[i], n.children[i-1]
		var stolen T
		left.items, stolen = removeAt(left.items, len(left.items)-1)
		child.items = insertAt(child.items, 0, n.items[i-1])
		n.items[i-1] = stolen
		if left.children != nil {
			var c *node[T]
			left.children, c = removeAt(left.children, len(left.children)-1)
			child.children = insertAt(child.children, 0, c)
		}
	case i < len(n.items) && len(n.children[i+1].items) > t.minItems():
		child, right := n.children[i], n.children[i+1]
		var stolen T
		right.items, stolen = removeAt(right.items, 0)
		child.items = append(child.items, n.items[i])
		n.items[i] = stolen
		if right.children != nil {
			var c *node[T]
			right.children, c = removeAt(right.children, 0)
			child.children = append(child.children, c)
		}
	default:
		if i >= len(n.items) {
			i--
		}
		child := n.children[i]
		var mid T
		n.items, mid = removeAt(n.items, i)
		var right *node[T]
		n.children, right = removeAt(n.children, i+1)
		child.items = append(child.items, mid)
		child.items = append(child.items, right.items...)
		if child.children != nil {
			child.children = append(child.children, right.children...)
		}
	}
}

// Ascend calls fn for every item not less than from, in order, until fn
// returns false. With all set, from is ignored and the scan starts at the
// smallest item.
func (t *Tree[T]) Ascend(from T, all bool, fn func(T) bool) {
	if t.root != nil {
		t.ascend(t.root, from, all, fn)
	}
}

// AscendAll calls fn for every item in order until fn returns false.
func (t *Tree[T]) AscendAll(fn func(T) bool) {
	var zero T
	t.Ascend(zero, true, fn)
}

func (t *Tree[T]) ascend(n *node[T], from T, all bool, fn func(T) bool) bool {
	i := 0
	if !all {
		i, _ = t.find(n, from)
	}
	for ; i < len(n.items); i++ {
		if n.children != nil && !t.ascend(n.children[i], from, all, fn) {
			return false
		}
		// Everything right of the first subtree is at least from.
		all = true
		if !fn(n.items[i]) {
			return false
		}
	}
	if n.children != nil {
		return t.ascend(n.children[len(n.items)], from, all, fn)
	}
	return true
}

// Min returns the smallest item.
func (t *Tree[T]) Min() (T, bool) {
	var zero T
	n := t.root
	if n == nil {
		return zero, false
	}
	for n.children != nil {
		n = n.children[0]
	}
	return n.items[0], true
}

// Clear removes every item.
func (t *Tree[T]) Clear() { t.root, t.length = nil, 0 }
