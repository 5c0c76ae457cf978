#!/usr/bin/env bash
# .ci/goversion.sh: go.mod's `go` line and the README agree on the Go
# releases the project supports. The root go.mod's line is the minimum
# ("go 1.26.0" means Go 1.26 or newer); every other go.mod in the repository
# (bench/, say) must ask for the same, and the README must say
# "Go X.Y or newer" with that X.Y.
set -euo pipefail
cd "$(dirname "$0")/.."

goline() { awk '$1 == "go" {print $2; exit}' "$1"; }
want=$(goline go.mod)
[ -n "$want" ] || { echo "goversion: go.mod has no go line" >&2; exit 1; }
minor=$(echo "$want" | cut -d. -f1,2)
status=0
for mod in $(git ls-files '*go.mod' 2>/dev/null || echo go.mod); do
	case $mod in */testdata/*) continue ;; esac
	got=$(goline "$mod")
	if [ "$got" != "$want" ]; then
		echo "goversion: $mod says go $got, go.mod says go $want" >&2
		status=1
	fi
done
if ! grep -q "Go $minor or newer" README.md; then
	echo "goversion: README.md does not say \"Go $minor or newer\" (go.mod: go $want); these are the releases:" >&2
	grep -n -o 'Go 1\.[0-9]*[^.]*' README.md >&2 || true
	status=1
fi
[ $status = 0 ] && echo "goversion: go.mod (go $want) and README.md agree: Go $minor or newer"
exit $status
