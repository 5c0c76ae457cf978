#!/usr/bin/env bash
# .ci/windows.sh: cross-compile the Windows build with mingw-w64 and run the
# shm, sync, internal and cmd test suites under Wine, with CGO_ENABLED=1 (the C
# shims) and with CGO_ENABLED=0 (golang.org/x/sys/windows). Each run logs, and
# checks, which implementation it tested (shm.Implementation()).
#
# Idempotent: it installs the toolchain only if missing, builds the
# bcryptprimitives.dll stub and the Wine prefix only when they are missing or
# stale, and stops the wineserver it started on exit. See docs/platforms.md
# and shared/WINDOWS.md for why each step is needed.
#
# Environment: SHMCHAN_WINEPREFIX (default /tmp/shmchan-wine) is the Wine
# prefix to use; SHMCHAN_WINDOWS_PKGS overrides the packages under test.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
MINGW_CC=x86_64-w64-mingw32-gcc
export WINEPREFIX=${SHMCHAN_WINEPREFIX:-/tmp/shmchan-wine}
export WINEDEBUG=-all
# Wine must not try to open windows or install Mono and Gecko.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

# shellcheck disable=SC2206
pkgs=(${SHMCHAN_WINDOWS_PKGS:-./shm/ ./sync/... ./internal/... ./cmd/...})

step() { printf '\n== %s\n' "$*"; }
t0=$SECONDS

# 1. Toolchain: mingw-w64 for cgo and the stub DLL, Wine to run the tests.
if ! command -v "$MINGW_CC" >/dev/null || [ ! -x "$WINE" ]; then
	step "installing gcc-mingw-w64-x86-64 and wine64"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 wine64 >/dev/null
fi
echo "wine: $("$WINE" --version 2>/dev/null || echo unknown); cc: $("$MINGW_CC" -dumpversion)"

# 2. The Wine prefix, created once (about 700 MB, a few seconds).
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
	step "creating the Wine prefix $WINEPREFIX"
	"$WINESERVER" -k 2>/dev/null || true
	"$WINE" wineboot --init >/dev/null 2>&1
	"$WINESERVER" -w
fi

# 3. bcryptprimitives.dll: Go >= 1.22 needs ProcessPrng, which Wine < 8.13
# lacks. The runtime looks in system32 only.
dll=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
src=$root/.ci/wine/bcryptprimitives.c
if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ] || ! grep -q ProcessPrng "$dll"; then
	step "building the bcryptprimitives.dll stub"
	"$MINGW_CC" -O2 -shared -s -Wall -Werror -o "$dll.tmp" "$src" -ladvapi32
	mv "$dll.tmp" "$dll"
fi

# 4. A persistent wineserver: every process of a test (parent and children)
# must share one, since named kernel objects live in it; keeping it up also
# saves about 2 s per test binary. -p exits 2 if one is running: stop it.
"$WINESERVER" -k 2>/dev/null || true
"$WINESERVER" -w 2>/dev/null || true
"$WINESERVER" -p
trap '"$WINESERVER" -k 2>/dev/null || true' EXIT
# The first Wine process starts Wine's own services (services.exe,
# winedevice.exe, ...), which outlive it and inherit its standard output: if
# a test binary started them, they would hold go test's pipe open until its
# WaitDelay ("Test I/O incomplete"). Start them now, pointed at /dev/null.
"$WINE" cmd /c exit </dev/null >/dev/null 2>&1 || true

export GOOS=windows GOARCH=amd64
status=0

# 5. Vet both builds.
step "go vet (windows, CGO_ENABLED=0 and CGO_ENABLED=1)"
CGO_ENABLED=0 go vet ./... || status=1
CGO_ENABLED=1 CC=$MINGW_CC go vet ./... || status=1
# bench/ is its own module (bench/go.mod).
(cd bench && CGO_ENABLED=0 go vet ./...) || status=1

# 6. The suites, once per implementation. CGO_ENABLED defaults to 0 when
# cross-compiling, even with CC set, so it is always explicit; the first go
# test prints what shm.Implementation() reports inside the test binary, and
# TestImplementationWindows fails if it is not the path asked for. -short
# scales the stress and crash tests down: under Wine their full sizes would
# measure wineserver for half an hour, not this code.
run() {
	local cgo=$1 impl=$2
	step "GOOS=windows CGO_ENABLED=$cgo: testing $impl under Wine"
	local env=(CGO_ENABLED="$cgo")
	if [ "$cgo" = 1 ]; then env+=(CC="$MINGW_CC"); fi
	local log rc=0
	if log=$(env "${env[@]}" go test -count=1 -exec "$WINE" -run '^TestImplementation' -v ./shm/ 2>&1); then
		grep -E 'Implementation\(\) = |implementation under test' <<<"$log" | sed 's/^ */shm: /'
	else
		echo "$log"
		rc=1
	fi
	env "${env[@]}" go test -short -count=1 -timeout 10m -exec "$WINE" "${pkgs[@]}" || rc=1
	return $rc
}
run 1 windows/cgo || status=1
run 0 windows/purego || status=1

# 7. Across builds: each build's shm tests start children of the other
# build's test binary (TestWindowsCrossBuild). Wine sees /tmp as Z:\tmp.
step "across builds: windows/cgo and windows/purego share segments and wake events"
bins=$(mktemp -d)
trap '"$WINESERVER" -k 2>/dev/null || true; rm -rf "$bins"' EXIT
winpath() { printf 'Z:%s' "${1//\//\\}"; }
if CGO_ENABLED=1 CC=$MINGW_CC go test -c -o "$bins/cgo.test.exe" ./shm/ &&
	CGO_ENABLED=0 go test -c -o "$bins/purego.test.exe" ./shm/; then
	pairs=("cgo purego" "purego cgo")
else
	pairs=()
	status=1
fi
for pair in "${pairs[@]}"; do
	set -- $pair
	rc=0
	out=$(SHMCHAN_WINDOWS_OTHER_BUILD=$(winpath "$bins/$2.test.exe") \
		"$WINE" "$bins/$1.test.exe" -test.run '^TestWindowsCrossBuild$' -test.v -test.timeout 2m 2>&1) || rc=$?
	if [ $rc -eq 0 ] && grep -q -- '--- PASS: TestWindowsCrossBuild' <<<"$out"; then
		grep -E 'segment: |channel: ' <<<"$out" | sed "s/^ */$1 parent, $2 child: /"
	else
		echo "$out"
		echo "FAIL: $1 parent with a $2 child"
		status=1
	fi
done

# ---- C API (shm/c) on Windows: added for issue 6 ------------------------------
# 8. The C library and its unit tests, cross-compiled with mingw-w64 and run
# under Wine (make -C shm/c windows-check; the test binary starts itself for
# its cross-process tests). Then the Go<->C interop tests of shm/c/interop,
# once per Go build: the Go test binary cannot call a C compiler inside Wine,
# so it runs the C peer that make built (SHMCHAN_C_PEER, a Windows path).
step "C API: mingw-w64 build of shm/c and its unit tests, under Wine"
make -C shm/c windows-check MINGW_CC="$MINGW_CC" WINE="$WINE" || status=1
cpeer=$root/shm/c/build/windows/peer.exe
for cgo in 1 0; do
	step "C API: Go<->C interop under Wine, Go side CGO_ENABLED=$cgo, C peer by mingw-w64"
	cenv=(CGO_ENABLED="$cgo" SHMCHAN_C_PEER="Z:${cpeer//\//\\}")
	if [ "$cgo" = 1 ]; then cenv+=(CC="$MINGW_CC"); fi
	if [ -f "$cpeer" ]; then
		env "${cenv[@]}" go test -short -count=1 -timeout 10m -exec "$WINE" ./shm/c/interop/ || status=1
	else
		echo "FAIL: $cpeer was not built"
		status=1
	fi
done
# ---- end of the C API section -------------------------------------------------

step "windows.sh: done in $((SECONDS - t0)) s, status $status"
exit $status
