package checker

// orderStat is a set of the integers 0..n-1, initially full, that answers
// "how many members are below k" and "which is the largest member below k"
// in O(log n), and steps to the previous member in O(1).
type orderStat struct {
	tree       []int // Fenwick tree of membership counts, 1-based
	member     []bool
	prevMember []int // previous member, or -1
	nextMember []int // next member, or len
}

func newOrderStat(n int) *orderStat {
	o := &orderStat{tree: make([]int, n+1), member: make([]bool, n), prevMember: make([]int, n), nextMember: make([]int, n)}
	for i := range n {
		o.member[i] = true
		o.prevMember[i] = i - 1
		o.nextMember[i] = i + 1
		// Linear-time Fenwick construction.
		k := i + 1
		o.tree[k]++
		if p := k + (k & -k); p <= n {
			o.tree[p] += o.tree[k]
		}
	}
	return o
}

func (o *orderStat) has(i int) bool { return o.member[i] }

func (o *orderStat) prev(i int) int { return o.prevMember[i] }

func (o *orderStat) remove(i int) {
	if !o.member[i] {
		return
	}
	o.member[i] = false
	for k := i + 1; k < len(o.tree); k += k & -k {
		o.tree[k]--
	}
	p, n := o.prevMember[i], o.nextMember[i]
	if p >= 0 {
		o.nextMember[p] = n
	}
	if n < len(o.member) {
		o.prevMember[n] = p
	}
}

// countBelow is the number of members less than k.
func (o *orderStat) countBelow(k int) int {
	s := 0
	for ; k > 0; k -= k & -k {
		s += o.tree[k]
	}
	return s
}

// prevBelow is the largest member less than k, or -1.
func (o *orderStat) prevBelow(k int) int {
	c := o.countBelow(k)
	if c == 0 {
		return -1
	}
	// Find the c-th member (1-based) by descending the Fenwick tree.
	pos := 0
	step := 1
	for step*2 < len(o.tree) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next < len(o.tree) && o.tree[next] < c {
			pos = next
			c -= o.tree[next]
		}
	}
	return pos // 1-based pos+1 is the member, i.e. index pos
}
