package messenger

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/distsys-curriculum/distsys/internal/node"
	"github.com/distsys-curriculum/distsys/internal/node/nodetest"
	"github.com/distsys-curriculum/distsys/internal/program"
	"github.com/distsys-curriculum/distsys/maelstrom/stages"
)

// client plays the grader: it writes lines to the node and reads its
// replies, one at a time.
type client struct {
	t *testing.T
	*nodetest.Conn
}

func run(t *testing.T, args ...string) *client {
	t.Helper()
	return &client{t: t, Conn: nodetest.Start(t, node.Program(Configure), args, nil)}
}

// reply reads one line and checks it is an envelope from n1 to dest with
// exactly the given body (compared as JSON).
func (c *client) reply(dest, wantBody string) {
	c.t.Helper()
	line, err := c.ReadLine()
	if err != nil {
		c.t.Fatalf("no reply (want %s): %v", wantBody, err)
	}
	var env struct {
		Src  string          `json:"src"`
		Dest string          `json:"dest"`
		Body json.RawMessage `json:"body"`
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		c.t.Fatalf("reply %q is not exactly {src,dest,body}: %v", line, err)
	}
	var got, want any
	if err := json.Unmarshal(env.Body, &got); err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(wantBody), &want); err != nil {
		c.t.Fatal(err)
	}
	if env.Src != "n1" || env.Dest != dest || !reflect.DeepEqual(got, want) {
		c.t.Fatalf("got %s\nwant src n1, dest %s, body %s", strings.TrimSpace(line), dest, wantBody)
	}
}

// errorReply checks for an error reply with the given code.
func (c *client) errorReply(dest string, inReplyTo, code int) {
	c.t.Helper()
	line, err := c.ReadLine()
	if err != nil {
		c.t.Fatal(err)
	}
	var env struct {
		Dest string `json:"dest"`
		Body struct {
			Type      string `json:"type"`
			InReplyTo int    `json:"in_reply_to"`
			Code      *int   `json:"code"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(line), &env); err != nil {
		c.t.Fatal(err)
	}
	if env.Dest != dest || env.Body.Type != "error" || env.Body.InReplyTo != inReplyTo || env.Body.Code == nil || *env.Body.Code != code {
		c.t.Fatalf("want error %d in reply to %d, got %s", code, inReplyTo, line)
	}
}

func (c *client) init() {
	c.t.Helper()
	c.Line(`{"id":0,"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`)
	c.reply("c0", `{"type":"init_ok","in_reply_to":1}`)
}

func (c *client) finish() (stderr string) {
	c.t.Helper()
	rest, logs, err := c.Close()
	if err != nil {
		c.t.Fatalf("node failed: %v", err)
	}
	if rest != "" {
		c.t.Fatalf("unexpected output: %s", rest)
	}
	return logs
}

func TestInitStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := run(t, "--stage", "init")
		c.init()
		c.Line(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}`)
		c.errorReply("c1", 1, node.NotSupported)
		c.finish()
	})
}

func TestEchoStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := run(t) // echo is the default stage
		c.init()
		for i, payload := range []string{`"Please echo 35"`, `42`, `{"nested":[1,2,{"k":null}]}`, `""`} {
			c.Line(fmt.Sprintf(`{"id":%d,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":%d,"echo":%s}}`, i+1, i+2, payload))
			c.reply("c1", fmt.Sprintf(`{"type":"echo_ok","in_reply_to":%d,"echo":%s}`, i+2, payload))
		}
		c.finish()
	})
}

func TestErrorsStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := run(t, "--stage=errors")
		c.init()
		c.Line(`{"src":"c1","dest":"n1","body":{"type":"frobnicate","msg_id":2}}`)
		c.errorReply("c1", 2, node.NotSupported)
		c.Line(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3}}`)
		c.errorReply("c1", 3, node.MalformedRequest)
		c.Line(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":4,"echo":`) // cut short
		c.Line(`hello from a stray print`)
		c.Line(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":5,"echo":"still serving"}}`)
		c.reply("c1", `{"type":"echo_ok","in_reply_to":5,"echo":"still serving"}`)
		if logs := c.finish(); strings.Count(logs, "skipping input line") != 2 {
			t.Fatalf("want both bad lines logged on stderr, got:\n%s", logs)
		}
	})
}

func TestConfigureRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--stage", "nope"}, {"--bogus"}, {"extra"}} {
		n := node.New(program.IO{Args: args})
		if err := Configure(n); err == nil {
			t.Errorf("Configure(%q) accepted", args)
		}
	}
}

func TestStagesFileMatchesStages(t *testing.T) {
	all, err := stages.Load("stages.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ci := 0
	for _, s := range all {
		names = append(names, s.Name)
		if s.CI {
			ci++
		}
		if !slices.Equal(s.NodeArgs, []string{"--stage", s.Name}) {
			t.Errorf("stage %s: node args %q, want --stage %s", s.Name, s.NodeArgs, s.Name)
		}
		workload := "echo"
		if s.Name == "errors" {
			workload = "errors"
		}
		if !slices.Contains(s.GraderArgs, workload) || !s.ExpectPass {
			t.Errorf("stage %s: want a valid run of the %s workload, got %q", s.Name, workload, s.GraderArgs)
		}
		if err := Setup(s.Name)(node.New(program.IO{})); err != nil {
			t.Errorf("stage %s: %v", s.Name, err)
		}
	}
	if !slices.Equal(names, Stages()) || ci != 1 {
		t.Fatalf("stages.tsv lists %v with %d ci stages; want %v with one", names, ci, Stages())
	}
}
