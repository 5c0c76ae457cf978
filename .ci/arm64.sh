#!/usr/bin/env bash
# .ci/arm64.sh: linux/arm64 on this x86-64 host. Cross-builds the test
# binaries of shm, sync/... and internal/... for GOARCH=arm64, with cgo
# (aarch64-linux-gnu-gcc) and without, and the C library and its tests with
# aarch64-linux-gnu-gcc, and runs them all under qemu-aarch64-static (user
# mode), cross-process tests included. docs/platforms.md says what this
# proves and what it does not.
#
# Each binary is started through the emulator explicitly, whether or not
# binfmt_misc knows arm64 binaries (in a container it usually does not):
# QEMU_LD_PREFIX gives the dynamically linked ones the arm64 libc, and
# SHMCHAN_TEST_EMULATOR (internal/testproc) makes every child that a test
# binary starts from os.Executable() run under the emulator too. A test
# that builds a test binary of another build (testproc.BuildTest) runs the
# host's go command with GOARCH=arm64 and CC from this environment.
#
# Under emulation each cross-process stress test sends SHMCHAN_STRESS_N
# messages per wait strategy (default here 1,000,000; 10,000,000 natively);
# everything else runs at its full size.
#
# Environment: SHMCHAN_ARM64_PKGS overrides the Go packages under test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$SECONDS

QEMU=qemu-aarch64-static
XCC=aarch64-linux-gnu-gcc
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export SHMCHAN_TEST_EMULATOR=$QEMU
export SHMCHAN_STRESS_N=${SHMCHAN_STRESS_N:-1000000}
for tool in "$QEMU" "$XCC"; do
	command -v "$tool" >/dev/null || { echo "arm64: $tool not found: run .ci/deps.sh" >&2; exit 1; }
done
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then binfmt=registered; else binfmt="not registered"; fi
echo "arm64: $($QEMU --version | head -1); $XCC $($XCC -dumpversion); binfmt_misc for aarch64: $binfmt (not used)"

# shellcheck disable=SC2206
pkgs=(${SHMCHAN_ARM64_PKGS:-./shm/ ./sync/... ./internal/...})
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
summary=()

step() { printf '\n== %s\n' "$*"; }
count() { grep -c "$1" "$2" || true; }

# 1. The Go suites, once per build.
for cgo in 1 0; do
	export GOOS=linux GOARCH=arm64 CGO_ENABLED=$cgo CC=$XCC
	while read -r dir pkg; do
		[ -n "$pkg" ] || continue
		name=$(echo "${pkg#github.com/shmchan/shmchan/}" | tr / _)
		bin=$out/$name-cgo$cgo.test
		step "linux/arm64 CGO_ENABLED=$cgo: $pkg"
		if ! go test -c -o "$bin" "$pkg"; then
			summary+=("FAIL build $pkg cgo=$cgo")
			status=1
			continue
		fi
		file "$bin" | grep -q 'ARM aarch64' || { echo "arm64: $bin is not an arm64 binary" >&2; status=1; continue; }
		s=$SECONDS
		log=$out/$name-cgo$cgo.log
		# go test runs a test binary in its package's directory (testdata/).
		rc=0
		(cd "$dir" && "$QEMU" "$bin" -test.count=1 -test.timeout=20m -test.v) >"$log" 2>&1 || rc=$?
		# Top-level tests only (subtests are indented).
		counts="$(count '^--- PASS' "$log") passed, $(count '^--- FAIL' "$log") failed, $(count '^--- SKIP' "$log") skipped"
		if [ $rc = 0 ]; then
			summary+=("ok   $pkg cgo=$cgo: $counts, $((SECONDS - s)) s")
		else
			grep -v '^=== \|^    --- PASS\|^--- PASS' "$log" | tail -60
			summary+=("FAIL $pkg cgo=$cgo: $counts, $((SECONDS - s)) s")
			status=1
		fi
		# Which tests skipped, and why: go test -v streams a test's log as it
		# runs, so t.Skip's message is the last line logged before "--- SKIP".
		mapfile -t -O ${#summary[@]} summary < <(awk '/^--- SKIP: / { sub(/^--- SKIP: /, ""); print "     skipped: " $0 " -- " why; next }
			/^=== / { why = ""; next } { why = $0; sub(/^ +/, "", why) }' "$log")
	done < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}} {{.ImportPath}}{{end}}' "${pkgs[@]}")
done
unset GOOS GOARCH CGO_ENABLED CC

# 2. The C library, its tests (which fork for their cross-process cases) and
# the C examples, built by aarch64-linux-gnu-gcc into shm/c/build/arm64. No
# sanitizer run: ASan's shadow memory does not map under qemu-user.
step "C library and tests, aarch64-linux-gnu-gcc"
cbuild=build/arm64
if make -s -C shm/c BUILD=$cbuild CC=$XCC AR=aarch64-linux-gnu-ar \
	$cbuild/libshmchan.a $cbuild/test_shmchan $cbuild/producer $cbuild/consumer; then
	s=$SECONDS
	if "$QEMU" shm/c/$cbuild/test_shmchan; then
		summary+=("ok   shm/c test_shmchan $((SECONDS - s)) s")
	else
		summary+=("FAIL shm/c test_shmchan")
		status=1
	fi
	# A C consumer and the Go producer of examples/c/go, both arm64, in two
	# emulated processes: the C and Go implementations of the layout agree
	# on this architecture too.
	n=ex-arm64-$$
	s=$SECONDS
	if GOARCH=arm64 CGO_ENABLED=0 go build -o "$out/producer" ./examples/c/go/producer &&
		("$QEMU" shm/c/$cbuild/consumer "$n" >"$out/consumer.out" & c=$!
		 "$QEMU" "$out/producer" "$n" 5 && wait $c) && [ "$(wc -l <"$out/consumer.out")" -ge 5 ]; then
		summary+=("ok   examples/c: C consumer <- Go producer, $(wc -l <"$out/consumer.out") lines, $((SECONDS - s)) s")
	else
		summary+=("FAIL examples/c: C consumer <- Go producer")
		status=1
	fi
else
	summary+=("FAIL build shm/c for arm64")
	status=1
fi

step "arm64.sh summary (SHMCHAN_STRESS_N=$SHMCHAN_STRESS_N), $((SECONDS - t0)) s, status $status"
printf '%s\n' "${summary[@]}"
exit $status
