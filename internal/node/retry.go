package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Backoff says how Retry spaces and bounds its attempts. Zero fields take
// the defaults noted.
type Backoff struct {
	Initial        time.Duration // first pause; default 10ms
	Max            time.Duration // longest pause; default 1s
	Multiplier     float64       // pause growth per attempt; default 2
	Jitter         float64       // pauses are scaled by a random factor in [1-Jitter, 1]; default 0.5
	AttemptTimeout time.Duration // deadline of one attempt; default 1s, negative: none
	MaxAttempts    int           // 0: until ctx ends
	// RetryCodes lists definite error codes to retry anyway, typically
	// TemporarilyUnavailable (not the leader, no quorum yet).
	RetryCodes []int
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 10 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = time.Second
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	if b.Jitter <= 0 || b.Jitter > 1 {
		b.Jitter = 0.5
	}
	if b.AttemptTimeout == 0 {
		b.AttemptTimeout = time.Second
	}
	return b
}

// Retry calls fn until it succeeds, for idempotent operations only: an
// attempt that timed out may still have taken effect. It stops at once on a
// definite error (the operation certainly did not happen, so repeating it
// would give the same answer) unless its code is in RetryCodes, and on the
// runtime's own terminal errors (node stopped, input closed). Each attempt
// gets its own deadline; pauses grow exponentially with jitter so that many
// retrying nodes do not stampede together.
func Retry(ctx context.Context, policy Backoff, fn func(ctx context.Context) error) error {
	b := policy.withDefaults()
	pause := b.Initial
	for attempt := 1; ; attempt++ {
		err := attemptOnce(ctx, b.AttemptTimeout, fn)
		if err == nil {
			return nil
		}
		if !retryable(err, b.RetryCodes) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, errors.Join(ctx.Err(), err))
		}
		if b.MaxAttempts > 0 && attempt >= b.MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		sleep := time.Duration(float64(pause) * (1 - b.Jitter*rand.Float64()))
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up after %d attempts: %w", attempt, errors.Join(ctx.Err(), err))
		case <-t.C:
		}
		pause = min(time.Duration(float64(pause)*b.Multiplier), b.Max)
	}
}

func attemptOnce(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	if timeout < 0 {
		return fn(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(actx)
}

func retryable(err error, retryCodes []int) bool {
	if errors.Is(err, ErrStopped) || errors.Is(err, ErrInputClosed) || errors.Is(err, ErrNotInitialized) {
		return false
	}
	code := ErrorCode(err)
	if code < 0 {
		return true // timeouts and transport errors: indefinite
	}
	return !IsDefinite(code) || slices.Contains(retryCodes, code)
}
