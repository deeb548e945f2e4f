package checker

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Small assertion helpers for the transactional checker's tests. "must"
// stops the test, "want" records the failure and goes on.

func txnMsg(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	if f, ok := msg[0].(string); ok {
		return ": " + fmt.Sprintf(f, msg[1:]...)
	}
	return ": " + fmt.Sprint(msg...)
}

func txMustTrue(t *testing.T, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("condition failed%s", txnMsg(msg))
	}
}

func txWantTrue(t *testing.T, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Errorf("condition failed%s", txnMsg(msg))
	}
}

func txMustEqual(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("want %#v, got %#v%s", want, got, txnMsg(msg))
	}
}

func txWantEqual(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("want %#v, got %#v%s", want, got, txnMsg(msg))
	}
}

func txContains(container, elem any) bool {
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

func txWantContains(t *testing.T, container, elem any, msg ...any) {
	t.Helper()
	if !txContains(container, elem) {
		t.Errorf("%#v does not contain %#v%s", container, elem, txnMsg(msg))
	}
}

func txWantNotContains(t *testing.T, container, elem any, msg ...any) {
	t.Helper()
	if txContains(container, elem) {
		t.Errorf("%#v contains %#v%s", container, elem, txnMsg(msg))
	}
}
