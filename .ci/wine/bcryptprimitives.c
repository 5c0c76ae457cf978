/*
 * bcryptprimitives.c: a stand-in for Windows' bcryptprimitives.dll, for
 * running Go test binaries under Wine older than 8.13 (Debian 12 ships 8.0).
 *
 * Since Go 1.22 the Windows runtime gets its random bytes from
 * bcryptprimitives!ProcessPrng and aborts at start-up ("bcryptprimitives.dll
 * not found") when the DLL is missing. This DLL exports only that function,
 * implemented with RtlGenRandom (advapi32!SystemFunction036), which Wine has.
 * .ci/windows.sh builds it with mingw-w64 and copies it into the Wine
 * prefix's system32, the only place the runtime looks for it.
 *
 * It is test scaffolding: it is never shipped and never used on Windows.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	/* RtlGenRandom takes a ULONG length: feed it at most 1 GiB at a time. */
	while (len > 0) {
		ULONG n = len > (1u << 30) ? (1u << 30) : (ULONG)len;
		if (!RtlGenRandom(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved) {
	(void)inst;
	(void)reason;
	(void)reserved;
	return TRUE;
}
