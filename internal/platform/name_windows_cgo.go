//go:build windows && cgo

package platform

/*
#cgo CFLAGS: -I${SRCDIR}/../../shm/c -O2 -Wall
#include "shim_windows.h"
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// The cgo path: CreateFileMappingW and OpenFileMappingW through the shims in
// shm/c, as a C peer makes them. Views are mapped in segment_windows.go.
// Each shim hands back GetLastError explicitly, since cgo's errno result
// reads the C runtime's errno, which Win32 calls do not set.

const implementation = "cgo"

// cname converts a kernel object name to a NUL-terminated UTF-16 string.
// The memory is Go's and holds no Go pointer, so C may read it during the
// call.
func cname(obj string) (*C.wchar_t, error) {
	u, err := windows.UTF16FromString(obj)
	if err != nil {
		return nil, err
	}
	return (*C.wchar_t)(unsafe.Pointer(&u[0])), nil
}

// createMapping creates the named mapping. If the name exists it returns a
// valid handle to the existing object together with ERROR_ALREADY_EXISTS.
func createMapping(obj string, size int64) (windows.Handle, error) {
	name, err := cname(obj)
	if err != nil {
		return 0, err
	}
	var code C.DWORD
	h := windows.Handle(C.shim_create_mapping(name, C.uint64_t(size), &code))
	if h == 0 || windows.Errno(code) == windows.ERROR_ALREADY_EXISTS {
		return h, windows.Errno(code)
	}
	return h, nil
}

func openMapping(obj string, writable bool) (windows.Handle, error) {
	name, err := cname(obj)
	if err != nil {
		return 0, err
	}
	var code C.DWORD
	h := windows.Handle(C.shim_open_mapping(name, cbool(writable), &code))
	if h == 0 {
		return 0, windows.Errno(code)
	}
	return h, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
