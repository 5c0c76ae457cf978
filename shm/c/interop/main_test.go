package interop_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// prefix starts the name of every channel these tests create.
const prefix = "interop"

// TestMain dispatches the Go child roles and, in the parent, removes the C
// build directory and fails the run if a test left a channel in /dev/shm.
func TestMain(m *testing.M) {
	testproc.Dispatch()
	code := testproc.Run(m)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	if leaked := ownEntries(); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "interop tests left %d segments in /dev/shm: %v\n", len(leaked), leaked)
		for _, name := range leaked {
			_ = shm.Remove(name)
		}
		fmt.Fprintln(os.Stderr, "FAIL")
		code = 1
	}
	os.Exit(code)
}

// ownEntries lists the /dev/shm entries named by this process's tests.
func ownEntries() []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	des, err := os.ReadDir("/dev/shm")
	if err != nil {
		return nil
	}
	var names []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), testproc.ProcessPrefix(prefix)) {
			names = append(names, de.Name())
		}
	}
	slices.Sort(names)
	return names
}

// newName returns a fresh channel name and removes the channel at the end
// of the test, whoever created it.
func newName(t testing.TB) string {
	t.Helper()
	name := testproc.Name(t, prefix)
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name
}

// ---- Building the C side ----------------------------------------------------

// Paths of the C sources, relative to this package's directory (where go
// test runs).
const (
	cDir     = ".."
	cLibrary = "../shmchan.c"
)

var (
	buildMu  sync.Mutex
	buildDir string            // created on first use, removed by TestMain
	built    map[string]string // key -> path of the built program
)

// cc returns the C compiler, or skips the test.
func cc(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("the Go<->C tests need a C compiler: cc not found on PATH (.ci/run installs gcc): %v", err)
	}
	return path
}

// buildC compiles sources (with shmchan.c) into a program, once per test
// binary for each distinct key, with -std=c11 -Wall -Wextra -Werror and the
// given extra flags. It returns the program's path.
func buildC(t testing.TB, key string, sources []string, flags ...string) string {
	t.Helper()
	return buildCWith(t, key, append(sources, cLibrary), flags...)
}

// buildCWith is buildC without adding shmchan.c: for a program that
// includes shmchan.c itself to reach its internal macros.
func buildCWith(t testing.TB, key string, sources []string, flags ...string) string {
	t.Helper()
	compiler := cc(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := built[key]; ok {
		return path
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "shmchan-interop-")
		if err != nil {
			t.Fatalf("MkdirTemp: %v", err)
		}
		buildDir = dir
		built = map[string]string{}
	}
	out := filepath.Join(buildDir, key)
	args := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + cDir}
	args = append(args, flags...)
	args = append(args, sources...)
	args = append(args, "-o", out, "-pthread")
	if runtime.GOOS == "linux" {
		args = append(args, "-lrt")
	}
	start := time.Now()
	if b, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	t.Logf("built %s in %v", key, time.Since(start).Round(time.Millisecond))
	built[key] = out
	return out
}

// peerEnv names a prebuilt C peer to use instead of building one: the
// Windows run under Wine (.ci/windows.sh) has no C compiler to call from
// inside the test binary, so it builds testdata/peer.c with mingw-w64 first.
const peerEnv = "SHMCHAN_C_PEER"

// peerPath builds testdata/peer.c: optimised, or with the sanitizers. With
// SHMCHAN_C_PEER set it returns that program instead, for both.
func peerPath(t testing.TB, sanitize bool) string {
	if path := os.Getenv(peerEnv); path != "" {
		return path
	}
	if sanitize {
		return buildC(t, "peer-san", []string{"testdata/peer.c"},
			"-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all")
	}
	return buildC(t, "peer", []string{"testdata/peer.c"}, "-O2")
}

// peer is a running C peer process.
type peer struct {
	t     testing.TB
	cmd   *exec.Cmd
	out   *bufio.Scanner
	lines []string // every line read so far
	stdin io.WriteCloser
}

// startPeer starts the C peer with args (see testdata/peer.c) and kills it at
// the end of the test if it still runs.
func startPeer(t testing.TB, sanitize bool, args ...string) *peer {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := tryStartPeer(t, sanitize, args...)
		if err == nil {
			return p
		}
		// Under Wine, CreateProcess of the peer failed once in a CI run
		// with "Internal error" (the run before and after started it
		// hundreds of times): one more try, said in the log.
		if runtime.GOOS != "windows" || attempt == 2 {
			t.Fatalf("start peer %v: %v", args, err)
		}
		t.Logf("start peer %v: %v; trying once more", args, err)
		time.Sleep(100 * time.Millisecond)
	}
}

// tryStartPeer is one attempt of startPeer.
func tryStartPeer(t testing.TB, sanitize bool, args ...string) (*peer, error) {
	t.Helper()
	cmd := exec.Command(peerPath(t, sanitize), args...)
	cmd.Stderr = &testWriter{t: t, prefix: "peer " + args[0]}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peer{t: t, cmd: cmd, out: bufio.NewScanner(stdout), stdin: stdin}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p, nil
}

// line returns the next line of the peer's output, failing the test at EOF.
func (p *peer) line() string {
	p.t.Helper()
	if !p.out.Scan() {
		p.t.Fatalf("peer %v: output ended; lines so far: %q", p.cmd.Args[1:], p.lines)
	}
	l := p.out.Text()
	p.lines = append(p.lines, l)
	return l
}

// expect reads a line and checks that it starts with want.
func (p *peer) expect(want string) string {
	p.t.Helper()
	l := p.line()
	if !strings.HasPrefix(l, want) {
		p.t.Fatalf("peer %v: got line %q, want %q...", p.cmd.Args[1:], l, want)
	}
	return l
}

// wait reads the rest of the output and waits for the peer to exit,
// failing the test if it exits non-zero.
func (p *peer) wait() []string {
	p.t.Helper()
	for p.out.Scan() {
		p.lines = append(p.lines, p.out.Text())
	}
	_ = p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("peer %v: %v; output %q", p.cmd.Args[1:], err, p.lines)
	}
	return p.lines
}

// kill kills the peer with SIGKILL and reaps it.
func (p *peer) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill peer: %v", err)
	}
	_ = p.cmd.Wait()
}

// testWriter copies a child's standard error to the test log.
type testWriter struct {
	t      testing.TB
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("[%s] %s", w.prefix, l)
	}
	return len(b), nil
}

// ---- Messages -------------------------------------------------------------------

// makeMessage fills buf (at least 16 bytes) as the C peer expects: u64 seq,
// u64 FNV-1a of the rest, then random bytes.
func makeMessage(buf []byte, seq uint64, r *rand.Rand) {
	binary.LittleEndian.PutUint64(buf, seq)
	for i := 16; i < len(buf); i++ {
		buf[i] = byte(r.Uint32())
	}
	binary.LittleEndian.PutUint64(buf[8:], checksum(buf[16:]))
}

func checksum(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// checkMessage checks a message made by makeMessage (in Go or C).
func checkMessage(msg []byte, want uint64) error {
	if len(msg) < 16 {
		return fmt.Errorf("message %d: %d bytes, want at least 16", want, len(msg))
	}
	if seq := binary.LittleEndian.Uint64(msg); seq != want {
		return fmt.Errorf("message %d: sequence number %d (lost, duplicated or reordered)", want, seq)
	}
	if sum := binary.LittleEndian.Uint64(msg[8:]); sum != checksum(msg[16:]) {
		return fmt.Errorf("message %d: checksum %#x, want %#x (corrupted)", want, sum, checksum(msg[16:]))
	}
	return nil
}

// ---- Go child roles ----------------------------------------------------------

func init() {
	testproc.Register("hold-sender", func(args []string) int { return hold(args, true) })
	testproc.Register("hold-receiver", func(args []string) int { return hold(args, false) })
	testproc.Register("go-echo", goEcho)
	testproc.Register("go-sink", goSink)
	testproc.Register("go-sink-batch", goSinkBatch)
}

// hold claims one end of the channel args[0] (the sender sends "last"),
// prints "ready" and sleeps until it is killed.
func hold(args []string, sender bool) int {
	ch, err := shm.OpenChannel(args[0], shm.WithWait(shm.Block))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if sender {
		tx, err := ch.Sender()
		if err == nil {
			err = tx.Send([]byte("last"))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	} else if _, err := ch.Receiver(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return 1
}

// waitStrategy parses spin, block or adaptive.
func waitStrategy(s string) shm.WaitStrategy {
	switch s {
	case "spin":
		return shm.Spin
	case "block":
		return shm.Block
	}
	return shm.Adaptive
}

// goEcho is the Go twin of the C peer's echo mode: args are IN, OUT, WAIT.
func goEcho(args []string) int {
	w := shm.WithWait(waitStrategy(args[2]))
	in, err := shm.OpenChannel(args[0], w)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer in.Close()
	out, err := shm.OpenChannel(args[1], w)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer out.Close()
	rx, err := in.Receiver()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tx, err := out.Sender()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for {
		msg, err := rx.Peek()
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err == nil {
			err = tx.Send(msg)
		}
		if err == nil {
			err = rx.Release()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// openReceiver opens the channel name with the wait strategy wait (spin,
// block or adaptive) and claims its receiver, for a sink role. On error it
// leaves nothing open.
func openReceiver(name, wait string) (*shm.Channel, *shm.Receiver, error) {
	ch, err := shm.OpenChannel(name, shm.WithWait(waitStrategy(wait)))
	if err != nil {
		return nil, nil, err
	}
	rx, err := ch.Receiver()
	if err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	return ch, rx, nil
}

// goSink is the Go twin of the C peer's sink mode: args are NAME, WAIT.
func goSink(args []string) int {
	ch, rx, err := openReceiver(args[0], args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ch.Close()
	fmt.Println("ready")
	var n, bytes uint64
	for {
		msg, err := rx.Peek()
		if errors.Is(err, io.EOF) {
			fmt.Printf("sink %d %d\n", n, bytes)
			return 0
		}
		if err == nil {
			n, bytes = n+1, bytes+uint64(len(msg))
			err = rx.Release()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// goSinkBatch is goSink through RecvBatch, up to 32 messages a call.
func goSinkBatch(args []string) int {
	ch, rx, err := openReceiver(args[0], args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ch.Close()
	bufs := make([][]byte, 32)
	for i := range bufs {
		bufs[i] = make([]byte, 0, ch.MaxMessage())
	}
	fmt.Println("ready")
	var n, bytes uint64
	for {
		k, err := rx.RecvBatch(bufs)
		if errors.Is(err, io.EOF) {
			fmt.Printf("sink %d %d\n", n, bytes)
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, m := range bufs[:k] {
			n, bytes = n+1, bytes+uint64(len(m))
		}
	}
}

// goChild is a running Go child role.
type goChild struct {
	cmd *exec.Cmd
	out *bufio.Scanner
}

func startGo(t testing.TB, role string, args ...string) *goChild {
	t.Helper()
	cmd := testproc.Command(t, role, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	return &goChild{cmd: cmd, out: bufio.NewScanner(stdout)}
}

func (c *goChild) expect(t testing.TB, want string) {
	t.Helper()
	if !c.out.Scan() || !strings.HasPrefix(c.out.Text(), want) {
		t.Fatalf("%v: got %q, want %q", c.cmd.Args, c.out.Text(), want)
	}
}

// testContext is a context for one blocking call of a test: it ends well
// before the test binary's deadline, so that a hang fails with a message.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
