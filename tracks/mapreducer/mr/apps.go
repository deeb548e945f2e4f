package mr

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The four applications the mapreduce workload submits. Their output
// rules are the lesson's specification; the grader computes the same
// outputs with its own code.

// Words calls fn with each word of text: a maximal run of ASCII letters,
// lowercased. fn gets a buffer that the next call overwrites: string(w)
// copies it, and a map lookup m[string(w)] does not allocate.
func Words(text []byte, fn func(word []byte)) {
	var buf []byte
	for i := 0; i <= len(text); i++ {
		if i < len(text) {
			c := text[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c >= 'a' && c <= 'z' {
				buf = append(buf, c)
				continue
			}
		}
		if len(buf) > 0 {
			fn(buf)
			buf = buf[:0]
		}
	}
}

// WordCount counts each word: (word, decimal count).
type WordCount struct{}

func (WordCount) Map(s Split, emit func(k, v string)) {
	// Counting within the split first (a combiner) cuts the intermediate
	// data to one record per distinct word.
	counts := map[string]*int{}
	var order []string
	Words(s.Data, func(w []byte) {
		if c := counts[string(w)]; c != nil {
			*c++
			return
		}
		word := string(w)
		n := 1
		counts[word] = &n
		order = append(order, word)
	})
	for _, w := range order {
		emit(w, strconv.Itoa(*counts[w]))
	}
}

func (WordCount) Reduce(k string, vs []string, emit func(k, v string)) {
	n := 0
	for _, v := range vs {
		c, _ := strconv.Atoi(v)
		n += c
	}
	emit(k, strconv.Itoa(n))
}

// InvertedIndex maps each word to the splits it occurs in: (word, names
// sorted, de-duplicated, joined with ",").
type InvertedIndex struct{}

func (InvertedIndex) Map(s Split, emit func(k, v string)) {
	seen := map[string]bool{}
	Words(s.Data, func(w []byte) {
		if !seen[string(w)] {
			word := string(w)
			seen[word] = true
			emit(word, s.Name)
		}
	})
}

func (InvertedIndex) Reduce(k string, vs []string, emit func(k, v string)) {
	names := slices.Clone(vs)
	slices.Sort(names)
	emit(k, strings.Join(slices.Compact(names), ","))
}

// Grep finds the lines that contain Pattern (case-sensitive substring):
// ("split:line", the line), lines numbered from 1, split on "\n".
type Grep struct{ Pattern string }

func (g Grep) Map(s Split, emit func(k, v string)) {
	for i, line := range bytes.Split(s.Data, []byte("\n")) {
		if bytes.Contains(line, []byte(g.Pattern)) {
			emit(fmt.Sprintf("%s:%d", s.Name, i+1), string(line))
		}
	}
}

func (Grep) Reduce(k string, vs []string, emit func(k, v string)) {
	for _, v := range vs {
		emit(k, v)
	}
}

// Join is an equi-join of two relations given as "key,value" lines: splits
// named "left/..." hold the left relation, all others the right one. For
// each key, every (left value, right value) pair: (key, "lv,rv").
type Join struct{}

func (Join) Map(s Split, emit func(k, v string)) {
	side := "R"
	if strings.HasPrefix(s.Name, "left/") {
		side = "L"
	}
	for _, line := range strings.Split(string(s.Data), "\n") {
		k, v, ok := strings.Cut(line, ",")
		if ok {
			emit(k, side+v)
		}
	}
}

func (Join) Reduce(k string, vs []string, emit func(k, v string)) {
	var left, right []string
	for _, v := range vs {
		if v[0] == 'L' {
			left = append(left, v[1:])
		} else {
			right = append(right, v[1:])
		}
	}
	for _, l := range left {
		for _, r := range right {
			emit(k, l+","+r)
		}
	}
}

// Apps lists the applications by the names the workload uses.
var Apps = []string{"wordcount", "index", "grep", "join"}

// AppFor returns the application called name; pattern is grep's.
func AppFor(name, pattern string) (App, error) {
	switch name {
	case "wordcount":
		return WordCount{}, nil
	case "index":
		return InvertedIndex{}, nil
	case "grep":
		return Grep{Pattern: pattern}, nil
	case "join":
		return Join{}, nil
	}
	return nil, fmt.Errorf("unknown app %q (have %s)", name, strings.Join(Apps, ", "))
}
