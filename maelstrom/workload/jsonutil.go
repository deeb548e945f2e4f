package workload

import (
	"bytes"
	"encoding/json"
)

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// jsonUnmarshalNumber keeps numbers exact (as json.Number), so that large
// ids are compared without float rounding.
func jsonUnmarshalNumber(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}
