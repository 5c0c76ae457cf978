/*
 * shim_unix.h: thin, fixed-arity wrappers over the POSIX shared-memory calls,
 * for cgo. cgo cannot call variadic functions (shm_open's mode argument is
 * variadic), and it reads errno only after a failed call, so every wrapper
 * returns -1 (or MAP_FAILED) and leaves errno set on failure.
 *
 * Everything is static: the header is included by one cgo preamble per
 * package, so nothing is defined twice.
 */
#ifndef SHMCHAN_SHIM_UNIX_H
#define SHMCHAN_SHIM_UNIX_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int shim_shm_open(const char *name, int oflag, unsigned int mode) {
	return shm_open(name, oflag, (mode_t)mode);
}

static int shim_shm_unlink(const char *name) { return shm_unlink(name); }

static int shim_ftruncate(int fd, int64_t size) { return ftruncate(fd, (off_t)size); }

static int shim_fchmod(int fd, unsigned int mode) { return fchmod(fd, (mode_t)mode); }

static int shim_close(int fd) { return close(fd); }

/* shim_fstat_size stores the object's size in *size. */
static int shim_fstat_size(int fd, int64_t *size) {
	struct stat st;
	if (fstat(fd, &st) < 0) return -1;
	*size = (int64_t)st.st_size;
	return 0;
}

/*
 * shim_reserve makes the kernel commit the object's memory now, so that a
 * full /dev/shm fails here with ENOSPC instead of raising SIGBUS on the first
 * touch of a page. posix_fallocate returns the error instead of setting
 * errno; the shim sets errno for uniformity. macOS has no posix_fallocate and
 * backs POSIX shared memory with committed anonymous memory at ftruncate.
 */
static int shim_reserve(int fd, int64_t size) {
#if defined(__linux__)
	int r;
	do {
		r = posix_fallocate(fd, 0, (off_t)size);
	} while (r == EINTR);
	if (r != 0) {
		errno = r;
		return -1;
	}
#else
	(void)fd;
	(void)size;
#endif
	return 0;
}

/* shim_mmap maps size bytes of fd shared; it returns NULL and sets errno on failure. */
static void *shim_mmap(int fd, int64_t size, int writable) {
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int shim_munmap(void *addr, int64_t size) { return munmap(addr, (size_t)size); }

#endif /* SHMCHAN_SHIM_UNIX_H */
