// Package mr is the MapReduce engine of the mapreducer track: the map and
// reduce task functions (partitioned shuffle, sort, group) and a
// single-machine runner that runs map tasks in parallel over input splits,
// then one reduce task per partition.
//
// The distributed coordinator and workers (package mapreducer) run the very
// same MapTask and ReduceTask; only who runs them, and where the
// intermediate data waits, differs. A later capstone runs them with input
// read from a DHT, so the interfaces are kept small: a Split is a named
// input, an App is a pair of functions, a KeyValue is a record.
package mr

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"sync"
)

// KeyValue is one record of intermediate data or output.
type KeyValue struct {
	Key   string
	Value string
}

// Split is one unit of input: a map task reads one split.
type Split struct {
	Name string
	Data []byte
}

// App is a MapReduce application. Map and Reduce must be deterministic
// functions of their input, so that a re-executed or backup task produces
// the same records as the first attempt: that is what makes re-execution
// safe.
type App interface {
	Map(s Split, emit func(key, value string))
	// Reduce gets every value of one key, in the order of the sorted
	// intermediate data (by map task, then emission order).
	Reduce(key string, values []string, emit func(key, value string))
}

// Partition is the reduce task (0..reducers-1) that gets a key.
func Partition(key string, reducers int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(reducers))
}

// MapTask runs app's map over one split and partitions its output into
// reducers buckets: bucket r is what reduce task r reads from this map.
func MapTask(app App, s Split, reducers int) [][]KeyValue {
	out := make([][]KeyValue, reducers)
	app.Map(s, func(k, v string) {
		r := Partition(k, reducers)
		out[r] = append(out[r], KeyValue{k, v})
	})
	return out
}

// ReduceTask sorts one partition's records by key (stably, so the values
// of a key keep their order), groups them, and reduces each group. The
// output is sorted by key.
func ReduceTask(app App, in []KeyValue) []KeyValue {
	slices.SortStableFunc(in, func(a, b KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	var out []KeyValue
	emit := func(k, v string) { out = append(out, KeyValue{k, v}) }
	values := make([]string, 0, 16)
	for i := 0; i < len(in); {
		j := i
		values = values[:0]
		for j < len(in) && in[j].Key == in[i].Key {
			values = append(values, in[j].Value)
			j++
		}
		app.Reduce(in[i].Key, values, emit)
		i = j
	}
	return out
}

// Config sizes a local run.
type Config struct {
	Mappers  int // map tasks run at once (goroutines); at least 1
	Reducers int // partitions, hence reduce tasks; at least 1
}

// Run is the single-machine MapReduce: Mappers goroutines map the splits
// (each map task partitions its output), the shuffle gathers partition r
// of every map task in split order, and Reducers reduce tasks run in
// parallel. The output is the reduce tasks' outputs, partition by
// partition. Run stops early, returning ctx's error, when ctx ends.
func Run(ctx context.Context, app App, splits []Split, c Config) ([]KeyValue, error) {
	c.Mappers, c.Reducers = max(c.Mappers, 1), max(c.Reducers, 1)
	mapped := make([][][]KeyValue, len(splits))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.Mappers, max(len(splits), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mapped[i] = MapTask(app, splits[i], c.Reducers)
			}
		}()
	}
feed:
	for i := range splits {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	outs := make([][]KeyValue, c.Reducers)
	for r := range c.Reducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[r] = ReduceTask(app, Shuffle(mapped, r))
		}()
	}
	wg.Wait()
	var out []KeyValue
	for _, o := range outs {
		out = append(out, o...)
	}
	return out, ctx.Err()
}

// Shuffle gathers partition r of every map task's output, in map order.
func Shuffle(mapped [][][]KeyValue, r int) []KeyValue {
	n := 0
	for _, m := range mapped {
		n += len(m[r])
	}
	in := make([]KeyValue, 0, n)
	for _, m := range mapped {
		in = append(in, m[r]...)
	}
	return in
}

// RunSequential is the baseline: one map over all input, one sort, one
// reduce, on one goroutine, with no partitioning.
func RunSequential(app App, splits []Split) []KeyValue {
	var all []KeyValue
	for _, s := range splits {
		app.Map(s, func(k, v string) { all = append(all, KeyValue{k, v}) })
	}
	return ReduceTask(app, all)
}
