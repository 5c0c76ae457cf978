#!/usr/bin/env bash
# .ci/darwin.sh: what can be checked of the macOS build on Linux. Nothing here
# can run a macOS binary, and there is no macOS C toolchain, so this vets the
# CGO_ENABLED=0 build for arm64 and amd64 and compiles (but never runs) the
# test binary of every package that has tests. The cgo files are not
# compiled for macOS here; docs/platforms.md says so. The one piece of
# macOS-only cgo, sync/wake's os_sync_wait_on_address file, is at least
# compiled and run on Linux against futex stand-ins (step 3).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS

# 1. Vet the pure-Go build.
export GOOS=darwin CGO_ENABLED=0
# bench/ is its own module (bench/go.mod): vetted and built from there.
for arch in arm64 amd64; do
	echo "== GOOS=darwin GOARCH=$arch CGO_ENABLED=0 go vet ./... (and in bench/)"
	GOARCH=$arch go vet ./...
	(cd bench && GOARCH=$arch go vet ./...)
done

# 2. Build (never run) every test binary.
export GOARCH=arm64
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
for mod in . bench; do
	pkgs=$(cd "$mod" && go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...)
	for pkg in $pkgs; do
		bin=$out/$(echo "${pkg#github.com/shmchan/shmchan/}" | tr / _).test
		(cd "$mod" && go test -c -o "$bin" "$pkg")
		n=$((n + 1))
	done
done

# 3. sync/wake/wake_darwin.go on the Linux host: a copy of the package with
# that file's build line set to cgo, the stand-ins of .ci/darwin linked in and
# exported for dlsym, and the package's tests, plus one that checks the
# stand-ins were called (the native path) and not the polling fallback.
if command -v gcc >/dev/null; then
	echo "== sync/wake/wake_darwin.go on linux/cgo against os_sync stand-ins"
	w=$out/wake
	mkdir -p "$w/c"
	cp sync/wake/wake.go sync/wake/wake_test.go "$w/"
	cp sync/wake/c/shim_darwin.h "$w/c/"
	sed '1s|^//go:build .*|//go:build linux|' sync/wake/wake_poll.go >"$w/wake_poll.go"
	sed -e '1s|^//go:build .*|//go:build linux \&\& cgo|' \
		-e 's|^#cgo CFLAGS: .*|& -D_GNU_SOURCE\n#cgo LDFLAGS: -rdynamic|' \
		sync/wake/wake_darwin.go >"$w/wake_darwin_on_linux.go"
	cp .ci/darwin/os_sync_standin.c "$w/"
	cat >"$w/standin.go" <<'GO'
package wake

// extern int standin_calls;
// static int calls(void) { return __atomic_load_n(&standin_calls, __ATOMIC_SEQ_CST); }
import "C"

func standinCalls() int { return int(C.calls()) }
GO
	cat >"$w/standin_test.go" <<'GO'
package wake

import (
	"testing"
	"time"
)

func TestNativePath(t *testing.T) {
	if osSync().wait == nil {
		t.Fatal("dlsym did not find os_sync_wait_on_address_with_timeout")
	}
	before := standinCalls()
	var v uint32
	w, err := Open(&v, "standin")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Wait(0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if standinCalls() == before {
		t.Fatal("Wait polled instead of calling os_sync_wait_on_address_with_timeout")
	}
}
GO
	printf 'module wakedarwin\n\ngo 1.22\n' >"$w/go.mod"
	(cd "$w" && GOOS=linux GOARCH= CGO_ENABLED=1 GOFLAGS=-mod=mod go vet . && GOOS=linux GOARCH= CGO_ENABLED=1 GOFLAGS=-mod=mod go test -count=1 .)
fi

echo "== darwin.sh: vetted darwin/arm64 and darwin/amd64, built $n test binaries for darwin/arm64 (none run), in $((SECONDS - t0)) s"
