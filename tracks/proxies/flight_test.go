package proxies

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/singleflight"
)

// origin is a counter behind a slow read: read takes its value when
// called and returns it after a delay, as the grader's origin does.
type origin struct {
	value atomic.Int64
	calls atomic.Int64
}

func (o *origin) read() (int64, error) {
	o.calls.Add(1)
	v := o.value.Load()
	time.Sleep(100 * time.Millisecond)
	return v, nil
}

// collapse runs one scenario through either implementation: caller A
// opens a call; the value changes; then ten callers arrive while A's call
// is in flight. It returns the calls made and what the ten got.
func collapse(t *testing.T, do func(fn func() (int64, error)) int64) (calls int64, got []int64) {
	o := &origin{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); do(o.read) }()
	time.Sleep(10 * time.Millisecond) // A's call has read the value
	o.value.Store(1)                  // a change the ten must see: they ask after it
	got = make([]int64, 10)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = do(o.read) }()
	}
	wg.Wait()
	return o.calls.Load(), got
}

// TestFlightsAgainstSingleflight compares the two on the same scenario:
// singleflight shares A's call with the ten, who then get the value from
// before they asked; Flights makes one more call, shared by the ten, that
// starts after they arrived.
func TestFlightsAgainstSingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sf singleflight.Group
		calls, got := collapse(t, func(fn func() (int64, error)) int64 {
			v, _, _ := sf.Do("k", func() (any, error) { return fn() })
			return v.(int64)
		})
		if calls != 1 {
			t.Fatalf("singleflight made %d calls, want 1", calls)
		}
		for _, v := range got {
			if v != 0 {
				t.Fatalf("singleflight answered %d; the scenario expects it to share the old read (0)", v)
			}
		}

		var fl Flights[int64]
		calls, got = collapse(t, func(fn func() (int64, error)) int64 {
			v, _, _ := fl.Do("k", fn)
			return v
		})
		if calls != 2 {
			t.Fatalf("Flights made %d calls, want 2 (A's, and one for the ten)", calls)
		}
		for i, v := range got {
			if v != 1 {
				t.Fatalf("caller %d got %d, a value read before it asked", i, v)
			}
		}
	})
}

// TestFlightsBoundCalls: 1000 callers over 2 s, one every 2 ms, against a
// 100 ms origin: at most one call in flight per key, back to back, so
// about 2 s / 100 ms calls, where a plain relay would make 1000.
// singleflight makes about as many; Flights pays at most one extra call
// per period for freshness.
func TestFlightsBoundCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := func(do func(fn func() (int64, error))) int64 {
			o := &origin{}
			var wg sync.WaitGroup
			for range 1000 {
				wg.Add(1)
				go func() { defer wg.Done(); do(o.read) }()
				time.Sleep(2 * time.Millisecond)
			}
			wg.Wait()
			return o.calls.Load()
		}
		var fl Flights[int64]
		ours := run(func(fn func() (int64, error)) { fl.Do("k", fn) })
		var sf singleflight.Group
		theirs := run(func(fn func() (int64, error)) { sf.Do("k", func() (any, error) { return fn() }) })
		t.Logf("1000 requests over 2 s, 100 ms origin: Flights %d calls, singleflight %d", ours, theirs)
		if ours > 22 || theirs > 22 {
			t.Fatalf("Flights %d calls, singleflight %d: want about 20 each", ours, theirs)
		}
		fl.mu.Lock()
		left := len(fl.keys)
		fl.mu.Unlock()
		if left != 0 {
			t.Fatalf("%d keys left behind", left)
		}
	})
}

func TestFlightsKeysAreIndependentAndErrorsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fl Flights[int64]
		boom := errors.New("boom")
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i], _ = fl.Do("a", func() (int64, error) { time.Sleep(time.Second); return 0, boom })
			}()
		}
		start := time.Now()
		v, err, shared := fl.Do("b", func() (int64, error) { return 7, nil })
		if v != 7 || err != nil || shared || time.Since(start) != 0 {
			t.Fatalf("key b waited for key a or was shared: %d %v %v", v, err, shared)
		}
		wg.Wait()
		for _, err := range errs {
			if !errors.Is(err, boom) {
				t.Fatalf("error not passed on: %v", err)
			}
		}
	})
}

func TestDedupRunsOncePerID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDedup[int64](time.Minute, time.Now)
		var runs atomic.Int64
		apply := func() (int64, error) { time.Sleep(50 * time.Millisecond); return runs.Add(1), nil }
		var wg sync.WaitGroup
		for range 5 { // a request and its retries, all in flight at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err, _ := d.Do("r1", apply); v != 1 || err != nil {
					t.Errorf("got %d %v", v, err)
				}
			}()
		}
		wg.Wait()
		if v, _, dup := d.Do("r1", apply); v != 1 || !dup { // a late retry
			t.Fatalf("late retry: %d, dup %v", v, dup)
		}
		if runs.Load() != 1 {
			t.Fatalf("applied %d times", runs.Load())
		}
		// A failed attempt is forgotten: the retry runs again.
		fail := true
		try := func() (int64, error) {
			if fail {
				fail = false
				return 0, errors.New("refused")
			}
			return 9, nil
		}
		if _, err, _ := d.Do("r2", try); err == nil {
			t.Fatal("no error")
		}
		if v, err, dup := d.Do("r2", try); v != 9 || err != nil || dup {
			t.Fatalf("retry after failure: %d %v %v", v, err, dup)
		}
		time.Sleep(2 * time.Minute)
		if left := d.Sweep(); left != 0 {
			t.Fatalf("%d entries left after their retention", left)
		}
	})
}
