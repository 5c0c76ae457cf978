/*
 * shim_darwin.h: calls to macOS's os_sync_wait_on_address family (macOS
 * 14.4 and later), for cgo.
 *
 * The functions are looked up with dlsym at run time instead of being linked:
 * a binary built with an older SDK, or run on an older macOS, then still
 * starts, and Go falls back to polling the word. Their prototypes are
 * declared here from <os/os_sync_wait_on_address.h> and <os/clock.h>, so the
 * build needs no 14.4 SDK either. Go keeps the two function pointers and
 * passes them back on every call, so no C global is shared between threads.
 *
 * Everything is static: the header is included by one cgo preamble per
 * package, so nothing is defined twice.
 */
#ifndef SHMCHAN_WAKE_SHIM_DARWIN_H
#define SHMCHAN_WAKE_SHIM_DARWIN_H

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* OS_SYNC_WAIT_ON_ADDRESS_SHARED and OS_SYNC_WAKE_BY_ADDRESS_SHARED: key the
 * wait on the physical page, so that another process mapping it can wake it. */
#define SHIM_OS_SYNC_SHARED 0x00000001u
/* OS_CLOCK_MACH_ABSOLUTE_TIME: the clock of the relative timeout (in ns). */
#define SHIM_OS_CLOCK_MACH_ABSOLUTE_TIME 32u

typedef int (*shim_wait_fn)(void *addr, uint64_t value, size_t size, uint32_t flags,
                            uint32_t clockid, uint64_t timeout_ns);
typedef int (*shim_wake_fn)(void *addr, size_t size, uint32_t flags);

/* shim_lookup_wait returns os_sync_wait_on_address_with_timeout, or NULL. */
static void *shim_lookup_wait(void) {
	return dlsym(RTLD_DEFAULT, "os_sync_wait_on_address_with_timeout");
}

/* shim_lookup_wake returns os_sync_wake_by_address_all, or NULL. */
static void *shim_lookup_wake(void) { return dlsym(RTLD_DEFAULT, "os_sync_wake_by_address_all"); }

/*
 * shim_wait sleeps while the 32-bit word at addr holds value, for at most
 * timeout_ns. It returns -1 and sets errno on failure (ETIMEDOUT when the
 * timeout passed).
 */
static int shim_wait(void *fn, uint32_t *addr, uint32_t value, uint64_t timeout_ns) {
	return ((shim_wait_fn)fn)(addr, value, sizeof *addr, SHIM_OS_SYNC_SHARED,
	                          SHIM_OS_CLOCK_MACH_ABSOLUTE_TIME, timeout_ns);
}

/* shim_wake wakes every waiter on the word; errno ENOENT means there was none. */
static int shim_wake(void *fn, uint32_t *addr) {
	return ((shim_wake_fn)fn)(addr, sizeof *addr, SHIM_OS_SYNC_SHARED);
}

#endif /* SHMCHAN_WAKE_SHIM_DARWIN_H */
