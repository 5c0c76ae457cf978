package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/shm"
)

func TestImplementation(t *testing.T) {
	impl := shm.Implementation()
	t.Logf("Implementation() = %q", impl)
	if runtime.GOOS != "linux" {
		t.Skip("the expected value is only pinned down on linux")
	}
	want := "linux/purego"
	if cgoEnabled(t) {
		want = "linux/cgo"
	}
	if impl != want {
		t.Errorf("Implementation() = %q, want %q", impl, want)
	}
}

// cgoEnabled reports the CGO_ENABLED setting this test binary was built with.
func cgoEnabled(t testing.TB) bool {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info in the test binary")
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	t.Skip("no CGO_ENABLED in the build info")
	return false
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "Z", "0", "_", "_x", "seg-1.v2", "A_b-C.d", strings.Repeat("n", shm.MaxNameLen)}
	for _, name := range good {
		if err := shm.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q): %v", name, err)
		}
	}
	for _, name := range badNames {
		if err := shm.ValidateName(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

// badNames break the naming rule, each in another way.
var badNames = []string{
	"",                                    // empty
	strings.Repeat("n", shm.MaxNameLen+1), // 31 bytes
	".", "..", ".hidden", "-flag",         // bad first byte
	"a/b", "/abs", "a b", "a\x00b", "tab\t", "star*", "colon:", `back\slash`, "é", // bad bytes
}

// TestInvalidName checks that every call taking a name refuses each bad name
// before it reaches the OS.
func TestInvalidName(t *testing.T) {
	calls := []struct {
		op string
		do func(name string) error
	}{
		{"create", func(name string) error { _, err := shm.Create(name, 64); return err }},
		{"open", func(name string) error { _, err := shm.Open(name); return err }},
		{"open-or-create", func(name string) error { _, _, err := shm.OpenOrCreate(name, 64); return err }},
		{"remove", func(name string) error { return shm.Remove(name) }},
	}
	for _, c := range calls {
		for _, name := range badNames {
			err := c.do(name)
			if !errors.Is(err, shm.ErrInvalidName) {
				t.Errorf("%s(%q) = %v, want ErrInvalidName", c.op, name, err)
				continue
			}
			var e *shm.Error
			if !errors.As(err, &e) || e.Op != c.op || e.Name != name {
				t.Errorf("%s(%q) = %#v, want an *Error with Op %q and the name", c.op, name, err, c.op)
			}
		}
	}
}

// invalidSizes are refused by every call that takes a size.
var invalidSizes = []int64{0, -1, -4096, math.MinInt64, shm.MaxSize + 1, math.MaxInt64}

func TestInvalidSize(t *testing.T) {
	name := newName(t)
	for _, size := range invalidSizes {
		if _, err := shm.Create(name, size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("Create(%q, %d) = %v, want ErrInvalidSize", name, size, err)
		}
		if _, _, err := shm.OpenOrCreate(name, size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("OpenOrCreate(%q, %d) = %v, want ErrInvalidSize", name, size, err)
		}
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q) after failed creates = %v, want fs.ErrNotExist", name, err)
	}
}

func TestMissing(t *testing.T) {
	name := newName(t)
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q) = %v, want fs.ErrNotExist", name, err)
	}
	if _, err := shm.Open(name, shm.ReadOnly()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q, ReadOnly()) = %v, want fs.ErrNotExist", name, err)
	}
	if err := shm.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(%q) = %v, want fs.ErrNotExist", name, err)
	}
}

func TestCreateExisting(t *testing.T) {
	s := create(t, 64)
	if _, err := s.WriteAt([]byte("first"), 0); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	for _, size := range []int64{64, 128} {
		if _, err := shm.Create(s.Name(), size); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Create(%q, %d) of an existing name = %v, want fs.ErrExist", s.Name(), size, err)
		}
	}
	// The failed Create must not have truncated, zeroed or removed the segment.
	again := open(t, s.Name())
	if again.Size() != openedSize(64) {
		t.Errorf("Size() after failed Create = %d, want 64", again.Size())
	}
	if got := string(again.Bytes()[:5]); got != "first" {
		t.Errorf("content after failed Create = %q, want %q", got, "first")
	}
}

// TestCreateOpen checks that Create and Open map the same memory, that a new
// segment is zero-filled, and that Size is exact for sizes that are not a
// multiple of the page size.
func TestCreateOpen(t *testing.T) {
	for _, size := range []int64{1, 7, 4095, 4096, 4097, 1 << 20} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			c := create(t, size)
			o := open(t, c.Name())
			for i, s := range []*shm.Segment{c, o} {
				want := size
				if i == 1 {
					want = openedSize(size)
				}
				if s.Size() != want || int64(len(s.Bytes())) != want {
					t.Fatalf("%q: Size() = %d, len(Bytes()) = %d, want %d", s.Name(), s.Size(), len(s.Bytes()), want)
				}
				if s.ReadOnly() {
					t.Errorf("%q: ReadOnly() = true", s.Name())
				}
			}
			if c.Name() != o.Name() {
				t.Errorf("Name() = %q and %q", c.Name(), o.Name())
			}
			if diff := diffBytes(make([]byte, size), c.Bytes()); diff != "" {
				t.Fatalf("new segment not zero-filled (-want +got):\n%s", diff)
			}
			want := pattern(int(size), 1)
			if _, err := c.WriteAt(want, 0); err != nil {
				t.Fatalf("WriteAt: %v", err)
			}
			if diff := diffBytes(want, o.Bytes()[:size]); diff != "" {
				t.Errorf("opener sees (-want +got):\n%s", diff)
			}
			if err := o.WriteUint8(size-1, 0xAB); err != nil {
				t.Fatalf("WriteUint8(%d): %v", size-1, err)
			}
			if got, err := c.ReadUint8(size - 1); err != nil || got != 0xAB {
				t.Errorf("creator ReadUint8(%d) = %#x, %v, want 0xab", size-1, got, err)
			}
		})
	}
}

// TestMode checks the permission bits of the entry in /dev/shm: the default
// is 0600, and WithMode applies exactly, whatever the umask (the test runs
// with the process umask, typically 022).
func TestMode(t *testing.T) {
	tests := []struct {
		opts []shm.Option
		want fs.FileMode
	}{
		{nil, 0o600},
		{[]shm.Option{shm.WithMode(0o666)}, 0o666},
		{[]shm.Option{shm.WithMode(0o640)}, 0o640},
		{[]shm.Option{shm.WithMode(0o400)}, 0o400},
		{[]shm.Option{shm.WithMode(fs.ModeDir | fs.ModeSetuid | 0o604)}, 0o604},
	}
	for _, tt := range tests {
		s := create(t, 64, tt.opts...)
		if !exists(t, s.Name()) {
			t.Fatalf("Create(%q): no entry in %s", s.Name(), shmDir)
		}
		fi, err := os.Stat(filepath.Join(shmDir, s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != tt.want {
			t.Errorf("Create(%q) with mode %v: entry has mode %v", s.Name(), tt.want, got)
		}
	}
}

// op is one call on a segment's views, for the tables that run every call.
type op struct {
	name  string
	write bool
	do    func(s *shm.Segment, st *shm.Stream) error
}

// allOps lists every view call, each at an in-range, aligned offset of a
// segment of at least 64 bytes.
func allOps() []op {
	return []op{
		{"ReadAt", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.ReadAt(make([]byte, 8), 8); return err }},
		{"WriteAt", true, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.WriteAt([]byte("x"), 8); return err }},
		{"ReadUint8", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.ReadUint8(8); return err }},
		{"ReadUint16", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.ReadUint16(8); return err }},
		{"ReadUint32", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.ReadUint32(8); return err }},
		{"ReadUint64", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.ReadUint64(8); return err }},
		{"WriteUint8", true, func(s *shm.Segment, _ *shm.Stream) error { return s.WriteUint8(8, 1) }},
		{"WriteUint16", true, func(s *shm.Segment, _ *shm.Stream) error { return s.WriteUint16(8, 1) }},
		{"WriteUint32", true, func(s *shm.Segment, _ *shm.Stream) error { return s.WriteUint32(8, 1) }},
		{"WriteUint64", true, func(s *shm.Segment, _ *shm.Stream) error { return s.WriteUint64(8, 1) }},
		{"LoadUint32", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.LoadUint32(8); return err }},
		{"LoadUint64", false, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.LoadUint64(8); return err }},
		{"StoreUint32", true, func(s *shm.Segment, _ *shm.Stream) error { return s.StoreUint32(8, 1) }},
		{"StoreUint64", true, func(s *shm.Segment, _ *shm.Stream) error { return s.StoreUint64(8, 1) }},
		{"CompareAndSwapUint32", true, func(s *shm.Segment, _ *shm.Stream) error {
			_, err := s.CompareAndSwapUint32(8, 0, 1)
			return err
		}},
		{"CompareAndSwapUint64", true, func(s *shm.Segment, _ *shm.Stream) error {
			_, err := s.CompareAndSwapUint64(8, 0, 1)
			return err
		}},
		{"AddUint32", true, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.AddUint32(8, 1); return err }},
		{"AddUint64", true, func(s *shm.Segment, _ *shm.Stream) error { _, err := s.AddUint64(8, 1); return err }},
		{"Stream.Read", false, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.Read(make([]byte, 4)); return err }},
		{"Stream.Write", true, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.Write([]byte("x")); return err }},
		{"Stream.ReadByte", false, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.ReadByte(); return err }},
		{"Stream.WriteByte", true, func(_ *shm.Segment, st *shm.Stream) error { return st.WriteByte('x') }},
		{"Stream.ReadAt", false, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.ReadAt(make([]byte, 4), 8); return err }},
		{"Stream.WriteAt", true, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.WriteAt([]byte("x"), 8); return err }},
		{"Stream.Seek", false, func(_ *shm.Segment, st *shm.Stream) error { _, err := st.Seek(8, io.SeekStart); return err }},
	}
}

// segmentKinds opens a segment of 64 bytes in each of the ways a Segment
// comes to be, all with opts.
var segmentKinds = []struct {
	name string
	new  func(t *testing.T, opts ...shm.Option) *shm.Segment
}{
	{"Create", func(t *testing.T, opts ...shm.Option) *shm.Segment {
		name := newName(t)
		s, err := shm.Create(name, 64, opts...)
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		return s
	}},
	{"Open", func(t *testing.T, opts ...shm.Option) *shm.Segment {
		c := create(t, 64)
		s, err := shm.Open(c.Name(), opts...)
		if err != nil {
			t.Fatalf("Open(%q): %v", c.Name(), err)
		}
		return s
	}},
	{"OpenOrCreate", func(t *testing.T, opts ...shm.Option) *shm.Segment {
		name := newName(t)
		s, _, err := shm.OpenOrCreate(name, 64, opts...)
		if err != nil {
			t.Fatalf("OpenOrCreate(%q): %v", name, err)
		}
		return s
	}},
	{"CreateFile", func(t *testing.T, opts ...shm.Option) *shm.Segment {
		path := filepath.Join(tempDir(t), "segment")
		s, err := shm.CreateFile(path, 64, opts...)
		if err != nil {
			t.Fatalf("CreateFile(%q): %v", path, err)
		}
		return s
	}},
	{"OpenFile", func(t *testing.T, opts ...shm.Option) *shm.Segment {
		path := filepath.Join(tempDir(t), "segment")
		if err := os.WriteFile(path, make([]byte, 64), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := shm.OpenFile(path, opts...)
		if err != nil {
			t.Fatalf("OpenFile(%q): %v", path, err)
		}
		return s
	}},
}

// TestReadOnly checks that every write through a read-only mapping fails
// with ErrReadOnly and changes nothing, and that every read works.
func TestReadOnly(t *testing.T) {
	for _, kind := range segmentKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.new(t, shm.ReadOnly())
			defer closeSegment(t, s)
			if !s.ReadOnly() {
				t.Fatalf("%s(ReadOnly()): ReadOnly() = false", kind.name)
			}
			before := bytes.Clone(s.Bytes())
			for _, op := range allOps() {
				err := op.do(s, s.NewStream())
				switch {
				case op.write && !errors.Is(err, shm.ErrReadOnly):
					t.Errorf("%s on a read-only segment = %v, want ErrReadOnly", op.name, err)
				case !op.write && err != nil:
					t.Errorf("%s on a read-only segment: %v", op.name, err)
				}
			}
			if diff := diffBytes(before, s.Bytes()); diff != "" {
				t.Errorf("refused writes changed the segment (-before +after):\n%s", diff)
			}
		})
	}
}

// TestReadOnlySeesWrites checks that a read-only opener sees what a
// read-write one writes.
func TestReadOnlySeesWrites(t *testing.T) {
	w := create(t, 4096)
	r := open(t, w.Name(), shm.ReadOnly())
	if err := w.StoreUint64(64, 0xfeedface); err != nil {
		t.Fatalf("StoreUint64: %v", err)
	}
	if got, err := r.LoadUint64(64); err != nil || got != 0xfeedface {
		t.Errorf("read-only LoadUint64(64) = %#x, %v, want 0xfeedface", got, err)
	}
}

// TestClosed checks that every view fails with ErrClosed (os.ErrClosed)
// after Close, streams made before and after it alike, and that Close is
// idempotent.
func TestClosed(t *testing.T) {
	for _, kind := range segmentKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.new(t)
			early := s.NewStream()
			atEnd := s.NewStream()
			if _, err := atEnd.Seek(0, io.SeekEnd); err != nil {
				t.Fatalf("Seek to end: %v", err)
			}
			for i := range 2 {
				if err := s.Close(); err != nil {
					t.Fatalf("Close #%d: %v", i+1, err)
				}
			}
			if b := s.Bytes(); b != nil {
				t.Errorf("Bytes() after Close = %d bytes, want nil", len(b))
			}
			for _, op := range allOps() {
				for _, st := range []*shm.Stream{early, s.NewStream()} {
					err := op.do(s, st)
					if !errors.Is(err, shm.ErrClosed) || !errors.Is(err, os.ErrClosed) {
						t.Errorf("%s after Close = %v, want ErrClosed", op.name, err)
					}
				}
			}
			// A stream at the end must not report io.EOF for a closed segment.
			if _, err := atEnd.Read(make([]byte, 1)); !errors.Is(err, shm.ErrClosed) {
				t.Errorf("Stream.Read at the end after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestCloseConcurrent closes a segment while goroutines use every view; each
// call must either work or fail with ErrClosed. Run it with -race.
func TestCloseConcurrent(t *testing.T) {
	s := create(t, 4096)
	ops := allOps()
	var wg sync.WaitGroup
	errs := make(chan error, len(ops))
	for _, op := range ops {
		wg.Go(func() {
			st := s.NewStream()
			for {
				if _, err := st.Seek(0, io.SeekStart); err != nil && !errors.Is(err, shm.ErrClosed) {
					errs <- fmt.Errorf("Seek: %w", err)
					return
				}
				err := op.do(s, st)
				if errors.Is(err, shm.ErrClosed) {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", op.name, err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("during Close: %v", err)
	}
}

// TestRemoveOnClose checks that RemoveOnClose leaves nothing in /dev/shm,
// for the creator and for an opener, while other mappings keep working.
func TestRemoveOnClose(t *testing.T) {
	t.Run("creator", func(t *testing.T) {
		name := newName(t)
		s, err := shm.Create(name, 4096, shm.RemoveOnClose())
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		other := open(t, name)
		if !exists(t, name) {
			t.Fatalf("Create(%q): no entry in %s", name, shmDir)
		}
		if err := s.WriteUint64(0, 42); err != nil {
			t.Fatalf("WriteUint64: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close(%q): %v", name, err)
		}
		if exists(t, name) {
			t.Errorf("Close(%q) with RemoveOnClose left the entry in %s", name, shmDir)
		}
		if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) after Close = %v, want fs.ErrNotExist", name, err)
		}
		// The other mapping outlives the name.
		if got, err := other.ReadUint64(0); err != nil || got != 42 {
			t.Errorf("other mapping ReadUint64(0) = %d, %v, want 42", got, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close(%q) = %v, want nil (no second remove)", name, err)
		}
	})
	t.Run("opener", func(t *testing.T) {
		c := create(t, 4096)
		o, err := shm.Open(c.Name(), shm.RemoveOnClose())
		if err != nil {
			t.Fatalf("Open(%q): %v", c.Name(), err)
		}
		if err := o.Close(); err != nil {
			t.Fatalf("Close(%q): %v", c.Name(), err)
		}
		if exists(t, c.Name()) {
			t.Errorf("Close(%q) of an opener with RemoveOnClose left the entry", c.Name())
		}
	})
	t.Run("removed-before-close", func(t *testing.T) {
		name := newName(t)
		s, err := shm.Create(name, 4096, shm.RemoveOnClose())
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		if err := shm.Remove(name); err != nil {
			t.Fatalf("Remove(%q): %v", name, err)
		}
		if err := s.Close(); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Close(%q) after Remove = %v, want fs.ErrNotExist from the remove", name, err)
		}
		if _, err := s.ReadUint8(0); !errors.Is(err, shm.ErrClosed) {
			t.Errorf("ReadUint8 after a failed remove in Close = %v, want ErrClosed", err)
		}
	})
}

// TestRemoveWhileMapped checks that Remove frees the name at once, and that
// a new segment under the same name is a different one.
func TestRemoveWhileMapped(t *testing.T) {
	old := create(t, 64)
	if err := old.WriteUint32(0, 1); err != nil {
		t.Fatalf("WriteUint32: %v", err)
	}
	if err := shm.Remove(old.Name()); err != nil {
		t.Fatalf("Remove(%q): %v", old.Name(), err)
	}
	if err := shm.Remove(old.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove(%q) = %v, want fs.ErrNotExist", old.Name(), err)
	}
	fresh, err := shm.Create(old.Name(), 64)
	if err != nil {
		t.Fatalf("Create(%q) after Remove: %v", old.Name(), err)
	}
	defer closeSegment(t, fresh)
	if err := fresh.WriteUint32(0, 2); err != nil {
		t.Fatalf("WriteUint32: %v", err)
	}
	if got, _ := old.ReadUint32(0); got != 1 {
		t.Errorf("removed segment reads %d, want its own 1", got)
	}
}

func TestOpenOrCreate(t *testing.T) {
	name := newName(t)
	first, created, err := shm.OpenOrCreate(name, 4096)
	if err != nil || !created {
		t.Fatalf("OpenOrCreate(%q) = created %v, %v; want created", name, created, err)
	}
	defer closeSegment(t, first)
	if err := first.WriteUint64(0, 7); err != nil {
		t.Fatalf("WriteUint64: %v", err)
	}
	// An existing segment keeps its own size, whatever the call asks for.
	for _, size := range []int64{4096, 1, 1 << 20} {
		s, created, err := shm.OpenOrCreate(name, size)
		if err != nil || created {
			t.Fatalf("OpenOrCreate(%q, %d) of an existing segment = created %v, %v; want opened", name, size, created, err)
		}
		if s.Size() != 4096 {
			t.Errorf("OpenOrCreate(%q, %d): Size() = %d, want 4096", name, size, s.Size())
		}
		if got, err := s.ReadUint64(0); err != nil || got != 7 {
			t.Errorf("OpenOrCreate(%q, %d): ReadUint64(0) = %d, %v, want 7", name, size, got, err)
		}
		closeSegment(t, s)
	}
	if err := shm.Remove(name); err != nil {
		t.Fatalf("Remove(%q): %v", name, err)
	}
	s, created, err := shm.OpenOrCreate(name, 64)
	if err != nil || !created {
		t.Fatalf("OpenOrCreate(%q) after Remove = created %v, %v; want created", name, created, err)
	}
	closeSegment(t, s)
}

// TestOpenOrCreateGoroutines races OpenOrCreate in one process; see
// TestOpenOrCreateProcesses for the race between processes.
func TestOpenOrCreateGoroutines(t *testing.T) {
	const n = 16
	name := newName(t)
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		created = make([]bool, n)
		segs    = make([]*shm.Segment, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			segs[i], created[i], errs[i] = shm.OpenOrCreate(name, 8*n)
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("OpenOrCreate(%q) #%d: %v", name, i, errs[i])
		}
		defer closeSegment(t, segs[i])
		if created[i] {
			creators++
		}
		if err := segs[i].WriteUint64(int64(8*i), uint64(i+1)); err != nil {
			t.Fatalf("WriteUint64: %v", err)
		}
	}
	if creators != 1 {
		t.Errorf("OpenOrCreate(%q) from %d goroutines: %d report created=true, want 1", name, n, creators)
	}
	for i := range n {
		if got, _ := segs[0].ReadUint64(int64(8 * i)); got != uint64(i+1) {
			t.Errorf("slot %d = %d, want %d: not all calls mapped the same segment", i, got, i+1)
		}
	}
}

// TestOpenNotReady makes an object the way a creator that has not sized it
// yet leaves it (zero bytes), and checks that Open waits for the size until
// the open timeout.
func TestOpenNotReady(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("makes the object through /dev/shm")
	}
	name := newName(t)
	f, err := os.OpenFile(filepath.Join(shmDir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	const timeout = 50 * time.Millisecond
	start := time.Now()
	_, err = shm.Open(name, shm.WithOpenTimeout(timeout))
	if !errors.Is(err, shm.ErrNotReady) {
		t.Errorf("Open(%q) of an unsized object = %v, want ErrNotReady", name, err)
	}
	if elapsed := time.Since(start); elapsed < timeout {
		t.Errorf("Open(%q) gave up after %v, before the %v timeout", name, elapsed, timeout)
	}
	if _, _, err := shm.OpenOrCreate(name, 64, shm.WithOpenTimeout(timeout)); !errors.Is(err, shm.ErrNotReady) {
		t.Errorf("OpenOrCreate(%q) of an unsized object = %v, want ErrNotReady", name, err)
	}

	// The creator sizes it a little later: Open waits and maps the final size.
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = f.Truncate(4096)
	}()
	s, err := shm.Open(name, shm.WithOpenTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("Open(%q) while the creator sizes it: %v", name, err)
	}
	defer closeSegment(t, s)
	if s.Size() != 4096 {
		t.Errorf("Open(%q): Size() = %d, want 4096", name, s.Size())
	}
}

func TestErrorType(t *testing.T) {
	name := newName(t)
	_, err := shm.Open(name)
	var e *shm.Error
	if !errors.As(err, &e) {
		t.Fatalf("Open(%q) = %#v, want an *Error", name, err)
	}
	if e.Op != "open" || e.Name != name || !errors.Is(e.Err, fs.ErrNotExist) {
		t.Errorf("Open(%q) = &Error{Op: %q, Name: %q, Err: %v}", name, e.Op, e.Name, e.Err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "open "+name+": ") {
		t.Errorf("Open(%q).Error() = %q, want the op and the name first", name, msg)
	}
}

// TestCreateFile covers the file-backed segment's own behaviour; the views
// are covered with the named segment's by the tables above and by
// TestFileEquivalence.
func TestCreateFile(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "segment")
	s, err := shm.CreateFile(path, 1000)
	if err != nil {
		t.Fatalf("CreateFile(%q): %v", path, err)
	}
	if s.Name() != path || s.Size() != 1000 {
		t.Errorf("CreateFile(%q, 1000): Name() = %q, Size() = %d", path, s.Name(), s.Size())
	}
	want := pattern(1000, 3)
	if _, err := s.WriteAt(want, 0); err != nil {
		t.Fatalf("WriteAt: %v", err)
	}
	o, err := shm.OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile(%q): %v", path, err)
	}
	if diff := diffBytes(want, o.Bytes()); diff != "" {
		t.Errorf("OpenFile sees (-want +got):\n%s", diff)
	}
	closeSegment(t, o)
	closeSegment(t, s)
	// The file keeps the bytes after the last Close.
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffBytes(want, got); diff != "" {
		t.Errorf("file after Close (-want +got):\n%s", diff)
	}

	if _, err := shm.CreateFile(path, 1000); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateFile(%q) of an existing file = %v, want fs.ErrExist", path, err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := shm.OpenFile(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile(%q) = %v, want fs.ErrNotExist", missing, err)
	}
	if _, err := shm.CreateFile(filepath.Join(missing, "x"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CreateFile in a missing directory = %v, want fs.ErrNotExist", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.OpenFile(empty); !errors.Is(err, shm.ErrInvalidSize) {
		t.Errorf("OpenFile(%q) of an empty file = %v, want ErrInvalidSize", empty, err)
	}
	for _, size := range invalidSizes {
		p := filepath.Join(dir, "bad-size")
		if _, err := shm.CreateFile(p, size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("CreateFile(%q, %d) = %v, want ErrInvalidSize", p, size, err)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CreateFile(%q, %d) failed but left the file: %v", p, size, err)
		}
	}
}

func TestCreateFileOptions(t *testing.T) {
	dir := tempDir(t)
	t.Run("RemoveOnClose", func(t *testing.T) {
		path := filepath.Join(dir, "remove-on-close")
		s, err := shm.CreateFile(path, 64, shm.RemoveOnClose())
		if err != nil {
			t.Fatalf("CreateFile(%q): %v", path, err)
		}
		closeSegment(t, s)
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Close with RemoveOnClose left %q: %v", path, err)
		}
	})
	t.Run("ReadOnly", func(t *testing.T) {
		// A read-only CreateFile still sizes the file, so reads see zeros
		// rather than fault past the end of an empty file.
		path := filepath.Join(dir, "read-only")
		s, err := shm.CreateFile(path, 8192, shm.ReadOnly())
		if err != nil {
			t.Fatalf("CreateFile(%q, ReadOnly()): %v", path, err)
		}
		defer closeSegment(t, s)
		if got, err := s.ReadUint64(8192 - 8); err != nil || got != 0 {
			t.Errorf("ReadUint64 at the end = %d, %v, want 0", got, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != 8192 {
			t.Errorf("Stat(%q) = %v, %v, want 8192 bytes", path, fi, err)
		}
	})
}

// TestFileEquivalence runs one script of calls on a named segment and on a
// file-backed one: every result and the final bytes must be the same.
func TestFileEquivalence(t *testing.T) {
	const size = 256
	named := create(t, size)
	path := filepath.Join(tempDir(t), "segment")
	file, err := shm.CreateFile(path, size)
	if err != nil {
		t.Fatalf("CreateFile(%q): %v", path, err)
	}
	defer closeSegment(t, file)

	namedTrace, fileTrace := script(named), script(file)
	if diff := cmp.Diff(namedTrace, fileTrace); diff != "" {
		t.Errorf("results differ (-named +file):\n%s", diff)
	}
	if diff := diffBytes(named.Bytes(), file.Bytes()); diff != "" {
		t.Errorf("bytes differ (-named +file):\n%s", diff)
	}
	t.Logf("%d calls, same results", len(namedTrace))
}

// script makes a fixed series of calls, in range and out of it, on a
// segment of 256 bytes and records every result.
func script(s *shm.Segment) []string {
	var trace []string
	rec := func(call string, v any, err error) {
		trace = append(trace, fmt.Sprintf("%s = %v, %s", call, v, errorKind(err)))
	}
	size := s.Size()
	for _, off := range []int64{-1, 0, 3, 8, size - 8, size - 5, size, size + 1} {
		n, err := s.WriteAt([]byte("abcdefgh"), off)
		rec(fmt.Sprintf("WriteAt(8, %d)", off), n, err)
		buf := make([]byte, 8)
		n, err = s.ReadAt(buf, off)
		rec(fmt.Sprintf("ReadAt(8, %d)", off), fmt.Sprintf("%d %q", n, buf[:n]), err)
		rec(fmt.Sprintf("WriteUint16(%d)", off), nil, s.WriteUint16(off, 0xBEEF))
		v16, err := s.ReadUint16(off)
		rec(fmt.Sprintf("ReadUint16(%d)", off), v16, err)
		rec(fmt.Sprintf("WriteUint64(%d)", off), nil, s.WriteUint64(off, 0x0102030405060708))
		v64, err := s.ReadUint64(off)
		rec(fmt.Sprintf("ReadUint64(%d)", off), v64, err)
		v32, err := s.AddUint32(off, 3)
		rec(fmt.Sprintf("AddUint32(%d)", off), v32, err)
		ok, err := s.CompareAndSwapUint64(off, 0x0102030405060708, 9)
		rec(fmt.Sprintf("CompareAndSwapUint64(%d)", off), ok, err)
	}
	st := s.NewStream()
	pos, err := st.Seek(-10, io.SeekEnd)
	rec("Seek(-10, end)", pos, err)
	n, err := st.Write([]byte("0123456789ABCDEF"))
	rec("Write(16)", n, err)
	pos, err = st.Seek(-20, io.SeekCurrent)
	rec("Seek(-20, current)", pos, err)
	rest, err := io.ReadAll(st)
	rec("ReadAll", fmt.Sprintf("%q", rest), err)
	return trace
}
