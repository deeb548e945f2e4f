package node

import (
	"bytes"
	"encoding/json"

	"github.com/distsys-curriculum/distsys/internal/rawjson"
)

// headerKeys are the body fields header decodes.
var headerKeys = [...][]byte{[]byte("type"), []byte("msg_id"), []byte("in_reply_to"), []byte("code"), []byte("text")}

// decodeHeader decodes a body's header exactly as json.Unmarshal into a
// header would. A plain body (unescaped ASCII keys; plain strings and
// integers in the header fields) takes a fast path that skips over the
// other values instead of decoding them: every message is routed on its
// header, and gossip bodies can be large. valid says body is already
// known to be valid JSON (dispatch decoded the whole line).
func decodeHeader(body []byte, valid bool) (header, error) {
	if h, ok := plainHeader(body, valid); ok {
		return h, nil
	}
	var h header
	err := json.Unmarshal(body, &h)
	return h, err
}

func plainHeader(body []byte, valid bool) (header, bool) {
	var h header
	if !valid && !rawjson.Valid(body) {
		return h, false
	}
	plain := true
	ok := rawjson.Object(body, func(k, v []byte) bool {
		switch string(k) {
		case "type":
			h.Type, plain = rawjson.String(v)
		case "text":
			h.Text, plain = rawjson.String(v)
		case "msg_id":
			h.MsgID, plain = plainInt(v)
		case "in_reply_to":
			h.InReplyTo, plain = plainInt(v)
		case "code":
			var c int
			c, plain = plainInt(v)
			h.Code = &c
		default:
			// encoding/json matches field names case-insensitively.
			for _, name := range headerKeys {
				if bytes.EqualFold(k, name) {
					plain = false
				}
			}
		}
		return plain
	})
	return h, ok && plain
}

func plainInt(v []byte) (int, bool) {
	x, ok := rawjson.Int(v)
	if !ok || x != int64(int(x)) {
		return 0, false
	}
	return int(x), true
}

var messageKeys = [...][]byte{[]byte("src"), []byte("dest"), []byte("body")}

// decodeMessage decodes an input line exactly as json.Unmarshal into a
// Message would, validating it in one pass when it has the plain shape.
// The body is copied: the read loop reuses line.
func decodeMessage(line []byte) (Message, error) {
	if m, ok := plainMessage(line); ok {
		return m, nil
	}
	var m Message
	err := json.Unmarshal(line, &m)
	return m, err
}

func plainMessage(line []byte) (Message, bool) {
	var m Message
	if !rawjson.Valid(line) {
		return m, false
	}
	plain := true
	ok := rawjson.Object(line, func(k, v []byte) bool {
		switch string(k) {
		case "src":
			m.Src, plain = rawjson.String(v)
		case "dest":
			m.Dest, plain = rawjson.String(v)
		case "body":
			m.Body, plain = append(json.RawMessage(nil), v...), v[0] == '{'
		default:
			for _, name := range messageKeys {
				if bytes.EqualFold(k, name) {
					plain = false
				}
			}
		}
		return plain
	})
	return m, ok && plain
}
