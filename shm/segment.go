package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/shmchan/shmchan/internal/platform"
)

// MaxSize is the largest segment this package creates: 1 TiB on 64-bit
// platforms, and what fits an int on 32-bit ones.
const MaxSize = platform.MaxSize

// Implementation names the code path this build uses to reach shared memory,
// such as "linux/cgo" or "linux/purego" (see internal/platform). Tests log it
// so that the path under test is never mistaken.
func Implementation() string { return platform.Implementation() }

// Segment is a mapped shared-memory region: a named POSIX (or Windows)
// shared-memory object, or a regular file for CreateFile and OpenFile.
//
// The random-access view (ReadAt, WriteAt, the typed accessors and the atomic
// accessors) and every Stream over the segment are safe for concurrent use,
// including concurrently with Close: after Close they return an error
// matching ErrClosed and never touch the unmapped memory.
type Segment struct {
	name          string
	size          int64
	readOnly      bool
	removeOnClose bool

	mu     sync.RWMutex // held for reading by every view access, for writing by Close
	mem    []byte       // nil after Close
	unmap  func() error
	remove func() error
}

// Create creates a new named segment of size bytes and maps it read-write.
// It fails with an error matching fs.ErrExist if the name exists. The memory
// is reserved up front, so a full /dev/shm gives ErrNoSpace here rather than
// a SIGBUS on first touch. The new segment is zero-filled.
func Create(name string, size int64, opts ...Option) (*Segment, error) {
	o := buildOptions(opts)
	if err := ValidateName(name); err != nil {
		return nil, wrap("create", name, err)
	}
	if err := checkSize(size); err != nil {
		return nil, wrap("create", name, err)
	}
	s, err := createSegment(name, size, &o)
	if err != nil {
		return nil, wrap("create", name, err)
	}
	return s, nil
}

// Open maps an existing named segment. It fails with an error matching
// fs.ErrNotExist if there is none. Size reports the size read back from the
// OS. If the segment exists but its creator has not sized it yet, Open waits
// up to the open timeout (WithOpenTimeout) and then returns ErrNotReady.
func Open(name string, opts ...Option) (*Segment, error) {
	o := buildOptions(opts)
	if err := ValidateName(name); err != nil {
		return nil, wrap("open", name, err)
	}
	s, err := openSegment(name, &o)
	if err != nil {
		return nil, wrap("open", name, err)
	}
	return s, nil
}

// OpenOrCreate opens the named segment, creating it with size bytes if it
// does not exist. It never races: when several processes call it at once,
// exactly one creates the segment and all of them map the same one. The
// second result reports whether this call created it. An existing segment
// keeps its own size, which Size reports.
func OpenOrCreate(name string, size int64, opts ...Option) (*Segment, bool, error) {
	o := buildOptions(opts)
	if err := ValidateName(name); err != nil {
		return nil, false, wrap("open-or-create", name, err)
	}
	if err := checkSize(size); err != nil {
		return nil, false, wrap("open-or-create", name, err)
	}
	deadline := time.Now().Add(o.openTimeout)
	for {
		s, err := createSegment(name, size, &o)
		if err == nil {
			return s, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, wrap("open-or-create", name, err)
		}
		s, err = openSegment(name, &o)
		if err == nil {
			return s, false, nil
		}
		// Removed between our create and open: try again, within the deadline.
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return nil, false, wrap("open-or-create", name, err)
		}
	}
}

// Remove removes the named segment. Processes that have it mapped keep their
// mapping; the memory is freed when the last one unmaps it. It fails with an
// error matching fs.ErrNotExist if there is no such segment. On Windows, see
// docs/platforms.md: a mapping lives until its last handle closes.
func Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return wrap("remove", name, err)
	}
	return wrap("remove", name, platform.Remove(name))
}

// createSegment creates and maps a new named object.
func createSegment(name string, size int64, o *options) (*Segment, error) {
	m, err := platform.Create(name, size, uint32(o.mode), o.global, !o.readOnly)
	if err != nil {
		return nil, lift(err)
	}
	return newSegment(name, m, o), nil
}

// openSegment maps an existing named object. A creator sizes the object
// right after creating it: until then, openSegment polls with the open
// back-off (wait.go), up to the open timeout, then returns ErrNotReady.
func openSegment(name string, o *options) (*Segment, error) {
	var m *platform.Mapping
	err := openBackoff(o.openTimeout, func() (bool, error) {
		var err error
		m, err = platform.Open(name, o.global, !o.readOnly)
		if errors.Is(err, platform.ErrUnsized) {
			return false, nil
		}
		return true, err
	})
	if errors.Is(err, errOpenTimeout) {
		return nil, fmt.Errorf("size still 0 after %v: %w", o.openTimeout, ErrNotReady)
	}
	if err != nil {
		return nil, lift(err)
	}
	return newSegment(name, m, o), nil
}

func newSegment(name string, m *platform.Mapping, o *options) *Segment {
	return &Segment{
		name:          name,
		size:          int64(len(m.Mem)),
		mem:           m.Mem,
		readOnly:      o.readOnly,
		removeOnClose: o.removeOnClose,
		unmap:         m.Unmap,
		remove:        m.Remove,
	}
}

func checkSize(size int64) error {
	if size <= 0 || size > MaxSize {
		return fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrInvalidSize, size, MaxSize)
	}
	return nil
}

// Name returns the segment's name (for a file-backed segment, its path).
func (s *Segment) Name() string { return s.name }

// Size returns the segment's size in bytes, as read back from the OS.
func (s *Segment) Size() int64 { return s.size }

// ReadOnly reports whether the segment is mapped without write permission.
func (s *Segment) ReadOnly() bool { return s.readOnly }

// Bytes returns the mapped memory itself. Writes to it are seen by every
// process that maps the segment. It is not safe to use the slice after
// calling Close: the memory is unmapped and an access faults. Writing to the
// slice of a read-only segment faults too.
func (s *Segment) Bytes() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mem
}

// Close unmaps the segment and, with RemoveOnClose, removes its name. It is
// idempotent: a second Close returns nil. After Close every view returns an
// error matching ErrClosed.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem == nil {
		return nil
	}
	s.mem = nil
	var errs []error
	if err := s.unmap(); err != nil {
		errs = append(errs, wrap("unmap", s.name, err))
	}
	if s.removeOnClose && s.remove != nil {
		if err := s.remove(); err != nil {
			errs = append(errs, wrap("remove", s.name, err))
		}
	}
	return errors.Join(errs...)
}

// view runs f with the mapped memory under the read lock, or returns
// ErrClosed after Close.
func (s *Segment) view(op string, write bool, f func(mem []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mem == nil {
		return wrap(op, s.name, ErrClosed)
	}
	if write && s.readOnly {
		return wrap(op, s.name, ErrReadOnly)
	}
	return f(s.mem)
}
