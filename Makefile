# The curriculum's entry points. See README.md.
#
#   make track-<name> [STAGE=s] [BIN=path] [MAELSTROM=launcher]   grade a track
#   make test                                                      every test + CI gradings
#   make build | lint | bench | bench-grader | bench-gossiper | bench-networker | bench-caches | bench-loadbalancers

GO        ?= go
TRACKS    := $(shell grep -v '^\#' scripts/tracks.txt | cut -f1)
BUILT     := $(patsubst tracks/%/stages.tsv,%,$(wildcard tracks/*/stages.tsv))
CMDS      := $(patsubst cmd/%/,%,$(wildcard cmd/*/))
# Packages tested under the race detector: the runtime and the grader.
RACE_PKGS := ./internal/... ./maelstrom/...

.PHONY: build test test-unit test-grade lint bench bench-grader bench-gossiper bench-networker bench-caches bench-loadbalancers clean tracks $(addprefix track-,$(TRACKS))

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
	BIN=$(BIN) MAELSTROM=$(MAELSTROM) scripts/grade-track.sh $* $(STAGE)

test: test-unit test-grade

test-unit:
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e '/internal/' -e '/maelstrom')

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

clean:
	rm -rf bin store
