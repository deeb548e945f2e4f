package node

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryRetriesIndefiniteErrorsWithGrowingPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		err := Retry(context.Background(), Backoff{Initial: 100 * time.Millisecond, Jitter: 0.01}, func(context.Context) error {
			at = append(at, time.Since(start))
			if len(at) < 4 {
				return NewRPCError(Crash, "maybe")
			}
			return nil
		})
		if err != nil || len(at) != 4 {
			t.Fatalf("err %v after %d attempts", err, len(at))
		}
		// Pauses ~100ms, ~200ms, ~400ms (jitter shortens by at most 1%).
		for i, want := range []time.Duration{100, 200, 400} {
			gap := at[i+1] - at[i]
			if gap < want*time.Millisecond*99/100 || gap > want*time.Millisecond {
				t.Fatalf("pause %d = %v, want ~%dms", i, gap, want)
			}
		}
	})
}

func TestRetryStopsOnDefiniteErrorUnlessListed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), Backoff{}, func(context.Context) error {
			calls++
			return NewRPCError(PreconditionFailed, "no")
		})
		if ErrorCode(err) != PreconditionFailed || calls != 1 {
			t.Fatalf("definite error: %v after %d calls", err, calls)
		}
		calls = 0
		err = Retry(context.Background(), Backoff{RetryCodes: []int{TemporarilyUnavailable}, MaxAttempts: 5}, func(context.Context) error {
			calls++
			return NewRPCError(TemporarilyUnavailable, "not leader")
		})
		if ErrorCode(err) != TemporarilyUnavailable || calls != 5 {
			t.Fatalf("listed code: %v after %d calls", err, calls)
		}
	})
}

func TestRetryAttemptTimeoutAndContextEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		calls := 0
		start := time.Now()
		err := Retry(ctx, Backoff{AttemptTimeout: time.Second}, func(actx context.Context) error {
			calls++
			<-actx.Done() // a call that never answers
			return actx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) || calls < 5 || calls > 10 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
		if time.Since(start) > 11*time.Second {
			t.Fatalf("retry outlived its context: %v", time.Since(start))
		}
	})
}

func TestRetryStopsWhenNodeStops(t *testing.T) {
	calls := 0
	err := Retry(context.Background(), Backoff{}, func(context.Context) error {
		calls++
		return ErrStopped
	})
	if !errors.Is(err, ErrStopped) || calls != 1 {
		t.Fatalf("%v after %d calls", err, calls)
	}
}
