# shmchan: shared-memory channels for Go and C.
#
#   make demo    two processes exchange messages over a channel (and a unix socket, for comparison)
#   make test    everything CI runs: installs what is missing (.ci/deps.sh), then
#                vet (every GOOS/GOARCH), gofmt, staticcheck, unit/cross-process tests
#                with and without cgo and under -race, short fuzz runs, the C library's
#                tests, the Windows suites under Wine, the macOS builds, linux/arm64
#                under qemu, the Python binding, and the examples
#   make bench   the benchmark suite; writes docs/benchmarks.md and the charts
#   make ci      what .ci/run runs after installing dependencies (= make test)

GO        ?= go
FUZZTIME  ?= 10s
GOFILES    = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go')

.PHONY: all demo test test-go test-race test-nocgo vet vet-bsd fmt fmt-check fuzz c c-check install \
        windows darwin examples bench ci clean deps goversion arm64 python staticcheck

all: vet test-go

demo:
	$(GO) run ./examples/pingpong

test: deps goversion fmt-check vet staticcheck test-go test-race test-nocgo fuzz c-check examples windows darwin arm64 python
	@echo "make test: all suites passed"

# go vet for linux, darwin, windows x amd64, arm64, with cgo where a C
# compiler for the target exists (.ci/vet.sh says which), and the BSDs.
vet: vet-bsd
	bash .ci/vet.sh

# Unixes without segments (internal/platform's *_other.go: ErrUnsupported):
# every package must build there, with and without cgo. A cgo vet needs the
# target's C toolchain for runtime/cgo: where `go env CC` names none (clang
# for FreeBSD and OpenBSD is not installed here) it is skipped, saying so;
# where it exists, a failure fails.
BSDS = freebsd openbsd netbsd
vet-bsd:
	@for os in $(BSDS); do \
		echo "GOOS=$$os CGO_ENABLED=0 $(GO) vet ./..."; \
		GOOS=$$os CGO_ENABLED=0 $(GO) vet ./... || exit 1; \
		cc=$$(GOOS=$$os CGO_ENABLED=1 $(GO) env CC); \
		if command -v "$$cc" >/dev/null 2>&1; then \
			echo "GOOS=$$os CGO_ENABLED=1 $(GO) vet ./..."; \
			GOOS=$$os CGO_ENABLED=1 $(GO) vet ./... || exit 1; \
		else \
			echo "GOOS=$$os CGO_ENABLED=1: skipped, no C compiler $$cc for $$os here"; \
		fi; \
	done

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
	CGO_ENABLED=0 $(GO) test -p 1 -count=1 -timeout 15m ./shm/... ./sync/... ./internal/... ./cmd/...

# Short runs of every fuzz target over untrusted shared memory.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzConsumer$$' -fuzztime $(FUZZTIME) ./sync/ring/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenChannel$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenMailbox$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzDial$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./shm/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./sync/seqlock/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./internal/inspect/

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

# ---- issue 15: fresh machine, Go checks, linux/arm64, Python ----------------
# Every tool the suites need, installed with apt-get when root, else the
# exact command to run; then the Go modules.
deps:
	bash .ci/deps.sh
# go.mod's go line and the README's "Go X.Y or newer" agree.
goversion:
	bash .ci/goversion.sh
# staticcheck, pinned; run by go run so that nothing is installed.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
staticcheck:
	bash .ci/staticcheck.sh $(STATICCHECK)
# The shm, sync, internal and C test suites cross-built for linux/arm64 and
# run under qemu-aarch64-static.
arm64:
	bash .ci/arm64.sh
# The Python binding (python/shmchan over libshmchan.so) against Go peers.
python:
	bash .ci/python.sh
# ---- end of issue 15 ---------------------------------------------------------

clean:
	$(MAKE) -C shm/c clean
	$(GO) clean -testcache

# The SPIN models of the channel and mailbox protocols (model/, issue 12):
# every clean model must pass, every mutant must fail, and the STEP tags must
# match docs/layout.md. Needs spin and gcc (Debian: apt-get install spin gcc).
# make test runs the same tests through test-go (go test ./...).
.PHONY: model
model:
	$(GO) test -count=1 -v -run 'TestModels|TestMutants|TestSteps' ./model/
