package node

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeHeader's fast path must give what json.Unmarshal gives.
func TestDecodeHeaderMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"type":"echo","msg_id":3,"echo":"x"}`, `{"type":"read_ok","messages":[1,2,3],"in_reply_to":7}`,
		`{"type":"error","code":11,"text":"busy","in_reply_to":2}`, `{"type":"error","code":0}`, `{"type":"error"}`,
		`{"msg_id":1,"msg_id":2}`, `{"TYPE":"x","type":"y"}`, `{"Msg_Id":4}`, `{"type":null,"msg_id":null,"code":null}`,
		`{"msg_id":1.0}`, `{"msg_id":"1"}`, `{"type":5}`, `{"type":"a\nb"}`, `{"type":"caf\u00e9"}`, "{\"type\":\"caf\xc3\xa9\"}",
		`{"t\u0079pe":"x"}`, `{"x":{"type":"nested"},"type":"top"}`, `{"in_reply_to":99999999999999999999}`, `[1]`, `"s"`, `{"a":1`,
		`{"msg_id":-5,"text":"","code":-1}`, " { \"type\" : \"spaced\" , \"msg_id\" : 9 } ",
	} {
		var want header
		wantErr := json.Unmarshal([]byte(in), &want)
		for _, valid := range []bool{false, json.Valid([]byte(in))} {
			got, err := decodeHeader([]byte(in), valid)
			if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
				t.Errorf("decodeHeader(%s, %v) = %+v, %v; json.Unmarshal gives %+v, %v", in, valid, got, err, want, wantErr)
			}
		}
	}
}

func TestDecodeMessageMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"id":1,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1}}`, `{"src":"c1","body":{ "a" : [1, 2] },"dest":"n1"}`,
		`{"src":"c1","dest":"n1"}`, `{"src":"c1","dest":"n1","body":null}`, `{"src":"c1","dest":"n1","body":[1]}`,
		`{"SRC":"c1","dest":"n1","body":{}}`, `{"src":5,"dest":"n1","body":{}}`, `{"src":"c\u0031","dest":"n1","body":{}}`,
		"{\"src\":\"c\xff\",\"dest\":\"n1\",\"body\":{}}", `{"src":"c1","src":"c2","body":{},"body":{"x":1}}`,
		`not json`, `{"src":"c1"} {}`, `[]`, `{}`, ` {"src":"c1","dest":"n1","body":{}} `,
	} {
		var want Message
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := decodeMessage([]byte(in))
		if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("decodeMessage(%s) = %+v, %v; json.Unmarshal gives %+v, %v", in, got, err, want, wantErr)
		}
	}
}
