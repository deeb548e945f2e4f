package grade

import (
	"encoding/xml"
	"fmt"
)

// JUnit XML as CI systems and GitHub Classroom read it: one <testsuite>
// per track, one <testcase> per stage; a stage that did not pass has a
// <failure> whose message is why, and every case's <system-out> gives the
// verdict, the first violation and the report path.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     float64      `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Time     float64     `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      float64       `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		Error     *junitFailure `xml:"error,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// JUnit renders a submission's grading as JUnit XML. A stage the grader
// could not run (no build, a bad binary) is an <error>; one it judged
// against expectation is a <failure>.
func JUnit(r Result) ([]byte, error) {
	top := junitSuites{Name: r.Submission, Time: r.Elapsed.Seconds()}
	at := map[string]int{}
	for _, s := range r.Stages {
		i, ok := at[s.Track]
		if !ok {
			i = len(top.Suites)
			at[s.Track] = i
			top.Suites = append(top.Suites, junitSuite{Name: r.Submission + "/" + s.Track})
		}
		suite := &top.Suites[i]
		c := junitCase{Name: s.Stage, Classname: r.Submission + "." + s.Track, Time: s.Elapsed.Seconds(), SystemOut: stageOutput(s)}
		switch {
		case s.Passed:
		case s.Verdict == "error":
			c.Error = &junitFailure{Message: s.Why, Type: "error", Text: stageOutput(s)}
			suite.Errors++
		default:
			c.Failure = &junitFailure{Message: s.Why, Type: s.Verdict, Text: stageOutput(s)}
			suite.Failures++
		}
		suite.Tests++
		suite.Time += s.Elapsed.Seconds()
		suite.Cases = append(suite.Cases, c)
	}
	for _, s := range top.Suites {
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Errors += s.Errors
	}
	out, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
