#!/usr/bin/env bash
# .ci/deps.sh: make sure this machine has every tool that `make test` uses,
# and the Go modules. `make test` runs it first, so the README's two commands
# are all a fresh Debian machine with Go needs.
#
# Each tool is checked by the file or command the suites call. What is
# missing is installed with apt-get (one `apt-get update` first) when this
# runs as root with apt-get; otherwise it stops at once, before any test
# runs, and prints the exact command to run. Go itself is not installed
# here: Debian's golang package is older than go.mod asks for.
#
# Environment: SHMCHAN_DEPS_NO_INSTALL=1 only checks (and prints the command).
set -euo pipefail
cd "$(dirname "$0")/.."

# need TEST PACKAGE...: PACKAGE is missing if TEST fails. A TEST that starts
# with / is a file that must be executable; otherwise a command on PATH.
missing=()
need() {
	local test=$1
	shift
	if [[ $test == /* ]]; then
		[ -x "$test" ] && return
	else
		command -v "$test" >/dev/null 2>&1 && return
	fi
	missing+=("$@")
}

# The C library, cgo, the C++ header check, the build.
need gcc gcc libc6-dev
need g++ g++
need make make
need git git
need file file # .ci/arm64.sh checks what it built
# Windows: mingw-w64 for cgo and the C library, Wine to run the tests.
need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
need /usr/lib/wine/wine64 wine64
# linux/arm64: the cross compiler and its libc, and the user-mode emulator.
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need /usr/aarch64-linux-gnu/lib/libc.so.6 libc6-dev-arm64-cross
need qemu-aarch64-static qemu-user-static
# Role-lock tests: children in namespaces and under other uids (unshare,
# setpriv, mount); TestBigEndianRefused runs an s390x build under qemu-user.
need unshare util-linux
need setpriv util-linux
need mount mount
need qemu-s390x-static qemu-user-static
# The Promela model of the protocol.
need spin spin
# The Python binding: Debian's own interpreter and pytest (not whatever
# python3 comes first on PATH).
need /usr/bin/python3 python3
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import pytest' >/dev/null 2>&1; then
	missing+=(python3-pytest)
fi

if [ ${#missing[@]} -gt 0 ]; then
	# Unique, in order.
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
	cmd="apt-get install -y --no-install-recommends ${missing[*]}"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "${SHMCHAN_DEPS_NO_INSTALL:-}" != 1 ]; then
		echo "deps: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "deps: missing packages: ${missing[*]}" >&2
		echo "deps: run this, then make test again:" >&2
		echo "    sudo apt-get update && sudo $cmd" >&2
		exit 1
	fi
fi

# Go: present, and as new as go.mod asks.
if ! command -v go >/dev/null; then
	echo "deps: no go command on PATH; install Go $(awk '$1 == "go" {print $2}' go.mod) or newer from https://go.dev/dl/ (Debian's golang package is older)" >&2
	exit 1
fi
want=$(awk '$1 == "go" {print $2}' go.mod)
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
	echo "deps: go.mod needs Go $want, this is Go $have (GOTOOLCHAIN=$(go env GOTOOLCHAIN))" >&2
	exit 1
fi

# The Go modules of every module in the repository (the root, and bench/ if
# it has its own go.mod).
for mod in $(git ls-files 'go.mod' '*/go.mod' 2>/dev/null || echo go.mod); do
	(cd "$(dirname "$mod")" && go mod download)
done
echo "deps: all tools present ($(go env GOVERSION), gcc $(gcc -dumpversion), $(/usr/bin/python3 --version))"
