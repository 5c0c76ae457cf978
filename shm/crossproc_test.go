package shm_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// The child roles. Each reports failures on stderr (which lands in the
// parent's test log) and results on stdout as key=value lines.
func init() {
	testproc.Register("check-and-answer", checkAndAnswer)
	testproc.Register("create-pattern", createPattern)
	testproc.Register("open-or-create", openOrCreate)
	testproc.Register("open-expect", openExpect)
}

// The layout of the segment that parent and child exchange: an answer word,
// the pattern, and a text answer.
const (
	exchangeSize = 64 << 10
	wordOff      = 0                 // uint64 written atomically by the side that did not create
	patternOff   = 8                 // pattern(exchangeSize-72, seed)
	answerOff    = exchangeSize - 64 // "answer from <implementation>", NUL-padded
	patternLen   = answerOff - patternOff
)

func answerWord(seed byte) uint64 { return 0xC0FFEE00 | uint64(seed) }

func childFail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 1
}

// checkAndAnswer (name, seed) opens the segment the parent created, checks
// the pattern and writes its answers.
func checkAndAnswer(args []string) int {
	name, seed := args[0], parseSeed(args[1])
	s, err := shm.Open(name)
	if err != nil {
		return childFail("Open(%q): %v", name, err)
	}
	defer s.Close()
	if s.Size() != exchangeSize {
		return childFail("Open(%q): Size() = %d, want %d", name, s.Size(), exchangeSize)
	}
	got := make([]byte, patternLen)
	if _, err := s.ReadAt(got, patternOff); err != nil {
		return childFail("ReadAt: %v", err)
	}
	if diff := diffBytes(pattern(patternLen, seed), got); diff != "" {
		return childFail("pattern (-want +got):\n%s", diff)
	}
	if _, err := s.WriteAt([]byte("answer from "+shm.Implementation()), answerOff); err != nil {
		return childFail("WriteAt: %v", err)
	}
	// SYNC(user): release; the parent reads the word after Wait, which orders it anyway.
	if err := s.StoreUint64(wordOff, answerWord(seed)); err != nil {
		return childFail("StoreUint64: %v", err)
	}
	fmt.Printf("impl=%s\n", shm.Implementation())
	return 0
}

// createPattern (name, seed) creates the segment, writes the pattern through
// a Stream and leaves the segment for the parent.
func createPattern(args []string) int {
	name, seed := args[0], parseSeed(args[1])
	s, err := shm.Create(name, exchangeSize)
	if err != nil {
		return childFail("Create(%q): %v", name, err)
	}
	defer s.Close()
	st := s.NewStream()
	if _, err := st.Seek(patternOff, io.SeekStart); err != nil {
		return childFail("Seek: %v", err)
	}
	if _, err := io.Copy(st, bytes.NewReader(pattern(patternLen, seed))); err != nil {
		return childFail("io.Copy: %v", err)
	}
	if _, err := fmt.Fprintf(st, "answer from %s", shm.Implementation()); err != nil {
		return childFail("Fprintf: %v", err)
	}
	if err := s.StoreUint64(wordOff, answerWord(seed)); err != nil {
		return childFail("StoreUint64: %v", err)
	}
	fmt.Printf("impl=%s\n", shm.Implementation())
	return 0
}

// openOrCreate (name, id, n) says it is ready, waits for the start signal
// (stdin closing), races the others to OpenOrCreate, counts itself in and
// writes id+1 to its slot.
func openOrCreate(args []string) int {
	name := args[0]
	id, err1 := strconv.Atoi(args[1])
	n, err2 := strconv.Atoi(args[2])
	if err := errors.Join(err1, err2); err != nil {
		return childFail("bad arguments %q: %v", args, err)
	}
	fmt.Println("ready")
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return childFail("waiting for the start: %v", err)
	}
	s, created, err := shm.OpenOrCreate(name, int64(8*(n+1)))
	if err != nil {
		return childFail("OpenOrCreate(%q): %v", name, err)
	}
	defer s.Close()
	if err := s.WriteUint64(int64(8*(id+1)), uint64(id+1)); err != nil {
		return childFail("WriteUint64: %v", err)
	}
	if _, err := s.AddUint64(0, 1); err != nil {
		return childFail("AddUint64: %v", err)
	}
	fmt.Printf("created=%v\nimpl=%s\n", created, shm.Implementation())
	return 0
}

// openExpect (name, rw|ro, ok|permission) opens the segment and checks that
// the outcome is the expected one; a read-write open that works counts
// itself in word 0.
func openExpect(args []string) int {
	name, access, want := args[0], args[1], args[2]
	// The parent (root) created the segment: allow its owner, so that what
	// is tested is the mode, not the owner check.
	opts := []shm.Option{shm.AllowOwner(0)}
	if access == "ro" {
		opts = append(opts, shm.ReadOnly())
	}
	s, err := shm.Open(name, opts...)
	fmt.Printf("uid=%d\n", os.Getuid())
	switch {
	case want == "permission" && errors.Is(err, fs.ErrPermission):
		return 0
	case want == "permission" && err == nil:
		s.Close()
		return childFail("Open(%q) as uid %d with %s access: no error, want fs.ErrPermission", name, os.Getuid(), access)
	case err != nil:
		return childFail("Open(%q) as uid %d with %s access: %v, want %s", name, os.Getuid(), access, err, want)
	}
	defer s.Close()
	if access == "rw" {
		if _, err := s.AddUint32(0, 1); err != nil {
			return childFail("AddUint32: %v", err)
		}
	}
	return 0
}

func parseSeed(s string) byte {
	v, _ := strconv.ParseUint(s, 10, 8)
	return byte(v)
}

// field returns the value of key in a child's key=value output.
func field(out []byte, key string) string {
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	return ""
}

// starter starts role in a child: this test binary, or one of another build.
type starter func(t *testing.T, role string, args ...string) *exec.Cmd

func sameBinary(t *testing.T, role string, args ...string) *exec.Cmd {
	return testproc.Command(t, role, args...)
}

func otherBinary(bin string) starter {
	return func(t *testing.T, role string, args ...string) *exec.Cmd {
		return testproc.CommandPath(t, bin, role, args...)
	}
}

// parentCreates writes a pattern, lets a child check it and answer, checks
// the answer, and returns the child's Implementation.
func parentCreates(t *testing.T, start starter) string {
	const seed = 0x5A
	s := create(t, exchangeSize)
	if _, err := s.WriteAt(pattern(patternLen, seed), patternOff); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	out, err := start(t, "check-and-answer", s.Name(), strconv.Itoa(seed)).Output()
	if err != nil {
		t.Fatalf("child check-and-answer %s: %v", s.Name(), err)
	}
	impl := field(out, "impl")
	checkAnswer(t, s, seed, impl)
	return impl
}

// childCreates lets a child create the segment and write the pattern, then
// checks both, and returns the child's Implementation.
func childCreates(t *testing.T, start starter) string {
	if runtime.GOOS == "windows" {
		testproc.MarkUsed("create-pattern")
		t.Skip("a Windows segment dies with its last handle: the child's exit removes it")
	}
	const seed = 0xA5
	name := newName(t)
	out, err := start(t, "create-pattern", name, strconv.Itoa(seed)).Output()
	if err != nil {
		t.Fatalf("child create-pattern %s: %v", name, err)
	}
	impl := field(out, "impl")
	s := open(t, name)
	if s.Size() != exchangeSize {
		t.Fatalf("Open(%q): Size() = %d, want %d", name, s.Size(), exchangeSize)
	}
	got := make([]byte, patternLen)
	if _, err := s.ReadAt(got, patternOff); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if diff := diffBytes(pattern(patternLen, seed), got); diff != "" {
		t.Errorf("pattern written by the child (-want +got):\n%s", diff)
	}
	checkAnswer(t, s, seed, impl)
	return impl
}

func checkAnswer(t *testing.T, s *shm.Segment, seed byte, impl string) {
	t.Helper()
	// SYNC(user): acquire; pairs with the child's StoreUint64 (and its exit).
	if w, err := s.LoadUint64(wordOff); err != nil || w != answerWord(seed) {
		t.Errorf("answer word = %#x, %v, want %#x", w, err, answerWord(seed))
	}
	answer := make([]byte, 64)
	if _, err := s.ReadAt(answer, answerOff); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if got, want := string(bytes.TrimRight(answer, "\x00")), "answer from "+impl; impl == "" || got != want {
		t.Errorf("answer = %q, want %q", got, want)
	}
}

// TestCrossProcess shares a segment with a child copy of this test binary,
// each side creating it in turn.
func TestCrossProcess(t *testing.T) {
	own := shm.Implementation()
	for _, tt := range []struct {
		name string
		run  func(*testing.T, starter) string
	}{{"parent-creates", parentCreates}, {"child-creates", childCreates}} {
		t.Run(tt.name, func(t *testing.T) {
			if impl := tt.run(t, sameBinary); impl != own {
				t.Errorf("child Implementation() = %q, want %q like the parent", impl, own)
			}
		})
	}
}

// TestCrossBuild is TestCrossProcess with a child built the other way: with
// CGO_ENABLED=0 when this binary uses cgo, and the other way round. Both
// paths must reach the same objects.
func TestCrossBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the pure-Go path is Linux only")
	}
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	own := shm.Implementation()
	other, env := "linux/purego", "CGO_ENABLED=0"
	if own == "linux/purego" {
		other, env = "linux/cgo", "CGO_ENABLED=1"
	}
	start := otherBinary(testproc.BuildTest(t, env))
	for _, tt := range []struct {
		name string
		run  func(*testing.T, starter) string
	}{{"parent-creates", parentCreates}, {"child-creates", childCreates}} {
		t.Run(tt.name, func(t *testing.T) {
			impl := tt.run(t, start)
			t.Logf("parent %s, child %s", own, impl)
			if impl != other {
				t.Errorf("child Implementation() = %q, want %q", impl, other)
			}
		})
	}
	t.Run("open-or-create", func(t *testing.T) {
		// Half the racers take each path.
		starts := make([]starter, 8)
		for i := range starts {
			starts[i] = sameBinary
			if i%2 == 1 {
				starts[i] = start
			}
		}
		raceOpenOrCreate(t, starts)
	})
}

// TestOpenOrCreateProcesses races 8 processes on OpenOrCreate of one name:
// exactly one creates it and all share it.
func TestOpenOrCreateProcesses(t *testing.T) {
	starts := make([]starter, 8)
	for i := range starts {
		starts[i] = sameBinary
	}
	raceOpenOrCreate(t, starts)
}

func raceOpenOrCreate(t *testing.T, starts []starter) {
	if runtime.GOOS == "windows" {
		testproc.MarkUsed("open-or-create")
		t.Skip("a Windows segment dies with its last handle: the children's exit removes it")
	}
	n := len(starts)
	name := newName(t)
	type child struct {
		cmd    *exec.Cmd
		stdin  io.Closer
		stdout *bufio.Reader
	}
	children := make([]child, n)
	for i, start := range starts {
		c := testproc.Start(t, start(t, "open-or-create", name, strconv.Itoa(i), strconv.Itoa(n)), "ready")
		children[i] = child{c.Cmd, c.Stdin, c.Out}
	}
	// Release them together, now that every one of them is waiting.
	for _, c := range children {
		c.stdin.Close()
	}
	var creators []int
	impls := map[string]int{}
	for i, c := range children {
		out, err := io.ReadAll(c.stdout)
		if err != nil {
			t.Fatalf("child %d: read: %v", i, err)
		}
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		if field(out, "created") == "true" {
			creators = append(creators, i)
		}
		impls[field(out, "impl")]++
	}
	t.Logf("%d children %v; creator %v", n, impls, creators)
	if len(creators) != 1 {
		t.Errorf("OpenOrCreate(%q) from %d processes: created=true in children %v, want exactly one", name, n, creators)
	}
	s := open(t, name)
	if count, err := s.LoadUint64(0); err != nil || count != uint64(n) {
		t.Errorf("count = %d, %v, want %d: not every child mapped the same segment", count, err, n)
	}
	for i := range n {
		if got, err := s.ReadUint64(int64(8 * (i + 1))); err != nil || got != uint64(i+1) {
			t.Errorf("slot of child %d = %d, %v, want %d", i, got, err, i+1)
		}
	}
}
