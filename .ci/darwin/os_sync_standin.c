/*
 * os_sync_standin.c: Linux stand-ins for macOS's os_sync_wait_on_address
 * family, built on futexes, for .ci/darwin.sh. They let the darwin cgo file
 * of sync/wake (wake_darwin.go), which no macOS toolchain compiles here, be
 * compiled with cgo and run on Linux: its dlsym lookup finds these, and the
 * package's tests then go through its native path. They check the
 * arguments that macOS would need (4-byte word, SHARED flag, the
 * mach-absolute clock) and fail with EINVAL otherwise.
 *
 * Test scaffolding only: never part of a build of the library.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int standin_calls;

__attribute__((visibility("default"))) int os_sync_wait_on_address_with_timeout(
	void *addr, uint64_t value, size_t size, uint32_t flags, uint32_t clockid, uint64_t timeout_ns) {
	struct timespec ts;
	long r;
	if (size != 4 || flags != 1 || clockid != 32) {
		errno = EINVAL;
		return -1;
	}
	__atomic_add_fetch(&standin_calls, 1, __ATOMIC_SEQ_CST);
	ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
	ts.tv_nsec = (long)(timeout_ns % 1000000000u);
	r = syscall(SYS_futex, addr, FUTEX_WAIT, (uint32_t)value, &ts, NULL, 0);
	if (r < 0 && errno == EAGAIN) return 0; /* the word had changed */
	return r < 0 ? -1 : 0;
}

__attribute__((visibility("default"))) int os_sync_wake_by_address_all(void *addr, size_t size,
                                                                        uint32_t flags) {
	long r;
	if (size != 4 || flags != 1) {
		errno = EINVAL;
		return -1;
	}
	r = syscall(SYS_futex, addr, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
	if (r == 0) {
		errno = ENOENT; /* as macOS: nobody was waiting */
		return -1;
	}
	return r < 0 ? -1 : 0;
}
