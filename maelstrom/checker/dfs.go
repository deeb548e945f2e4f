package checker

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/distsys-curriculum/distsys/maelstrom/history"
)

// History values of the dfs workload (the filesystem track's GFS-style
// file system). F is create, delete, append, read, list or locate.

// DFSRecord is one record of a file: the writer's id and its bytes.
type DFSRecord struct {
	ID   string `json:"id"`
	Data string `json:"data"`
}

// DFSChunk is one chunk a locate reported, with the chunk servers the
// master counts as holding a healthy replica.
type DFSChunk struct {
	Path     string   `json:"path"`
	Index    int      `json:"index"`
	Replicas []string `json:"replicas"`
}

// DFSOp is the value of every dfs op. An append carries its record and,
// when acknowledged, the position the file's primary gave it (Chunk,
// Offset); a read returns Records; a list Paths; a locate Chunks.
type DFSOp struct {
	Path    string      `json:"path,omitempty"`
	Prefix  string      `json:"prefix,omitempty"`
	Record  *DFSRecord  `json:"record,omitempty"`
	Chunk   *int        `json:"chunk,omitempty"`
	Offset  *int64      `json:"offset,omitempty"`
	Records []DFSRecord `json:"records,omitempty"`
	Paths   []string    `json:"paths,omitempty"`
	Chunks  []DFSChunk  `json:"chunks,omitempty"`
}

// DFSParams says what the repair check demands: chunks on Replicas
// chunk servers (or every live one, if fewer) within Bound of the last
// fault step. ChunkServers are the nodes that store chunks.
type DFSParams struct {
	ChunkServers []string
	Replicas     int
	Bound        time.Duration
}

// DFSDetails are the figures of the dfs checkers.
type DFSDetails struct {
	Appends      int `json:"appends"`
	AckedAppends int `json:"acked_appends"`
	Reads        int `json:"reads"`
	RecordsRead  int `json:"records_read"`
	Duplicates   int `json:"duplicates,omitempty"`
}

// DFSRepairDetails: how fast chunks were re-replicated after faults.
type DFSRepairDetails struct {
	Bound         time.Duration `json:"bound"`
	Locates       int           `json:"locates"`
	Judged        int           `json:"judged"` // locates at least Bound after the last fault step
	FaultSteps    int           `json:"fault_steps"`
	Repaired      int           `json:"repaired"` // steps followed by a fully replicated locate before the next step
	RepairP50     time.Duration `json:"repair_p50"`
	RepairMax     time.Duration `json:"repair_max"`
	MaxUnderRepl  int           `json:"max_under_replicated"` // chunks short of replicas in one locate
	UnderReplSeen int           `json:"under_replicated_locates"`
	// Unavailable counts chunks a locate showed on no live server while
	// chunk servers were down: excused, their copies may all be down.
	Unavailable int `json:"unavailable,omitempty"`
}

func dfsValue(v any) (DFSOp, bool) {
	switch x := v.(type) {
	case DFSOp:
		return x, true
	case *DFSOp:
		return *x, x != nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return DFSOp{}, false
	}
	var out DFSOp
	return out, json.Unmarshal(b, &out) == nil
}

type dfsPair struct {
	inv, done history.Op
	ok        bool
	v         DFSOp // the completion's value when ok, else the invocation's
}

func dfsPairs(h history.History) []dfsPair {
	var out []dfsPair
	for _, p := range h.Pairs() {
		if p.Invoke.Process < 0 {
			continue
		}
		d := dfsPair{inv: p.Invoke}
		src := p.Invoke.Value
		if p.Completion != nil {
			d.done = *p.Completion
			if p.Completion.Type == history.OK {
				d.ok = true
				src = p.Completion.Value
			}
		} else {
			d.done = p.Invoke
			d.done.Time = 1<<62 - 1
		}
		v, ok := dfsValue(src)
		if !ok {
			continue
		}
		d.v = v
		out = append(out, d)
	}
	return out
}

// DFS checks the file system's guarantees to readers:
//   - integrity: every record a read returns is a record some append sent
//     to that file, byte for byte (no rotten or unframed bytes);
//   - durability: a read of a file returns every append to it that was
//     acknowledged before the read began;
//   - order: acknowledged records appear in the order of the positions
//     their primary gave them, and no two share a position;
//   - namespace: a list that began after a create was acknowledged shows
//     the file (unless a delete of it had begun), one that began after a
//     delete was acknowledged does not, and a read that began after it
//     fails.
//
// It returns two results: dfs-integrity, then dfs (the rest).
func DFS(h history.History) []Result {
	pairs := dfsPairs(h)
	var det DFSDetails
	integ := Result{Checker: "dfs-integrity", Valid: Valid}
	res := Result{Checker: "dfs", Valid: Valid}
	add := func(r *Result, v Violation) {
		r.Valid = Invalid
		if len(r.Violations) < 8 {
			r.Violations = append(r.Violations, v)
		}
	}
	records := map[string]map[string]map[string]bool{} // path -> id -> data sent
	type acked struct {
		id    string
		chunk int
		off   int64
		at    time.Duration
		op    history.Op
	}
	ackedBy := map[string][]acked{}
	created := map[string]time.Duration{}   // path -> first create ack
	createInv := map[string]time.Duration{} // path -> first create invocation
	deleted := map[string]time.Duration{}   // path -> first delete ack
	deleteInv := map[string]time.Duration{}
	for _, p := range pairs {
		switch p.inv.F {
		case "append":
			det.Appends++
			if r := p.v.Record; r != nil {
				if records[p.v.Path] == nil {
					records[p.v.Path] = map[string]map[string]bool{}
				}
				if records[p.v.Path][r.ID] == nil {
					records[p.v.Path][r.ID] = map[string]bool{}
				}
				records[p.v.Path][r.ID][r.Data] = true
				if p.ok && p.v.Chunk != nil && p.v.Offset != nil {
					det.AckedAppends++
					ackedBy[p.v.Path] = append(ackedBy[p.v.Path], acked{r.ID, *p.v.Chunk, *p.v.Offset, p.done.Time, p.done})
				}
			}
		case "create":
			if t, ok := createInv[p.v.Path]; !ok || p.inv.Time < t {
				createInv[p.v.Path] = p.inv.Time
			}
			if p.ok {
				if t, ok := created[p.v.Path]; !ok || p.done.Time < t {
					created[p.v.Path] = p.done.Time
				}
			}
		case "delete":
			if t, ok := deleteInv[p.v.Path]; !ok || p.inv.Time < t {
				deleteInv[p.v.Path] = p.inv.Time
			}
			if p.ok {
				if t, ok := deleted[p.v.Path]; !ok || p.done.Time < t {
					deleted[p.v.Path] = p.done.Time
				}
			}
		}
	}
	// Two acknowledged appends at one position: two primaries at once.
	for path, as := range ackedBy {
		sort.Slice(as, func(i, j int) bool {
			if as[i].chunk != as[j].chunk {
				return as[i].chunk < as[j].chunk
			}
			return as[i].off < as[j].off
		})
		for i := 1; i < len(as); i++ {
			if as[i].chunk == as[i-1].chunk && as[i].off == as[i-1].off && as[i].id != as[i-1].id {
				op := as[i].op
				add(&res, Violation{What: "two appends at one position", Node: op.Node, Op: &op, Value: as[i].id, Time: op.Time,
					Detail: fmt.Sprintf("records %s and %s of %s were both acknowledged at chunk %d offset %d: two primaries ordered the same chunk", as[i-1].id, as[i].id, path, as[i].chunk, as[i].off)})
			}
		}
		ackedBy[path] = as
	}
	for _, p := range pairs {
		if !p.ok {
			continue
		}
		switch p.inv.F {
		case "read":
			det.Reads++
			det.RecordsRead += len(p.v.Records)
			path := p.v.Path
			op := p.done
			if t, ok := deleted[path]; ok && t < p.inv.Time {
				add(&res, Violation{What: "read of a deleted file", Node: op.Node, Op: &op, Value: path, Time: op.Time,
					Detail: fmt.Sprintf("the read of %s began at %s, after its delete was acknowledged at %s, and still returned records", path, p.inv.Time, t)})
			}
			pos := map[string]int{}
			for i, r := range p.v.Records {
				if _, dup := pos[r.ID]; dup {
					det.Duplicates++
				}
				pos[r.ID] = i
				if !records[path][r.ID][r.Data] {
					add(&integ, Violation{What: "corrupt record", Node: op.Node, Op: &op, Value: r, Time: op.Time,
						Detail: fmt.Sprintf("record %d of the read of %s (id %q, %d bytes) is not a record any append sent to that file: the bytes were damaged between the writer and this reader", i, path, r.ID, len(r.Data))})
				}
			}
			last, lastID := -1, ""
			for _, a := range ackedBy[path] {
				if a.at >= p.inv.Time {
					continue
				}
				i, ok := pos[a.id]
				if !ok {
					add(&res, Violation{What: "lost append", Node: op.Node, Op: &op, Value: a.id, Time: op.Time,
						Detail: fmt.Sprintf("record %s was acknowledged at %s (chunk %d, offset %d) but the read of %s that began at %s does not return it", a.id, a.at, a.chunk, a.off, path, p.inv.Time)})
					continue
				}
				if i < last {
					add(&res, Violation{What: "appends out of order", Node: op.Node, Op: &op, Value: a.id, Time: op.Time,
						Detail: fmt.Sprintf("the read of %s returns %s before %s, but the primary placed %s first", path, a.id, lastID, lastID)})
				}
				last, lastID = i, a.id
			}
		case "list":
			op := p.done
			for path, t := range created {
				di, del := deleteInv[path]
				if t < p.inv.Time && (!del || di > p.done.Time) && !slices.Contains(p.v.Paths, path) {
					add(&res, Violation{What: "created file missing from list", Node: op.Node, Op: &op, Value: path, Time: op.Time,
						Detail: fmt.Sprintf("%s was created at %s and never deleted, but the list that began at %s does not show it", path, t, p.inv.Time)})
				}
			}
			for path, t := range deleted {
				if t < p.inv.Time && slices.Contains(p.v.Paths, path) {
					add(&res, Violation{What: "deleted file in list", Node: op.Node, Op: &op, Value: path, Time: op.Time,
						Detail: fmt.Sprintf("%s was deleted at %s, but the list that began at %s still shows it", path, t, p.inv.Time)})
				}
			}
			for _, path := range p.v.Paths {
				if t, ok := createInv[path]; !ok || t > p.done.Time {
					add(&res, Violation{What: "list shows a file never created", Node: op.Node, Op: &op, Value: path, Time: op.Time,
						Detail: fmt.Sprintf("the list shows %s, which no create had asked for by then", path)})
				}
			}
		}
	}
	integ.Details, res.Details = det, det
	integ.Summary = fmt.Sprintf("%d reads returned %d records", det.Reads, det.RecordsRead)
	if integ.Valid == Invalid {
		integ.Summary += fmt.Sprintf("; %d corrupt (first: %s)", len(integ.Violations), integ.Violations[0].Detail)
	} else {
		integ.Summary += ", every one a record its writer sent"
	}
	res.Summary = fmt.Sprintf("%d appends, %d acknowledged; %d reads, each holding every append acknowledged before it began, in the primaries' order",
		det.Appends, det.AckedAppends, det.Reads)
	if det.Duplicates > 0 {
		res.Summary += fmt.Sprintf("; %d record ids came back more than once in one read (readers should drop duplicates)", det.Duplicates)
	}
	if res.Valid == Invalid {
		res.Summary += "; first violation: " + res.Violations[0].Detail
	}
	return []Result{integ, res}
}

// DFSRepair checks re-replication: a locate that began at least Bound
// after the last fault step (kill, corrupt, restart) must show every
// chunk on min(Replicas, live chunk servers) live chunk servers and on no
// dead one. It also measures, for each fault step, how long until a
// locate showed every chunk fully replicated again.
func DFSRepair(h history.History, p DFSParams) Result {
	res := Result{Checker: "dfs-repair", Valid: Valid}
	det := DFSRepairDetails{Bound: p.Bound}
	steps := DownSteps(h, true)
	det.FaultSteps = len(steps)
	stateAt := func(t time.Duration) (last time.Duration, dn map[string]bool, idx int) {
		last, dn, idx = -1, map[string]bool{}, -1
		for i, s := range steps {
			if s.At <= t {
				last, dn, idx = s.At, s.Down, i
			}
		}
		return
	}
	repairedAt := make([]time.Duration, len(steps))
	for i := range repairedAt {
		repairedAt[i] = -1
	}
	for _, pr := range dfsPairs(h) {
		if pr.inv.F != "locate" || !pr.ok {
			continue
		}
		det.Locates++
		lastInv, dnInv, idxInv := stateAt(pr.inv.Time)
		lastDone, dn, _ := stateAt(pr.done.Time)
		live := 0
		for _, s := range p.ChunkServers {
			if !dn[s] && !dnInv[s] {
				live++
			}
		}
		target := min(p.Replicas, live)
		var short []DFSChunk
		for _, c := range pr.v.Chunks {
			n := 0
			for _, r := range c.Replicas {
				if !dn[r] && !dnInv[r] {
					n++
				}
			}
			if n == 0 && live < len(p.ChunkServers) {
				// Every copy may be on the dead servers: nothing to copy
				// from until one comes back.
				det.Unavailable++
				continue
			}
			if n < target || n < len(c.Replicas) {
				short = append(short, c)
			}
		}
		if len(short) > 0 {
			det.UnderReplSeen++
			det.MaxUnderRepl = max(det.MaxUnderRepl, len(short))
		} else if idxInv >= 0 && lastDone == lastInv && repairedAt[idxInv] < 0 && !pr.inv.Final {
			// Final-phase locates come after a quiet period, not as soon as
			// the repair was done: they would only time the quiet period.
			repairedAt[idxInv] = pr.done.Time - steps[idxInv].At
		}
		if lastDone != lastInv || (lastInv >= 0 && pr.inv.Time-lastInv < p.Bound) {
			continue // faults too recent to judge
		}
		det.Judged++
		if len(short) > 0 {
			op := pr.done
			c := short[0]
			var dead []string
			for _, r := range c.Replicas {
				if dn[r] {
					dead = append(dead, r)
				}
			}
			res.Valid = Invalid
			if len(res.Violations) < 8 {
				res.Violations = append(res.Violations, Violation{What: "chunk not re-replicated in time", Node: op.Node, Op: &op, Value: c, Time: op.Time,
					Detail: fmt.Sprintf("chunk %d of %s is on %v (dead among them: %v) %s after the last fault step; want %d live replicas within %s",
						c.Index, c.Path, c.Replicas, dead, pr.inv.Time-max(lastInv, 0), target, p.Bound)})
			}
		}
	}
	var times []time.Duration
	for _, t := range repairedAt {
		if t >= 0 {
			times = append(times, t)
		}
	}
	det.Repaired = len(times)
	slices.Sort(times)
	if len(times) > 0 {
		det.RepairP50, det.RepairMax = times[len(times)/2], times[len(times)-1]
	}
	res.Details = det
	res.Summary = fmt.Sprintf("%d locates, %d judged (>= %s after the last fault step); %d fault steps, fully replicated again after %d of them: p50 %s, max %s",
		det.Locates, det.Judged, p.Bound, det.FaultSteps, det.Repaired, det.RepairP50.Round(time.Millisecond), det.RepairMax.Round(time.Millisecond))
	if res.Valid == Invalid {
		res.Summary += "; first violation: " + res.Violations[0].Detail
	} else if det.Judged == 0 {
		res.Valid = Unknown
		res.Summary += "; no locate could be judged"
	}
	return res
}
