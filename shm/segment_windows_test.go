package shm_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Windows-specific behaviour of named segments: the kernel object behind a
// name, what Remove can do when there is no unlink, page-rounded sizes on
// open, and the Global\ namespace. docs/platforms.md describes each.

func init() {
	testproc.Register("win-hold", winHold)
}

func TestImplementationWindows(t *testing.T) {
	want := "windows/purego"
	if cgoEnabled(t) {
		want = "windows/cgo"
	}
	if impl := shm.Implementation(); impl != want {
		t.Fatalf("Implementation() = %q, want %q", impl, want)
	}
	t.Logf("implementation under test: %s", want)
}

func TestWindowsCreateExisting(t *testing.T) {
	s := create(t, 4096)
	if _, err := s.WriteAt([]byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	// CreateFileMappingW opens the existing object and reports
	// ERROR_ALREADY_EXISTS along with a valid handle: Create must refuse it.
	_, err := shm.Create(s.Name(), 4096)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create(%q) of an existing name: %v, want fs.ErrExist", s.Name(), err)
	}
	if !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		t.Errorf("Create(%q): %v, want the Win32 error ERROR_ALREADY_EXISTS inside", s.Name(), err)
	}
	o := open(t, s.Name())
	got := make([]byte, 5)
	if _, err := o.ReadAt(got, 0); err != nil || string(got) != "first" {
		t.Fatalf("after the refused Create, ReadAt = %q, %v; want the first segment's bytes", got, err)
	}
}

func TestWindowsOpenMissing(t *testing.T) {
	name := newName(t)
	_, err := shm.Open(name)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) of a missing name: %v, want fs.ErrNotExist", name, err)
	}
	if err := shm.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove(%q) of a missing name: %v, want fs.ErrNotExist", name, err)
	}
}

// TestWindowsRemove checks that Remove releases the process's handles, so
// that the name is gone while the mapping stays usable.
func TestWindowsRemove(t *testing.T) {
	s := create(t, 4096)
	o := open(t, s.Name())
	if err := shm.Remove(s.Name()); err != nil {
		t.Fatalf("Remove(%q): %v", s.Name(), err)
	}
	if _, err := shm.Open(s.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) after Remove: %v, want fs.ErrNotExist", s.Name(), err)
	}
	// Both mappings still work and still share their pages.
	if err := s.StoreUint64(8, 0x1122334455667788); err != nil {
		t.Fatal(err)
	}
	if v, err := o.LoadUint64(8); err != nil || v != 0x1122334455667788 {
		t.Fatalf("LoadUint64 through the other mapping after Remove = %#x, %v", v, err)
	}
	// The name is free: a new, zeroed segment takes it.
	n, err := shm.Create(s.Name(), 4096)
	if err != nil {
		t.Fatalf("Create(%q) after Remove: %v", s.Name(), err)
	}
	defer closeSegment(t, n)
	if v, err := n.LoadUint64(8); err != nil || v != 0 {
		t.Fatalf("new segment's word = %#x, %v; want 0 (a fresh object)", v, err)
	}
	// Closing the Segments whose handles Remove closed must not fail.
	for _, seg := range []*shm.Segment{s, o} {
		if err := seg.Close(); err != nil {
			t.Errorf("Close(%q) after Remove: %v", seg.Name(), err)
		}
	}
}

func TestWindowsCloseFreesName(t *testing.T) {
	name := newName(t)
	s, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) after its only handle closed: %v, want fs.ErrNotExist", name, err)
	}
}

func TestWindowsRemoveOnClose(t *testing.T) {
	name := newName(t)
	s, err := shm.Create(name, 4096, shm.RemoveOnClose())
	if err != nil {
		t.Fatal(err)
	}
	o := open(t, name) // a second handle in this process
	if err := s.Close(); err != nil {
		t.Fatalf("Close with RemoveOnClose: %v", err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) after Close with RemoveOnClose: %v, want fs.ErrNotExist", name, err)
	}
	if _, err := o.WriteAt([]byte("still mapped"), 0); err != nil {
		t.Fatalf("the other Segment after RemoveOnClose: %v", err)
	}
}

// TestWindowsOpenSizeRounded: VirtualQuery reports whole pages.
func TestWindowsOpenSizeRounded(t *testing.T) {
	s := create(t, 100)
	if s.Size() != 100 {
		t.Fatalf("creator's Size() = %d, want 100", s.Size())
	}
	if _, err := s.WriteAt([]byte("hello"), 95); err != nil {
		t.Fatal(err)
	}
	o := open(t, s.Name())
	if o.Size() != 4096 {
		t.Fatalf("opener's Size() = %d, want 4096 (100 rounded up to the page)", o.Size())
	}
	b := make([]byte, 4096)
	if _, err := o.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if string(b[95:100]) != "hello" || strings.Trim(string(b[100:]), "\x00") != "" {
		t.Fatalf("opener sees %q, then non-zero bytes past the creator's size", b[95:100])
	}
}

func TestWindowsReadOnly(t *testing.T) {
	s := create(t, 4096)
	o := open(t, s.Name(), shm.ReadOnly())
	if _, err := o.WriteAt([]byte("x"), 0); !errors.Is(err, shm.ErrReadOnly) {
		t.Fatalf("WriteAt on a read-only Segment: %v, want ErrReadOnly", err)
	}
	if err := s.StoreUint32(0, 7); err != nil {
		t.Fatal(err)
	}
	if v, err := o.LoadUint32(0); err != nil || v != 7 {
		t.Fatalf("read-only LoadUint32 = %d, %v; want 7", v, err)
	}
}

// TestWindowsGlobal creates in the Global\ namespace. Windows needs
// SeCreateGlobalPrivilege for that; Wine grants it. Either way the outcome
// must be a working segment or an error that says what is missing.
func TestWindowsGlobal(t *testing.T) {
	name := newName(t)
	s, err := shm.Create(name, 4096, shm.Global())
	if err != nil {
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "SeCreateGlobalPrivilege") {
			t.Fatalf("Create(%q, Global()): %v; want success or fs.ErrPermission naming SeCreateGlobalPrivilege", name, err)
		}
		t.Skipf("no SeCreateGlobalPrivilege here: %v", err)
	}
	defer closeSegment(t, s)
	o := open(t, name, shm.Global())
	if err := s.StoreUint32(0, 42); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.LoadUint32(0); v != 42 {
		t.Fatalf("Global\\ opener reads %d, want 42", v)
	}
	if _, err := shm.Create(name, 4096, shm.Global()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create(%q, Global()): %v, want fs.ErrExist", name, err)
	}
}

// TestWindowsNameTakenByEvent: events, mutexes and mappings share one
// namespace, and a name held by an event is no mapping.
func TestWindowsNameTakenByEvent(t *testing.T) {
	name := newName(t)
	ev, err := windows.CreateEvent(nil, 0, 0, windows.StringToUTF16Ptr(`Local\`+name))
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(ev)
	_, err = shm.Create(name, 4096)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "another kind of kernel object") {
		t.Fatalf("Create(%q) over an event: %v, want fs.ErrExist explaining the clash", name, err)
	}
	if _, err := shm.Open(name); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) of an event's name: %v, want a clash error", name, err)
	}
}

// TestWindowsRemoveHeldElsewhere: Remove cannot close another process's
// handle, so the name lives on until that process lets go.
func TestWindowsRemoveHeldElsewhere(t *testing.T) {
	name := newName(t)
	s, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSegment(t, s)
	c := testproc.Start(t, testproc.Command(t, "win-hold", name), "holding")
	if err := shm.Remove(name); err != nil {
		t.Fatalf("Remove(%q): %v", name, err)
	}
	o, err := shm.Open(name)
	if err != nil {
		t.Fatalf("Open(%q) after Remove while another process holds it: %v (the child's handle keeps the name)", name, err)
	}
	closeSegment(t, o)
	c.Stdin.Close() // the child closes its Segment and exits
	if err := c.Cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	// Our handles went with Remove and Close, the child's with its exit.
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) once no process holds it: %v, want fs.ErrNotExist", name, err)
	}
}

// TestWindowsCrossBuild runs when .ci/windows.sh names the test binary of
// the other CGO_ENABLED setting in SHMCHAN_WINDOWS_OTHER_BUILD (under Wine a
// test cannot build one: there is no go command for Windows). A child of the
// other build checks and answers in a segment this build created, then
// sends messages over a channel with Block waits, so that both the mapping
// and the named wake events are shared across the cgo and pure-Go builds.
func TestWindowsCrossBuild(t *testing.T) {
	bin := os.Getenv("SHMCHAN_WINDOWS_OTHER_BUILD")
	if bin == "" {
		t.Skip("SHMCHAN_WINDOWS_OTHER_BUILD names no test binary of the other build (.ci/windows.sh sets it)")
	}
	impl := parentCreates(t, otherBinary(bin))
	if impl == shm.Implementation() {
		t.Fatalf("the other build's child reports %s, like this one", impl)
	}
	t.Logf("segment: %s created, %s checked and answered", shm.Implementation(), impl)

	const n = 2000
	ch := newChannel(t, 1<<12, shm.WithWait(shm.Block))
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	cmd := testproc.CommandPath(t, bin, "chan-send", ch.Name(), "block", "0", strconv.Itoa(n))
	startChild(t, cmd)
	max := ch.MaxMessage()
	for seq := uint64(0); ; seq++ {
		msg, err := rx.Recv(nil)
		if err == io.EOF {
			if seq != n {
				t.Fatalf("EOF after %d messages, want %d", seq, n)
			}
			break
		}
		if err != nil {
			t.Fatalf("Recv %d: %v", seq, err)
		}
		if err := checkMsg(msg, seq, max); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sender (%s): %v", impl, err)
	}
	t.Logf("channel: %d messages from %s to %s with Block waits", n, impl, shm.Implementation())
}

// winHold opens the segment args[0], says "holding", and keeps it until its
// standard input closes.
func winHold(args []string) int {
	s, err := shm.Open(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
