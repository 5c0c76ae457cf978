// Package platform holds the operating-system primitives of shmchan, and
// nothing else: creating, opening, mapping and removing named shared-memory
// objects and files; process tokens that tell whether a peer is alive; and
// yielding the processor. Package shm builds segments, channels and mailboxes
// on top of it. The wait/wake word lives in sync/wake.
//
// # File names
//
// Each concern has one file per build combination, and every file of a
// concern defines the same identifiers (as golang.org/x/sys does), so that a
// reader finds the code for a platform by its file name alone:
//
//	<concern>.go              portable part, no build line
//	<concern>_<goos>.go       one OS, cgo or not (//go:build <goos> is implied by the name)
//	<concern>_<goos>_cgo.go   one OS, cgo builds:  //go:build <goos> && cgo
//	<concern>_<goos>_nocgo.go one OS, pure Go:     //go:build <goos> && !cgo
//	<concern>_posix.go        Linux and macOS:     //go:build linux || darwin
//	<concern>_other.go        every other OS:      //go:build !linux && !darwin && !windows
//	                          (returns errors.ErrUnsupported)
//
// The concerns:
//
//	segment   Create, Open, Remove and MapFile: a named object or a file, mapped
//	name      how a name reaches the kernel: shm_open (cgo, shims in shm/c),
//	          /dev/shm (Linux, pure Go), a per-user directory (macOS, pure Go),
//	          CreateFileMappingW (Windows, through the shims or x/sys/windows)
//	token     Token, Self and Alive: a process identity that survives PID reuse
//	lock      RoleLock: a role held by a kernel lock (an OFD byte range on
//	          Linux, a named mutex on Windows), released at the holder's death
//	yield     Yield: give the processor to the peer
//
// Memory is mapped one way per OS, whatever the build: mmap through
// golang.org/x/sys/unix on Linux and macOS, MapViewOfFile through
// golang.org/x/sys/windows on Windows. cgo only changes how a name is opened
// (shm_open is a libc call that x/sys cannot reach on macOS, and on Linux the
// cgo build checks that Go and glibc agree on /dev/shm). Implementation names
// the combination a build uses.
//
// Linux, macOS and Windows are supported; on every other OS the segment
// functions return errors.ErrUnsupported.
//
// The cgo files include the shims in shm/c (shim_unix.h, shim_windows.h) by
// relative path; the shims are static, so nothing is defined twice. No
// exported identifier shows a C type.
package platform
