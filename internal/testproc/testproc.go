// Package testproc runs a test binary's own code in child processes, in the
// helper-process pattern of Go's os/exec tests.
//
// A package registers child roles before its tests start (in an init
// function) and hands its TestMain to Main:
//
//	func init() {
//		testproc.Register("open-and-check", openAndCheck)
//	}
//
//	func TestMain(m *testing.M) { testproc.Main(m) }
//
// A test starts a role in a child process with Command, which re-executes the
// test binary (os.Executable) with RoleEnv set to the role's name. In the
// child, Main runs the role instead of the tests and exits with the role's
// result. In the parent, Main runs the tests and then fails the run if a
// registered role was never started by any test: a helper that nothing uses
// is dead code that only looks like coverage.
//
// A role reports through its exit code and its standard output; its standard
// error goes to the log of the test that started it, so a failing child
// explains itself in the parent's failure.
//
// For tests across builds, BuildTest builds the package's test binary with a
// different environment (CGO_ENABLED=0, say) and CommandPath starts a role in
// it. Name gives each test a unique, portable name for the shared objects it
// creates.
//
// testproc knows nothing about shared memory, so every package can use it;
// removing the objects a test creates is the test's own job.
package testproc

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RoleEnv is the environment variable that names the role a re-executed test
// binary plays. It is empty or unset in the parent.
const RoleEnv = "SHMCHAN_TEST_ROLE"

var (
	mu    sync.Mutex
	roles = map[string]func(args []string) int{}
	used  = map[string]bool{}
)

// Register makes fn the body of role: a child started with Command(t, role,
// args...) runs fn(args) and exits with its result. fn runs after the test
// flags are parsed (testing.Short reports the parent's -test.short) but
// outside any test, so it has no *testing.T: it reports failures on standard
// error and returns non-zero.
//
// Register must be called before Main, from an init function or a package
// variable's initialiser. It panics if role is empty or already registered.
func Register(role string, fn func(args []string) int) {
	mu.Lock()
	defer mu.Unlock()
	switch {
	case role == "" || strings.ContainsAny(role, "= \t\n"):
		panic(fmt.Sprintf("testproc: bad role name %q", role))
	case fn == nil:
		panic("testproc: nil function for role " + role)
	case roles[role] != nil:
		panic("testproc: role registered twice: " + role)
	}
	roles[role] = fn
}

// Main is the whole TestMain of a package whose tests start children:
// os.Exit(Run(m)).
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain that has more to do after the tests. In a child
// it runs the role and exits, never returning (see Dispatch). In the parent
// it runs the tests and returns the exit code for os.Exit: m.Run's, or 1 if
// the tests passed but a registered role was never started. That check is
// skipped when -test.run, -test.skip or -test.list select a subset of the
// tests.
func Run(m *testing.M) int {
	Dispatch()
	code := m.Run()
	if code != 0 || subset() {
		return code
	}
	mu.Lock()
	defer mu.Unlock()
	var unused []string
	for role := range roles {
		if !used[role] {
			unused = append(unused, role)
		}
	}
	if len(unused) == 0 {
		return code
	}
	slices.Sort(unused)
	for _, role := range unused {
		fmt.Fprintf(os.Stderr, "testproc: role %q is registered but no test started it; use it or remove it\n", role)
	}
	fmt.Fprintln(os.Stderr, "FAIL")
	return 1
}

// Dispatch does nothing in the parent. In a child (RoleEnv is set) it parses
// the test flags, runs the role with the arguments that follow "--", and
// exits with the role's result; an unknown role exits with status 2. A
// TestMain that must do work in the parent only calls Dispatch first.
func Dispatch() {
	role, ok := os.LookupEnv(RoleEnv)
	if !ok || role == "" {
		return
	}
	mu.Lock()
	fn := roles[role]
	mu.Unlock()
	if fn == nil {
		fmt.Fprintf(os.Stderr, "testproc: %s=%q names no registered role\n", RoleEnv, role)
		os.Exit(2)
	}
	if !flag.Parsed() {
		flag.Parse() // stops at the "--" that Command puts before the role's arguments
	}
	os.Exit(fn(flag.Args()))
}

// subset reports whether the test flags select a subset of the tests, in
// which case a role may rightly go unused.
func subset() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

// MarkUsed records roles as used without starting them. A test calls it
// before it skips (no root, no go tool, -short) so that the skip does not
// make Run report its roles as unused.
func MarkUsed(role ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, r := range role {
		used[r] = true
	}
}

// Command returns a command that runs role in a child copy of the current
// test binary, with args. It fails the test if role is not registered.
//
// The child's standard error is copied, line by line, to the test log with
// the role as prefix; standard output and input are left for the test
// (cmd.Output works). The child is killed when the test's deadline (from
// -test.timeout) is 5 seconds away, and at the end of the test (in
// t.Cleanup) if it is still running; then its remaining output is logged.
func Command(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	mu.Lock()
	fn := roles[role]
	mu.Unlock()
	if fn == nil {
		t.Fatalf("testproc: role %q is not registered", role)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("testproc: cannot re-execute the test binary: %v", err)
	}
	return CommandPath(t, exe, role, args...)
}

// CommandPath is Command for another test binary at path: one built by
// BuildTest, or a copy of the current one (placed where another user can run
// it, say). The binary's TestMain must dispatch through this package.
func CommandPath(t testing.TB, path, role string, args ...string) *exec.Cmd {
	t.Helper()
	MarkUsed(role)

	ctx, cancel := testContext(t)
	// "-test.run=^$" is a safety net: a binary whose TestMain forgets to
	// dispatch runs no tests, instead of re-running (and re-executing) them all.
	argv := []string{"-test.run=^$"}
	if testing.Short() {
		argv = append(argv, "-test.short")
	}
	argv = append(append(argv, "--"), args...)
	prog, argv := emulated(path, argv) // EmulatorEnv: see emulator.go
	cmd := exec.CommandContext(ctx, prog, argv...)
	cmd.Env = append(withoutRole(os.Environ()), RoleEnv+"="+role)
	stderr := &logWriter{t: t, prefix: role}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second // a grandchild holding stderr cannot hang Wait

	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			t.Logf("testproc: %s (pid %d) still running at the end of the test; killing it", role, cmd.Process.Pid)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		cancel()
		stderr.close()
	})
	return cmd
}

// BuildTest builds the test binary of the package under test (the current
// directory, where go test runs it) with env added to the environment, such
// as "CGO_ENABLED=0", and returns its path inside t.TempDir(). The build
// takes seconds even from a warm cache.
//
// It skips the test if the go command is not on PATH, or if env asks for
// CGO_ENABLED=1 and the C compiler is missing. A failed build fails the test.
func BuildTest(t testing.TB, env ...string) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("testproc: cannot build a test binary: go command not found: %v", err)
	}
	ctx, cancel := testContext(t)
	defer cancel()
	environ := append(os.Environ(), env...)

	if slices.Contains(env, "CGO_ENABLED=1") {
		out, err := goCommand(ctx, gotool, environ, "env", "CC").Output()
		if err != nil {
			t.Fatalf("testproc: go env CC: %v", err)
		}
		cc := strings.Fields(string(out))
		if len(cc) == 0 {
			t.Skipf("testproc: cannot build with %v: go env CC is empty", env)
		}
		if _, err := exec.LookPath(cc[0]); err != nil {
			t.Skipf("testproc: cannot build with %v: no C compiler: %v", env, err)
		}
	}

	bin := filepath.Join(t.TempDir(), "child.test")
	start := time.Now()
	cmd := goCommand(ctx, gotool, environ, "test", "-c", "-vet=off", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testproc: go test -c with %v: %v\n%s", env, err, out)
	}
	t.Logf("testproc: built the test binary with %v in %v", env, time.Since(start).Round(time.Millisecond))
	return bin
}

func goCommand(ctx context.Context, gotool string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, gotool, args...)
	cmd.Env = withoutRole(env)
	return cmd
}

// MaxNameLen is the longest name Name returns. It is the portable limit of
// a shared-memory name (macOS allows 31 bytes including the leading slash).
const MaxNameLen = 30

var counter atomic.Uint64

// Name returns a name for a shared object that no other call in any live
// process returns: ProcessPrefix(prefix) followed by a counter, such as
// "shmtest-4711-3". It fails the test if prefix has a byte other than ASCII
// letters, digits, '_', '-' and '.', starts with '-' or '.', or is so long
// that the name exceeds MaxNameLen bytes.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", ProcessPrefix(prefix), counter.Add(1))
	if err := checkName(name); err != nil {
		t.Fatalf("testproc.Name(%q): %v", prefix, err)
	}
	return name
}

// ProcessPrefix returns the start that every Name(t, prefix) of this process
// shares: prefix, '-', the process id and '-'. A leak check lists the objects
// whose names start with it.
func ProcessPrefix(prefix string) string {
	return fmt.Sprintf("%s-%d-", prefix, os.Getpid())
}

func checkName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%q is %d bytes, the limit is %d", name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '-' || c == '.') && i > 0:
		default:
			return fmt.Errorf("%q has byte %q at %d", name, c, i)
		}
	}
	return nil
}

// testContext returns a context that ends 5 seconds before the test's
// deadline, if it has one, leaving time to report a hung child.
func testContext(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), deadline.Add(-5*time.Second))
		}
	}
	return context.WithCancel(context.Background())
}

func withoutRole(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, RoleEnv+"=")
	})
}

// logWriter copies a child's output to the test log, a line at a time. After
// close it drops what comes, since the test may have ended.
type logWriter struct {
	t      testing.TB
	prefix string

	mu     sync.Mutex
	buf    []byte
	closed bool
}

// Write logs each complete line of p, keeping a partial line for the next call.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Logf("[%s] %s", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 && !w.closed {
		w.t.Logf("[%s] %s", w.prefix, w.buf)
	}
	w.buf, w.closed = nil, true
}
