//go:build darwin && cgo

package platform

/*
#cgo CFLAGS: -I${SRCDIR}/../../shm/c -O2 -Wall
#include <stdlib.h>
#include "shim_unix.h"
*/
import "C"

import "unsafe"

// The cgo path: the name goes through libc's shm_open and shm_unlink (the
// shims in shm/c), exactly as a C peer's does.

const implementation = "cgo"

func shmOpen(name string, flag int, mode uint32) (int, error) {
	cname := C.CString("/" + name)
	defer C.free(unsafe.Pointer(cname))
	fd, err := C.shim_shm_open(cname, C.int(flag), C.uint(mode))
	if fd < 0 {
		return -1, crossBuildHint(name, flag, err)
	}
	return int(fd), nil
}

func shmUnlink(name string) error {
	cname := C.CString("/" + name)
	defer C.free(unsafe.Pointer(cname))
	if r, err := C.shim_shm_unlink(cname); r < 0 {
		return err
	}
	return nil
}

// reserve does nothing: macOS backs a POSIX shared-memory object with
// committed anonymous memory at ftruncate.
func reserve(int, int64) error { return nil }

// Dir returns "": macOS offers no way to list POSIX shared-memory objects.
func Dir() string { return "" }
