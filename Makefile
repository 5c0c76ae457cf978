# shmchan: shared-memory channels for Go and C.
#
#   make demo    two processes exchange messages over a channel (and a unix socket, for comparison)
#   make test    everything CI runs: vet, gofmt, unit/cross-process tests with and
#                without cgo and under -race, short fuzz runs, the C library's tests,
#                the Windows suites under Wine, the macOS builds, and the examples
#   make bench   the benchmark suite; writes docs/benchmarks.md and the charts
#   make ci      what .ci/run runs after installing dependencies (= make test)

GO        ?= go
FUZZTIME  ?= 10s
GOFILES    = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go')

.PHONY: all demo test test-go test-race test-nocgo vet fmt fmt-check fuzz c c-check install \
        windows darwin examples bench ci clean

all: vet test-go

demo:
	$(GO) run ./examples/pingpong

test: fmt-check vet test-go test-race test-nocgo fuzz c-check examples windows darwin
	@echo "make test: all suites passed"

# bench/ is its own module (bench/go.mod: gonum/plot and the other report
# dependencies stay out of the library's go.mod), so ./... at the root does
# not reach it: every target that covered it names it.
vet:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...
	cd bench && $(GO) vet ./...
	cd bench && CGO_ENABLED=0 $(GO) vet ./...

fmt:
	gofmt -w $(GOFILES)

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The full suite with cgo (the default on Linux): 10 million messages per wait
# strategy, 200 crash trials each way. One package at a time (-p 1): two
# packages' spinning processes on a 2-core machine would starve each other.
test-go:
	$(GO) test -p 1 -count=1 -timeout 15m ./...
	cd bench && $(GO) test -p 1 -count=1 -timeout 15m ./...
	cd examples/grpc && $(GO) test -p 1 -count=1 -timeout 10m ./...

# In-process tests under the race detector; cross-process workloads scale down.
test-race:
	$(GO) test -p 1 -race -count=1 -timeout 15m ./...
	cd bench && $(GO) test -p 1 -race -count=1 -timeout 15m ./...

# The pure-Go path (CGO_ENABLED=0) on its own, cross-process tests included.
test-nocgo:
	CGO_ENABLED=0 $(GO) test -p 1 -count=1 -timeout 15m ./shm/... ./sync/... ./internal/...

# Short runs of every fuzz target over untrusted shared memory.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzConsumer$$' -fuzztime $(FUZZTIME) ./sync/ring/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenChannel$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenMailbox$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzDial$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./sync/seqlock/

# The C API: static library, examples, tests (also under ASan/UBSan), C++ check.
c:
	$(MAKE) -C shm/c
c-check:
	$(MAKE) -C shm/c check
install:
	$(MAKE) -C shm/c install

# Every example, each run for a few seconds.
examples:
	bash .ci/examples.sh

windows:
	bash .ci/windows.sh
darwin:
	bash .ci/darwin.sh

bench:
	bash bench/run.sh

ci: test

clean:
	$(MAKE) -C shm/c clean
	$(GO) clean -testcache
