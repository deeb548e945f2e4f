package mr

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sorted(kvs []KeyValue) []KeyValue {
	out := slices.Clone(kvs)
	slices.SortFunc(out, func(a, b KeyValue) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Value, b.Value))
	})
	return out
}

var small = []Split{
	{Name: "a", Data: []byte("The quick brown fox\njumps over the lazy dog.\nThe END")},
	{Name: "b", Data: []byte("the dog, the FOX; the 3 foxes\nquick quick")},
	{Name: "left/0", Data: []byte("k1,alice\nk2,bob\nk1,carol")},
	{Name: "right/0", Data: []byte("k1,x\nk3,y\nk1,z")},
}

func TestAppsByHand(t *testing.T) {
	cases := []struct {
		app    App
		splits []Split
		want   []KeyValue
	}{
		{WordCount{}, small[:2], []KeyValue{{"brown", "1"}, {"dog", "2"}, {"end", "1"}, {"fox", "2"}, {"foxes", "1"},
			{"jumps", "1"}, {"lazy", "1"}, {"over", "1"}, {"quick", "3"}, {"the", "6"}}},
		{InvertedIndex{}, small[:2], []KeyValue{{"brown", "a"}, {"dog", "a,b"}, {"end", "a"}, {"fox", "a,b"}, {"foxes", "b"},
			{"jumps", "a"}, {"lazy", "a"}, {"over", "a"}, {"quick", "a,b"}, {"the", "a,b"}}},
		{Grep{Pattern: "the"}, small[:2], []KeyValue{{"a:2", "jumps over the lazy dog."}, {"b:1", "the dog, the FOX; the 3 foxes"}}},
		{Join{}, small[2:], []KeyValue{{"k1", "alice,x"}, {"k1", "alice,z"}, {"k1", "carol,x"}, {"k1", "carol,z"}}},
	}
	for _, c := range cases {
		for _, m := range []int{1, 3} {
			got, err := Run(context.Background(), c.app, c.splits, Config{Mappers: m, Reducers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sorted(got), c.want) {
				t.Errorf("%T with %d mappers: got %v, want %v", c.app, m, sorted(got), c.want)
			}
			if seq := RunSequential(c.app, c.splits); !slices.Equal(sorted(seq), c.want) {
				t.Errorf("%T sequential: got %v", c.app, seq)
			}
		}
	}
}

func TestPartitionsAreDisjointAndSorted(t *testing.T) {
	parts := MapTask(WordCount{}, small[0], 4)
	for r, p := range parts {
		for _, kv := range p {
			if Partition(kv.Key, 4) != r {
				t.Fatalf("%q in partition %d", kv.Key, r)
			}
		}
		out := ReduceTask(WordCount{}, p)
		if !slices.IsSortedFunc(out, func(a, b KeyValue) int { return cmp.Compare(a.Key, b.Key) }) {
			t.Fatalf("reduce output not sorted: %v", out)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, WordCount{}, small, Config{Mappers: 2, Reducers: 2}); err == nil {
		t.Fatal("a cancelled run returned no error")
	}
}

// corpus reads the Go distribution's own sources and documents (under `go
// env GOROOT`: src and doc) up to limit bytes, one split per file.
func corpus(tb testing.TB, limit int) []Split {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		tb.Skipf("go env GOROOT: %v", err)
	}
	root := strings.TrimSpace(string(out))
	var splits []Split
	total := 0
	for _, sub := range []string{"doc", "src"} {
		_ = filepath.WalkDir(filepath.Join(root, sub), func(path string, d os.DirEntry, err error) error {
			if err != nil || total >= limit {
				return filepath.SkipDir
			}
			switch filepath.Ext(path) {
			case ".go", ".md", ".html", ".txt", ".s":
			default:
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			splits = append(splits, Split{Name: rel, Data: data})
			total += len(data)
			return nil
		})
	}
	if total == 0 {
		tb.Skip("no corpus under GOROOT")
	}
	return splits
}

func TestRealCorpusParallelEqualsSequential(t *testing.T) {
	splits := corpus(t, 2<<20)
	for _, name := range Apps {
		app, _ := AppFor(name, "func")
		want := RunSequential(app, splits)
		got, err := Run(context.Background(), app, splits, Config{Mappers: 4, Reducers: 5})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("%s: parallel output (%d records) differs from sequential (%d)", name, len(got), len(want))
		}
	}
}

var corpusMB = flag.Int("corpus-mb", 32, "megabytes of the Go distribution BenchmarkWordCount reads")

// BenchmarkWordCount is the speed-up figure of the lesson: word count over
// -corpus-mb megabytes of the Go distribution's sources and docs,
// sequentially and with 1, 2, 4 and 8 map goroutines (8 reduce tasks). Run
// it with `make bench-mapreducer`; -cpu 1,2 shows the effect of the cores
// themselves. Besides MB/s it reports cpu-s/op (CPU time of the whole
// process per op) and cores (CPU time over wall time: how many cores the
// run kept busy), which stays meaningful when other work shares the
// machine and wall time alone does not.
func BenchmarkWordCount(b *testing.B) {
	splits := corpus(b, *corpusMB<<20)
	bytes := 0
	for _, s := range splits {
		bytes += len(s.Data)
	}
	measure := func(b *testing.B, run func()) {
		b.SetBytes(int64(bytes))
		cpu0 := cpuTime()
		for b.Loop() {
			run()
		}
		cpu := cpuTime() - cpu0
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		if wall := b.Elapsed(); wall > 0 && cpu > 0 {
			b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
		}
	}
	b.Run("sequential", func(b *testing.B) {
		measure(b, func() { RunSequential(WordCount{}, splits) })
	})
	for _, m := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("mappers=%d", m), func(b *testing.B) {
			measure(b, func() {
				if _, err := Run(context.Background(), WordCount{}, splits, Config{Mappers: m, Reducers: 8}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
