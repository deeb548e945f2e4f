package account

import (
	"encoding/json"
	"testing"
)

func TestFold(t *testing.T) {
	var s State
	for _, e := range []string{
		`{"id":"1","type":"opened","at":1}`,
		`{"id":"2","type":"deposited","amount":100,"at":2}`,
		`{"id":"3","type":"transfer_out","amount":30,"peer":"b","at":3}`,
		`{"id":"4","type":"transfer_in","amount":5,"peer":"b","at":4}`,
		`{"id":"5","type":"withdrawn","amount":80,"at":5}`,
		`not json`,
		`{"id":"6","type":"renamed","at":6}`,
	} {
		s = Fold(s, json.RawMessage(e))
	}
	// A stored overdraft is a fact: the fold shows it rather than hide it.
	if s != (State{Open: true, Balance: -5}) {
		t.Fatalf("fold: %+v", s)
	}
}
