/*
 * shim_windows.h: thin, fixed-arity wrappers over the Win32 calls that create
 * and open a named segment's mapping object, for cgo (internal/platform's
 * name_windows_cgo.go). Views are mapped from Go, through x/sys/windows. Win32 reports failures through GetLastError, which
 * cgo's errno return does not read, so every wrapper stores the thread's last
 * error in *err (0 on success) before returning. Go turns it into a
 * syscall.Errno, whose Is method makes errors.Is(err, fs.ErrExist) and the
 * like work.
 *
 * Handles cross the boundary as uintptr_t, the type Go keeps them in
 * (windows.Handle), so that no Go code converts an integer to a pointer.
 *
 * Everything is static: the header is included by one cgo preamble, so
 * nothing is defined twice.
 */
#ifndef SHMCHAN_SHIM_WINDOWS_H
#define SHMCHAN_SHIM_WINDOWS_H

#include <stdint.h>
#include <wchar.h>
#include <windows.h>

/*
 * shim_create_mapping creates the named mapping of size bytes backed by the
 * paging file, with the default security descriptor (the current user). If
 * the name exists it returns a valid handle to the existing object AND sets
 * *err to ERROR_ALREADY_EXISTS: the caller must check for that case.
 */
static uintptr_t shim_create_mapping(const wchar_t *name, uint64_t size, DWORD *err) {
	HANDLE h;
	SetLastError(0);
	h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, (DWORD)(size >> 32),
	                       (DWORD)size, name);
	*err = GetLastError();
	return (uintptr_t)h;
}

/* shim_open_mapping opens an existing named mapping; it returns 0 on failure. */
static uintptr_t shim_open_mapping(const wchar_t *name, int writable, DWORD *err) {
	HANDLE h;
	DWORD access = FILE_MAP_READ | (writable ? FILE_MAP_WRITE : 0);
	SetLastError(0);
	h = OpenFileMappingW(access, FALSE, name);
	*err = h == NULL ? GetLastError() : 0;
	return (uintptr_t)h;
}

#endif /* SHMCHAN_SHIM_WINDOWS_H */
