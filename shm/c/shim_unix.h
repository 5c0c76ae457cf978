/*
 * shim_unix.h: thin, fixed-arity wrappers over shm_open and shm_unlink, for
 * cgo (internal/platform's name_linux_cgo.go and name_darwin_cgo.go). cgo
 * cannot call variadic functions (shm_open's mode argument is variadic), and
 * it reads errno only after a failed call, so every wrapper returns -1 and
 * leaves errno set on failure. Sizing and mapping go through x/sys/unix.
 *
 * Everything is static: the header is included by one cgo preamble per
 * OS, so nothing is defined twice.
 */
#ifndef SHMCHAN_SHIM_UNIX_H
#define SHMCHAN_SHIM_UNIX_H

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>

static int shim_shm_open(const char *name, int oflag, unsigned int mode) {
	return shm_open(name, oflag, (mode_t)mode);
}

static int shim_shm_unlink(const char *name) { return shm_unlink(name); }

#endif /* SHMCHAN_SHIM_UNIX_H */
