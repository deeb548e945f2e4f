# The curriculum's entry points. See README.md.
#
#   make track-<name> [STAGE=s] [BIN=path] [MAELSTROM=launcher] [JOBS=n]   grade a track
#   make start-<name> DIR=path [LANG=go|python]                    write a starter node
#   make grade TRACK=t[,t] SUBMISSIONS="a b" [STAGE=s] [OUT=dir] [JOBS=n]   grade a class
#   make test                                                      every test + CI gradings
#   make sweep [SEEDS=20] [FROM=1] [TRACKS_SWEPT="store elector"]   every stage, many seeds
#   make build | lint | bench | bench-grader | bench-gossiper | bench-networker | bench-caches | bench-loadbalancers | bench-searcher | bench-mapreducer

GO        ?= go
TRACKS    := $(shell grep -v '^\#' scripts/tracks.txt | cut -f1)
BUILT     := $(patsubst tracks/%/stages.tsv,%,$(wildcard tracks/*/stages.tsv))
CMDS      := $(patsubst cmd/%/,%,$(wildcard cmd/*/))
# Packages tested under the race detector: the runtime and the grader.
RACE_PKGS := ./internal/... ./maelstrom/...
# The built tracks' own packages, whose grade_test.go grades stages.tsv
# (maelstrom/gradetest); they take -sweep N.
GRADE_PKGS := $(addprefix ./tracks/,$(BUILT))
MODULE     := $(shell $(GO) list -m)
# Seeds every stage is graded with by make test, so a stage that holds on
# one seed only cannot land; make sweep takes SEEDS (default 20). With all 28
# tracks built, the whole of make test on a fresh clone with empty Go caches
# took 1045 s on an idle 2-core machine (two seeds of every stage in-process,
# each track's ci stage in process mode); CI allows 30 minutes.
CI_SEEDS   ?= 2
SEEDS      ?= 20
FROM       ?= 1
TRACKS_SWEPT ?= $(BUILT)

.PHONY: grade build test sweep test-unit test-grade lint bench bench-grader bench-gossiper bench-networker bench-caches bench-loadbalancers bench-searcher bench-mapreducer clean tracks $(addprefix track-,$(TRACKS)) $(addprefix start-,$(TRACKS))

build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

tracks:
	@for t in $(TRACKS); do \
	  if [ -f tracks/$$t/stages.tsv ]; then s=built; else s="not built yet"; fi; \
	  printf '%-14s %s\n' $$t "$$s"; done

# make track-<name>: build, then grade every stage (or STAGE=) of the track.
$(addprefix track-,$(TRACKS)): track-%:
	@if [ ! -f tracks/$*/stages.tsv ]; then \
	  echo "track $* is not built yet (see the status table in README.md)" >&2; exit 2; fi
	@$(MAKE) --no-print-directory build
	BIN=$(BIN) MAELSTROM=$(MAELSTROM) JOBS=$(JOBS) scripts/grade-track.sh $* $(STAGE)

# make start-<name> DIR=path [LANG=go|python]: a starter node for the track.
# LANG counts only from the command line: the environment's LANG is a locale.
$(addprefix start-,$(TRACKS)): start-%:
	@if [ ! -f tracks/$*/stages.tsv ]; then \
	  echo "track $* is not built yet (see the status table in README.md)" >&2; exit 2; fi
	@$(GO) run ./cmd/starter $* "$(DIR)" "$(if $(filter command line,$(origin LANG)),$(LANG),go)"

# make grade: grade submissions (binaries or directories) against a track's
# stages; Gradescope results.json and JUnit XML per submission in OUT.
grade: build
	@if [ -z "$(TRACK)" ] || [ -z "$(SUBMISSIONS)" ]; then \
	  echo 'usage: make grade TRACK=name[,name] SUBMISSIONS="path..." [STAGE=s] [OUT=dir] [JOBS=n]' >&2; exit 2; fi
	bin/maelstrom grade --track $(TRACK) $(if $(STAGE),--stage $(STAGE)) --out $(or $(OUT),grades) --jobs $(or $(JOBS),1) $(SUBMISSIONS)

test: test-unit test-grade

test-unit:
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e '/internal/' -e '/maelstrom' $(patsubst %,-e '^$(MODULE)/tracks/%$$',$(BUILT)))
	$(GO) test -count=1 $(GRADE_PKGS) -args -sweep $(CI_SEEDS)

# make sweep: grade every stage of every built track (or TRACKS_SWEPT)
# in-process with SEEDS seeds from FROM on; prints one line per stage with
# its hit rate. Process-only stages (networker) are graded as processes.
sweep:
	@$(GO) test -count=1 -timeout 60m -v -run '^TestGrade' $(addprefix ./tracks/,$(TRACKS_SWEPT)) -args -sweep $(SEEDS) -sweep-from $(FROM) \
	  | awk -F'\t' '/^sweep\t/ {print; split($$4, n, "[/ ]"); if (n[1] != n[2]) bad++} /^\tseed [0-9]+: / {print} /^(FAIL|ok|panic)/ {print} /^(FAIL|panic)/ {bad++} END {exit bad > 0}'

# One short process-mode grading per built track, of the real binary.
test-grade: build
	@for t in $(BUILT); do \
	  CI_MODE=1 scripts/grade-track.sh $$t || exit 1; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

# The grader's three speed figures (see maelstrom/bench_test.go): sim/wall
# and sim/cpu (25-node broadcast, target >= 50 at rate=100), msgs/s (routed
# messages, target >= 50,000), ms-to-first-op and wall-ms (30 s scenario).
bench-grader:
	$(GO) test -run '^$$' -bench '^Benchmark(SimulatedOverWall|RoutedThroughput|StartToFirstOp|ProcessStartToFirstOp)$$' -benchtime 3x -cpu 2 ./maelstrom/

# Hit ratio and speed of the caches track's policies beside golang-lru and
# ristretto on the same Zipf traces (tracks/caches/README.md).
bench-caches:
	$(GO) test -run '^$$' -bench HitRatio -benchtime 300000x ./tracks/caches/policy/

bench-loadbalancers:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./tracks/loadbalancers/

bench-gossiper:
	$(GO) test -run '^$$' -bench BenchmarkStrategies -benchtime 1x -v ./tracks/gossiper/

bench-networker:
	$(GO) test -run '^$$' -bench . ./tracks/networker/...

bench-searcher:
	$(GO) test -run '^$$' -bench SearchEngines -benchtime 1x -timeout 30m ./tracks/searcher/index/

# Word count over the Go distribution's sources, sequential against 1-8 map
# goroutines on 1 and 2 cores, and the stream processor's records/s
# (tracks/mapreducer/README.md).
bench-mapreducer:
	$(GO) test -run '^$$' -bench WordCount -benchtime 3x -cpu 1,2 ./tracks/mapreducer/mr/
	$(GO) test -run '^$$' -bench Processor ./tracks/mapreducer/stream/

clean:
	rm -rf bin store
