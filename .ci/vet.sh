#!/usr/bin/env bash
# .ci/vet.sh: go vet for every GOOS/GOARCH the library claims (linux,
# darwin, windows x amd64, arm64), once with CGO_ENABLED=0 and once with
# cgo wherever this machine has a C compiler for the target: vet type-checks
# the cgo files only after cgo has run the target's C compiler over them.
#
#   linux/amd64    cgo with gcc
#   linux/arm64    cgo with aarch64-linux-gnu-gcc
#   windows/amd64  cgo with x86_64-w64-mingw32-gcc
#   windows/arm64  CGO_ENABLED=0 only: Debian has no aarch64 mingw-w64
#   darwin/*       CGO_ENABLED=0 only: there is no macOS C toolchain on Linux
#                  (.ci/darwin.sh compiles wake_darwin.go's cgo on Linux)
#
# Every module in the repository is vetted (the root, and bench/ once it
# has its own go.mod).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
status=0
mods=$(git ls-files '*go.mod' 2>/dev/null | grep -v /testdata/ | xargs -rn1 dirname || echo .)

declare -A cc=(
	[linux/amd64]=gcc
	[linux/arm64]=aarch64-linux-gnu-gcc
	[windows/amd64]=x86_64-w64-mingw32-gcc
)
n=0
for os in linux darwin windows; do
	for arch in amd64 arm64; do
		builds=(0)
		c=${cc[$os/$arch]:-}
		if [ -n "$c" ]; then
			if command -v "$c" >/dev/null; then
				builds+=(1)
			else
				echo "vet: $c not found: cannot vet $os/$arch with cgo (run .ci/deps.sh)" >&2
				status=1
			fi
		fi
		for cgo in "${builds[@]}"; do
			for mod in $mods; do
				env=(GOOS=$os GOARCH=$arch CGO_ENABLED=$cgo)
				[ "$cgo" = 1 ] && env+=(CC="$c")
				echo "== vet $mod: ${env[*]}"
				(cd "$mod" && env "${env[@]}" go vet ./...) || status=1
				n=$((n + 1))
			done
		done
	done
done
echo "== vet.sh: $n runs (6 GOOS/GOARCH pairs, cgo for linux/amd64, linux/arm64, windows/amd64), status $status, in $((SECONDS - t0)) s"
exit $status
