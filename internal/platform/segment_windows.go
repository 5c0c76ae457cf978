package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows segment: a named file mapping backed by the paging file
// (CreateFileMappingW with INVALID_HANDLE_VALUE), mapped whole with
// MapViewOfFile. The mapping object is created or opened by
// name_windows_cgo.go (the C shims in shm/c/shim_windows.h) or
// name_windows_nocgo.go (golang.org/x/sys/windows); views are mapped,
// queried and unmapped through golang.org/x/sys/windows in both builds.
// Both paths create the same kernel object, so a cgo process, a pure-Go
// process and a C or .NET program (MemoryMappedFile.CreateNew(name)) share a
// segment by name.
//
// Names: the segment "x" is the kernel object "Local\x" (the caller's
// session), or "Global\x" with the Global option. Creating a Global\ object
// needs SeCreateGlobalPrivilege; opening one does not.
//
// Lifetime: the kernel deletes a named mapping's name when the last handle to
// it closes, even while views of it are still mapped. There is no unlink. A
// Mapping therefore keeps its mapping handle open until Unmap (shm's
// Segment.Close), and Remove closes this process's handles for the name (its
// Mappings stay mapped and usable): once every process that holds the name has closed or removed it,
// Open fails with fs.ErrNotExist and Create may use the name again. See
// docs/platforms.md.
//
// Size: Create maps exactly the size asked for. Open learns the size from
// VirtualQuery, which reports whole pages, so an opener's Size is the
// creator's size rounded up to the page size (4096). The bytes past the
// creator's size read as zero. Channels and mailboxes read their capacity
// from their own header, so the rounding does not affect them.
//
// Permissions: the mapping gets the default security descriptor of the
// creating process's token, which grants access to the current user (and
// SYSTEM and the administrators), the equivalent of mode 0600. The mode
// argument (shm's WithMode) is ignored.

// objectName is the kernel object name of the segment name.
func objectName(name string, global bool) string {
	if global {
		return `Global\` + name
	}
	return `Local\` + name
}

// Create creates the named mapping of size bytes, in the Local\ namespace
// or with global in Global\, and maps it whole. mode is ignored (see
// above). It fails with an error matching fs.ErrExist if the name exists.
func Create(name string, size int64, _ uint32, global, writable bool) (*Mapping, error) {
	obj := objectName(name, global)
	h, err := createMapping(obj, size)
	if err != nil {
		if h != 0 {
			// The name exists: CreateFileMappingW opened the existing object
			// and said so with ERROR_ALREADY_EXISTS. Create must not open it.
			err = errors.Join(err, windows.CloseHandle(h))
		}
		return nil, mappingError(obj, "CreateFileMapping", err, global)
	}
	mem, err := mapView(h, size, writable)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("MapViewOfFile %s: %w", obj, err), windows.CloseHandle(h))
	}
	return namedMapping(name, global, h, mem), nil
}

// Open maps the existing named mapping whole. It fails with an error
// matching fs.ErrNotExist if there is none. Its size is the creator's
// rounded up to whole pages (see above).
func Open(name string, global, writable bool) (*Mapping, error) {
	obj := objectName(name, global)
	h, err := openMapping(obj, writable)
	if err != nil {
		return nil, mappingError(obj, "OpenFileMapping", err, false)
	}
	mem, err := mapView(h, 0, writable)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("MapViewOfFile %s: %w", obj, err), windows.CloseHandle(h))
	}
	if int64(len(mem)) > MaxSize {
		return nil, errors.Join(fmt.Errorf("size %d: %w", len(mem), ErrSize), unmapView(mem), windows.CloseHandle(h))
	}
	return namedMapping(name, global, h, mem), nil
}

// Remove closes this process's handles for name. If this process holds
// none, it only reports whether the name exists (in either namespace):
// another process's handles keep it alive and cannot be closed from here.
func Remove(name string) error {
	if n, err := holds.releaseAll(name); n > 0 || err != nil {
		return err
	}
	var errs []error
	for _, global := range []bool{false, true} {
		obj := objectName(name, global)
		h, err := openMapping(obj, false)
		if err == nil {
			return windows.CloseHandle(h)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return mappingError(obj, "OpenFileMapping", err, false)
		}
		errs = append(errs, err)
	}
	return fmt.Errorf(`no mapping named Local\%s or Global\%s: %w`, name, name, errs[0])
}

func namedMapping(name string, global bool, h windows.Handle, mem []byte) *Mapping {
	k := holds.add(name, h)
	var removedBefore bool // Remove closed our handle before Unmap did
	return &Mapping{
		Mem: mem,
		FD:  -1,
		Unmap: func() error {
			err := unmapView(mem)
			held, cerr := k.release()
			removedBefore = !held
			return errors.Join(err, cerr)
		},
		// RemoveOnClose: Unmap has released this mapping's handle; release
		// the process's other handles for the name as well. As on Linux, a
		// name that was already removed is an error matching fs.ErrNotExist.
		Remove: func() error {
			n, err := holds.releaseAll(name)
			if err == nil && n == 0 && removedBefore {
				return fmt.Errorf("%s was removed before Close: %w", objectName(name, global), windows.ERROR_FILE_NOT_FOUND)
			}
			return err
		},
	}
}

// MapFile maps the open file f, of size bytes, whole: a file-backed mapping
// object (CreateFileMappingW on the file's handle, unnamed), and a view of
// it. The mapping object's handle is closed at once (the view keeps the
// object); f stays open until Unmap, which flushes the view to the file
// first, and is closed on failure.
func MapFile(f *os.File, size int64, writable bool) (m *Mapping, err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close())
		}
	}()
	prot := uint32(windows.PAGE_READONLY)
	if writable {
		prot = windows.PAGE_READWRITE
	}
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, prot, uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, fmt.Errorf("CreateFileMapping %s: %w", f.Name(), err)
	}
	mem, err := mapView(h, size, writable)
	if cerr := windows.CloseHandle(h); err == nil && cerr != nil {
		err = errors.Join(cerr, unmapView(mem))
	}
	if err != nil {
		return nil, fmt.Errorf("MapViewOfFile %s: %w", f.Name(), err)
	}
	return &Mapping{
		Mem: mem,
		FD:  -1,
		Unmap: func() error {
			var errs []error
			if writable {
				errs = append(errs, windows.FlushViewOfFile(uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(mem))))
			}
			return errors.Join(append(errs, unmapView(mem), f.Close())...)
		},
	}, nil
}

// mappingError explains a failed CreateFileMapping or OpenFileMapping. The
// Win32 error stays wrapped, so errors.Is matches fs.ErrExist,
// fs.ErrNotExist and fs.ErrPermission.
func mappingError(obj, call string, err error, creatingGlobal bool) error {
	var code windows.Errno
	if !errors.As(err, &code) {
		return fmt.Errorf("%s %s: %w", call, obj, err)
	}
	switch code {
	case windows.ERROR_ACCESS_DENIED:
		if creatingGlobal {
			return fmt.Errorf("%s %s: creating a Global\\ object needs SeCreateGlobalPrivilege "+
				"(held by services and elevated administrators); without it use the default Local\\ namespace: %w", call, obj, err)
		}
		return fmt.Errorf("%s %s: the mapping's security descriptor denies access to this user: %w", call, obj, err)
	case windows.ERROR_INVALID_HANDLE:
		// The object namespace is shared by every kind of named object.
		return fmt.Errorf("%s %s: the name belongs to another kind of kernel object (an event, mutex or semaphore): %w (%w)",
			call, obj, fs.ErrExist, err)
	case windows.ERROR_NOT_ENOUGH_MEMORY, windows.ERROR_OUTOFMEMORY, windows.ERROR_COMMITMENT_LIMIT, windows.ERROR_DISK_FULL:
		return fmt.Errorf("%s %s: %w (%w)", call, obj, ErrNoSpace, err)
	}
	return fmt.Errorf("%s %s: %w", call, obj, err)
}

// holds is the registry of this process's open mapping handles, by segment
// name, so that Remove can close them all.
var holds = handleRegistry{byName: make(map[string]map[*handleHold]struct{})}

type handleRegistry struct {
	mu     sync.Mutex
	byName map[string]map[*handleHold]struct{}
}

// A handleHold is one Mapping's handle.
type handleHold struct {
	name string
	h    windows.Handle // 0 once closed
}

func (r *handleRegistry) add(name string, h windows.Handle) *handleHold {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := &handleHold{name: name, h: h}
	if r.byName[name] == nil {
		r.byName[name] = make(map[*handleHold]struct{})
	}
	r.byName[name][k] = struct{}{}
	return k
}

// release closes the hold's handle unless Remove already did, and reports
// whether it was still open.
func (k *handleHold) release() (held bool, err error) {
	holds.mu.Lock()
	defer holds.mu.Unlock()
	held = k.h != 0
	return held, holds.closeLocked(k)
}

func (r *handleRegistry) closeLocked(k *handleHold) error {
	if k.h == 0 {
		return nil
	}
	h := k.h
	k.h = 0
	delete(r.byName[k.name], k)
	if len(r.byName[k.name]) == 0 {
		delete(r.byName, k.name)
	}
	return windows.CloseHandle(h)
}

// releaseAll closes every handle this process holds for name and reports how
// many there were.
func (r *handleRegistry) releaseAll(name string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	n := 0
	for k := range r.byName[name] {
		n++
		errs = append(errs, r.closeLocked(k))
	}
	return n, errors.Join(errs...)
}

// mapView maps the whole mapping h. With size 0 the view's size is read
// back with VirtualQuery, which reports whole pages.
func mapView(h windows.Handle, size int64, writable bool) ([]byte, error) {
	access := uint32(windows.FILE_MAP_READ)
	if writable {
		access |= windows.FILE_MAP_WRITE
	}
	addr, err := windows.MapViewOfFile(h, access, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		var mbi windows.MemoryBasicInformation
		if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
			return nil, errors.Join(fmt.Errorf("VirtualQuery: %w", err), windows.UnmapViewOfFile(addr))
		}
		size = int64(mbi.RegionSize)
	}
	// Through a pointer to the variable: go vet rightly flags a direct
	// uintptr-to-Pointer conversion, but this address is a mapping the Go
	// heap does not manage, so it cannot move.
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&addr)), size), nil
}

func unmapView(mem []byte) error {
	return windows.UnmapViewOfFile(uintptr(unsafe.Pointer(unsafe.SliceData(mem))))
}

// Dir returns "": Windows offers no way to list named file mappings.
func Dir() string { return "" }
