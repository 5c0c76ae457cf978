//go:build windows && !cgo

package platform

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// The pure-Go path for CGO_ENABLED=0 on Windows, through
// golang.org/x/sys/windows. It makes the same calls as the cgo shims, so the
// two paths share segments. x/sys/windows has no OpenFileMapping, so
// kernel32!OpenFileMappingW is called through a lazy proc.

const implementation = "purego"

var procOpenFileMappingW = windows.NewLazySystemDLL("kernel32.dll").NewProc("OpenFileMappingW")

// createMapping creates the named mapping. If the name exists it returns a
// valid handle to the existing object together with ERROR_ALREADY_EXISTS
// (x/sys/windows returns both).
func createMapping(obj string, size int64) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return 0, err
	}
	return windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE,
		uint32(uint64(size)>>32), uint32(size), name)
}

func openMapping(obj string, writable bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return 0, err
	}
	if err := procOpenFileMappingW.Find(); err != nil {
		return 0, err
	}
	r, _, err := procOpenFileMappingW.Call(uintptr(viewAccess(writable)), 0, uintptr(unsafe.Pointer(name)))
	if r == 0 {
		return 0, err // a windows.Errno: the call's GetLastError
	}
	return windows.Handle(r), nil
}

func viewAccess(writable bool) uint32 {
	if writable {
		return windows.FILE_MAP_READ | windows.FILE_MAP_WRITE
	}
	return windows.FILE_MAP_READ
}
