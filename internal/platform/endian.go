package platform

import "unsafe"

// LittleEndian reports whether this machine stores integers little-endian,
// the byte order of the shared layout (docs/layout.md, "Byte order"). On a
// big-endian machine package shm refuses every object, as the C library
// does: creating fails with errors.ErrUnsupported and opening with
// ErrVersionMismatch, before any field is read.
var LittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
