//go:build cgo && unix

package shm

/*
#cgo CFLAGS: -I${SRCDIR}/c -O2 -Wall
#cgo linux LDFLAGS: -lrt
#include <stdlib.h>
#include "shim_unix.h"
*/
import "C"

import (
	"unsafe"
)

// The cgo path: shm_open and friends through the shims in shm/c.

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

func fdTruncate(fd int, size int64) error {
	if r, err := C.shim_ftruncate(C.int(fd), C.int64_t(size)); r < 0 {
		return err
	}
	return nil
}

func fdChmod(fd int, mode uint32) error {
	if r, err := C.shim_fchmod(C.int(fd), C.uint(mode)); r < 0 {
		return err
	}
	return nil
}

func fdClose(fd int) error {
	if r, err := C.shim_close(C.int(fd)); r < 0 {
		return err
	}
	return nil
}

func fdSize(fd int) (int64, error) {
	var size C.int64_t
	if r, err := C.shim_fstat_size(C.int(fd), &size); r < 0 {
		return 0, err
	}
	return int64(size), nil
}

func fdReserve(fd int, size int64) error {
	if r, err := C.shim_reserve(C.int(fd), C.int64_t(size)); r < 0 {
		return err
	}
	return nil
}

func mapFD(fd int, size int64, writable bool) ([]byte, error) {
	w := C.int(0)
	if writable {
		w = 1
	}
	p, err := C.shim_mmap(C.int(fd), C.int64_t(size), w)
	if p == nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

func unmapMem(b []byte) error {
	if r, err := C.shim_munmap(unsafe.Pointer(unsafe.SliceData(b)), C.int64_t(len(b))); r < 0 {
		return err
	}
	return nil
}
