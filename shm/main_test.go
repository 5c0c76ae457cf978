package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// testPrefix starts the name of every segment these tests create (see
// newName), and examplePrefix that of every example's segment.
const (
	testPrefix    = "shmtest"
	examplePrefix = "example-"
)

// shmDir is where Linux keeps POSIX shared-memory objects, for both the cgo
// and the pure-Go path.
const shmDir = "/dev/shm"

// TestMain dispatches child processes (see crossproc_test.go) and, in the
// parent, fails the run if a test left a segment of this process in
// /dev/shm.
func TestMain(m *testing.M) {
	testproc.Dispatch()
	before := ownEntries()
	code := testproc.Run(m)
	var leaked []string
	for _, name := range ownEntries() {
		if !slices.Contains(before, name) {
			leaked = append(leaked, name)
		}
	}
	if len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "shm tests left %d segment(s) in %s: %v\n", len(leaked), shmDir, leaked)
		for _, name := range leaked {
			_ = shm.Remove(name)
		}
		fmt.Fprintln(os.Stderr, "FAIL")
		code = 1
	}
	os.Exit(code)
}

// ownEntries lists the entries of /dev/shm that tests and examples of this
// process name (sorted), or nothing where there is no /dev/shm.
func ownEntries() []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	des, err := os.ReadDir(shmDir)
	if err != nil {
		return nil
	}
	own := []string{testproc.ProcessPrefix(testPrefix), examplePrefix + strconv.Itoa(os.Getpid())}
	var names []string
	for _, de := range des {
		for _, p := range own {
			if strings.HasPrefix(de.Name(), p) {
				names = append(names, de.Name())
			}
		}
	}
	return names
}

// newName returns a segment name unique to this process and call, and
// removes the segment, if any, when the test ends.
func newName(t testing.TB) string {
	t.Helper()
	name := testproc.Name(t, testPrefix)
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name
}

// create creates a segment under a fresh name and closes it when the test
// ends (newName removes it).
func create(t testing.TB, size int64, opts ...shm.Option) *shm.Segment {
	t.Helper()
	name := newName(t)
	s, err := shm.Create(name, size, opts...)
	if err != nil {
		t.Fatalf("Create(%q, %d): %v", name, size, err)
	}
	t.Cleanup(func() { closeSegment(t, s) })
	return s
}

// open opens name and closes it when the test ends.
func open(t testing.TB, name string, opts ...shm.Option) *shm.Segment {
	t.Helper()
	s, err := shm.Open(name, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { closeSegment(t, s) })
	return s
}

func closeSegment(t testing.TB, s *shm.Segment) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close(%q): %v", s.Name(), err)
	}
}

// exists reports whether name has an entry in /dev/shm. It skips the test
// where there is no /dev/shm.
func exists(t testing.TB, name string) bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("no /dev/shm on " + runtime.GOOS)
	}
	_, err := os.Lstat(shmDir + "/" + name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Lstat: %v", err)
	}
	return err == nil
}

// errorKind names the sentinel err matches, for tables and traces that
// compare outcomes rather than messages.
func errorKind(err error) string {
	kinds := []struct {
		name string
		err  error
	}{
		{"ErrInvalidName", shm.ErrInvalidName},
		{"ErrInvalidSize", shm.ErrInvalidSize},
		{"ErrReadOnly", shm.ErrReadOnly},
		{"ErrMisaligned", shm.ErrMisaligned},
		{"ErrOutOfRange", shm.ErrOutOfRange},
		{"ErrClosed", shm.ErrClosed},
		{"ErrNotReady", shm.ErrNotReady},
		{"ErrNoSpace", shm.ErrNoSpace},
		{"ErrExist", fs.ErrExist},
		{"ErrNotExist", fs.ErrNotExist},
		{"ErrPermission", fs.ErrPermission},
		{"EOF", io.EOF},
		{"ErrUnsupported", errors.ErrUnsupported},
	}
	if err == nil {
		return "nil"
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other: " + err.Error()
}

// pattern returns n bytes that depend on seed and on their position, so a
// shifted or stale copy does not pass for the real one.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131+i>>8) ^ seed
	}
	return b
}

// diffBytes is cmp.Diff for byte slices with a fast path for equal ones:
// cmp walks a slice element by element, which takes seconds for a MiB.
func diffBytes(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	return cmp.Diff(want, got)
}
