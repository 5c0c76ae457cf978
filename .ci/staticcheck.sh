#!/usr/bin/env bash
# .ci/staticcheck.sh [PKG@VERSION]: staticcheck (honnef.co/go/tools) at a
# pinned version, through go run so that nothing is installed, over every
# module of the repository, for linux (cgo), windows and darwin (each
# CGO_ENABLED=0): each OS has files the others do not compile.
# A finding that is wrong for this code is disabled on its line with
# //lint:ignore CHECK reason.
set -euo pipefail
cd "$(dirname "$0")/.."
sc=${1:-honnef.co/go/tools/cmd/staticcheck@v0.8.2}
t0=$SECONDS
status=0
mods=$(git ls-files '*go.mod' 2>/dev/null | grep -v /testdata/ | xargs -rn1 dirname || echo .)
for target in linux/1 windows/0 darwin/0; do
	os=${target%/*} cgo=${target#*/}
	for mod in $mods; do
		echo "== staticcheck $mod: GOOS=$os CGO_ENABLED=$cgo"
		# go run builds the tool for this host; -exec hands the target's
		# environment to the tool alone.
		(cd "$mod" && go run -exec "env GOOS=$os CGO_ENABLED=$cgo" "$sc" ./...) || status=1
	done
done
echo "== staticcheck.sh: $sc, status $status, in $((SECONDS - t0)) s"
exit $status
