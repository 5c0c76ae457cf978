/*
 * shim_windows.h: thin, fixed-arity wrappers over the Win32 calls behind a
 * named segment, for cgo. Win32 reports failures through GetLastError, which
 * cgo's errno return does not read, so every wrapper stores the thread's last
 * error in *err (0 on success) before returning. Go turns it into a
 * syscall.Errno, whose Is method makes errors.Is(err, fs.ErrExist) and the
 * like work.
 *
 * Handles cross the boundary as uintptr_t, the type Go keeps them in
 * (windows.Handle), so that no Go code converts an integer to a pointer.
 *
 * Everything is static: the header is included by one cgo preamble per
 * package, so nothing is defined twice.
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

/* shim_map_view maps the whole mapping; it returns NULL on failure. */
static void *shim_map_view(uintptr_t h, int writable, DWORD *err) {
	void *p;
	DWORD access = FILE_MAP_READ | (writable ? FILE_MAP_WRITE : 0);
	p = MapViewOfFile((HANDLE)h, access, 0, 0, 0);
	*err = p == NULL ? GetLastError() : 0;
	return p;
}

/*
 * shim_view_size stores in *size the size of the view that starts at addr,
 * as VirtualQuery reports it: rounded up to a whole number of pages.
 */
static int shim_view_size(void *addr, uint64_t *size, DWORD *err) {
	MEMORY_BASIC_INFORMATION mbi;
	if (VirtualQuery(addr, &mbi, sizeof mbi) == 0) {
		*err = GetLastError();
		return -1;
	}
	*size = (uint64_t)mbi.RegionSize;
	*err = 0;
	return 0;
}

static int shim_unmap_view(void *addr, DWORD *err) {
	if (!UnmapViewOfFile(addr)) {
		*err = GetLastError();
		return -1;
	}
	*err = 0;
	return 0;
}

static int shim_close_handle(uintptr_t h, DWORD *err) {
	if (!CloseHandle((HANDLE)h)) {
		*err = GetLastError();
		return -1;
	}
	*err = 0;
	return 0;
}

#endif /* SHMCHAN_SHIM_WINDOWS_H */
