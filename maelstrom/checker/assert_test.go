package checker

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// Small assertions: want* reports and continues, must* stops the test.

func report(t *testing.T, fatal bool, msg string, extra []any) {
	t.Helper()
	if len(extra) > 0 {
		if f, ok := extra[0].(string); ok {
			msg += ": " + fmt.Sprintf(f, extra[1:]...)
		} else {
			msg += ": " + fmt.Sprint(extra...)
		}
	}
	if fatal {
		t.Fatal(msg)
	}
	t.Error(msg)
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array, reflect.Chan:
		return r.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return r.IsZero()
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return r.IsNil()
	}
	return false
}

func equal(t *testing.T, fatal bool, want, got any, extra []any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		report(t, fatal, fmt.Sprintf("want %#v, got %#v", want, got), extra)
	}
}

func mustEqual(t *testing.T, want, got any, extra ...any) {
	t.Helper()
	equal(t, true, want, got, extra)
}
func wantEqual(t *testing.T, want, got any, extra ...any) {
	t.Helper()
	equal(t, false, want, got, extra)
}

func mustNoError(t *testing.T, err error, extra ...any) {
	t.Helper()
	if err != nil {
		report(t, true, "unexpected error: "+err.Error(), extra)
	}
}

func mustNotEmpty(t *testing.T, v any, extra ...any) {
	t.Helper()
	if isEmpty(v) {
		report(t, true, fmt.Sprintf("want something, got %#v", v), extra)
	}
}

func wantEmpty(t *testing.T, v any, extra ...any) {
	t.Helper()
	if !isEmpty(v) {
		report(t, false, fmt.Sprintf("want empty, got %#v", v), extra)
	}
}

func mustNotNil(t *testing.T, v any, extra ...any) {
	t.Helper()
	if isNil(v) {
		report(t, true, "want non-nil", extra)
	}
}

func wantNotNil(t *testing.T, v any, extra ...any) {
	t.Helper()
	if isNil(v) {
		report(t, false, "want non-nil", extra)
	}
}

func length(t *testing.T, fatal bool, v any, n int, extra []any) {
	t.Helper()
	if got := reflect.ValueOf(v).Len(); got != n {
		report(t, fatal, fmt.Sprintf("want length %d, got %d: %#v", n, got, v), extra)
	}
}

func mustLen(t *testing.T, v any, n int, extra ...any) { t.Helper(); length(t, true, v, n, extra) }
func wantLen(t *testing.T, v any, n int, extra ...any) { t.Helper(); length(t, false, v, n, extra) }

// contains reports whether a string contains a substring, or a slice an
// element.
func contains(container, elem any) bool {
	if s, ok := container.(string); ok {
		sub, _ := elem.(string)
		return strings.Contains(s, sub)
	}
	v := reflect.ValueOf(container)
	if v.Kind() != reflect.Slice {
		return false
	}
	for i := range v.Len() {
		if reflect.DeepEqual(v.Index(i).Interface(), elem) {
			return true
		}
	}
	return false
}

// wantContains checks that a string contains a substring, or a slice an
// element.
func wantContains(t *testing.T, container, elem any, extra ...any) {
	t.Helper()
	if !contains(container, elem) {
		report(t, false, fmt.Sprintf("%#v does not contain %#v", container, elem), extra)
	}
}

func wantNotContains(t *testing.T, container, elem any, extra ...any) {
	t.Helper()
	if contains(container, elem) {
		report(t, false, fmt.Sprintf("%#v contains %#v", container, elem), extra)
	}
}

func mustTrue(t *testing.T, b bool, extra ...any) {
	t.Helper()
	if !b {
		report(t, true, "want true", extra)
	}
}

func wantTrue(t *testing.T, b bool, extra ...any) {
	t.Helper()
	if !b {
		report(t, false, "want true", extra)
	}
}

func wantFalse(t *testing.T, b bool, extra ...any) {
	t.Helper()
	if b {
		report(t, false, "want false", extra)
	}
}

func wantInDelta(t *testing.T, want, got, delta float64, extra ...any) {
	t.Helper()
	if math.Abs(want-got) > delta {
		report(t, false, fmt.Sprintf("want %v ± %v, got %v", want, delta, got), extra)
	}
}
