/*
 * test_shmchan.c: unit tests of the C API, in one process (threads) and
 * across processes (fork on POSIX; on Windows the binary starts itself as
 * "test_shmchan child ROLE NAME"). Run by `make check`, also under
 * -fsanitize=address,undefined, and by `make windows-check` (mingw-w64,
 * under Wine). Every test removes what it creates: nothing is left in
 * /dev/shm.
 */
#define _GNU_SOURCE 1

#include "shmchan.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int failures;
static const char *current;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, \
			        current, #cond);                                         \
			failures++;                                                      \
			return;                                                          \
		}                                                                        \
	} while (0)

#define CHECK_RC(expr, want)                                                                 \
	do {                                                                                 \
		int rc_ = (expr);                                                            \
		if (rc_ != (want)) {                                                         \
			fprintf(stderr, "%s:%d: %s: %s = %d (%s), want %d (%s)\n", __FILE__,     \
			        __LINE__, current, #expr, rc_, shmchan_strerror(rc_), (want),  \
			        shmchan_strerror(want));                                     \
			failures++;                                                          \
			return;                                                              \
		}                                                                            \
	} while (0)

#define MS (INT64_C(1000000))

/* ---- Names and cleanup ------------------------------------------------------ */

static char names[64][32];
static int nnames;

/* ---- Portability: processes, sleeping, and whether a name exists ------------------- */

#if defined(_WIN32)
static int self_pid(void) { return (int)GetCurrentProcessId(); }

static void sleep_ms(int ms) { Sleep((DWORD)ms); }

/* shm_exists: a Windows segment is the mapping Local\name, which lives as long as a handle to it. */
static int shm_exists(const char *n) {
	char obj[64];
	snprintf(obj, sizeof obj, "Local\\%s", n);
	HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, obj);
	if (h == NULL) return 0;
	CloseHandle(h);
	return 1;
}

/* A child process: this binary, started as "test_shmchan child ROLE NAME". */
typedef struct {
	HANDLE h;
	DWORD pid;
} child_t;

static int child_start(child_t *c, const char *role, const char *n) {
	char exe[MAX_PATH], cmd[MAX_PATH + 128];
	DWORD len = GetModuleFileNameA(NULL, exe, sizeof exe);
	if (len == 0 || len >= sizeof exe) return -1;
	snprintf(cmd, sizeof cmd, "\"%s\" child %s %s", exe, role, n);
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return -1;
	CloseHandle(pi.hThread);
	c->h = pi.hProcess;
	c->pid = pi.dwProcessId;
	return 0;
}

static int child_pid(const child_t *c) { return (int)c->pid; }

static void child_kill(child_t *c) { TerminateProcess(c->h, 137); }

/* child_wait returns the child's exit status, or -1 if it was killed. */
static int child_wait(child_t *c) {
	DWORD code = 1;
	WaitForSingleObject(c->h, INFINITE);
	GetExitCodeProcess(c->h, &code);
	CloseHandle(c->h);
	return code == 137 ? -1 : (int)code;
}
#else
static int self_pid(void) { return (int)getpid(); }

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int shm_exists(const char *n) {
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/%s", n);
	struct stat st;
	return stat(path, &st) == 0;
}

typedef struct {
	pid_t pid;
} child_t;

static int child_role(const char *role, const char *n);

/* child_start forks a child that runs role on n and exits with its result. */
static int child_start(child_t *c, const char *role, const char *n) {
	fflush(stdout);
	c->pid = fork();
	if (c->pid < 0) return -1;
	if (c->pid == 0) _exit(child_role(role, n));
	return 0;
}

static int child_pid(const child_t *c) { return (int)c->pid; }

static void child_kill(child_t *c) { kill(c->pid, SIGKILL); }

/* child_wait returns the child's exit status, or -1 if a signal killed it. */
static int child_wait(child_t *c) {
	int status;
	if (waitpid(c->pid, &status, 0) != c->pid) return -2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#endif

/* name returns a fresh segment name and remembers it for cleanup. */
static const char *name(void) {
	char *n = names[nnames++ % 64];
	snprintf(n, 32, "shmchan-ct-%d-%d", self_pid(), nnames);
	return n;
}

static void cleanup(void) {
	for (int i = 0; i < nnames && i < 64; i++) shmchan_segment_remove(names[i]);
	nnames = 0;
}

/*
 * removed removes n after its handles were closed: OK if it is gone. On
 * Windows the name dies with its last handle, so a remove after the last
 * close finds nothing (NOT_EXIST), which is the outcome the test wants.
 */
static int removed(const char *n) {
	int rc = shmchan_segment_remove(n);
#if defined(_WIN32)
	if (rc == SHMCHAN_ERR_NOT_EXIST) rc = SHMCHAN_OK;
#endif
	return rc == SHMCHAN_OK && shm_exists(n) ? SHMCHAN_ERR_EXIST : rc;
}

/* raw returns the channel's header bytes, for the corruption tests. */
static uint8_t *raw(shmchan_channel *ch) { return (uint8_t *)shmchan_segment_data(shmchan_channel_segment(ch)); }

static void put32(uint8_t *b, uint32_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, uint32_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static uint64_t get64(const uint8_t *b, uint32_t off) {
	uint64_t v;
	memcpy(&v, b + off, 8);
	return v;
}

/* ---- Messages with a sequence number and a checksum ---------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n) {
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(1099511628211);
	return h;
}

static uint64_t rng_next(uint64_t *s) {
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* make_msg fills buf with: u64 seq, u64 checksum of the rest, then n-16 pseudo-random bytes. */
static size_t make_msg(uint8_t *buf, uint64_t seq, uint64_t *rng, size_t maxlen) {
	size_t n = 16 + (size_t)(rng_next(rng) % (maxlen - 16 + 1));
	memcpy(buf, &seq, 8);
	for (size_t i = 16; i < n; i++) buf[i] = (uint8_t)rng_next(rng);
	uint64_t sum = fnv1a(buf + 16, n - 16);
	memcpy(buf + 8, &sum, 8);
	return n;
}

static int check_msg(const uint8_t *buf, size_t n, uint64_t want_seq) {
	uint64_t seq, sum;
	if (n < 16) return 0;
	memcpy(&seq, buf, 8);
	memcpy(&sum, buf + 8, 8);
	return seq == want_seq && sum == fnv1a(buf + 16, n - 16);
}

/* ---- Tests ----------------------------------------------------------------------- */

static void test_strerror(void) {
	for (int e = 0; e >= SHMCHAN_ERR_SYSTEM; e--) CHECK(strcmp(shmchan_strerror(e), "shmchan: unknown error") != 0);
	CHECK(strcmp(shmchan_strerror(1), "shmchan: unknown error") == 0);
	shmchan_options o;
	shmchan_options_init(&o);
	CHECK(o.mode == 0600 && o.open_timeout_ns == SHMCHAN_DEFAULT_OPEN_TIMEOUT_NS && o.wait == SHMCHAN_WAIT_ADAPTIVE);
}

static void test_segment(void) {
	const char *n = name();
	shmchan_segment *s, *s2;
	shmchan_options o;
	shmchan_options_init(&o);
	o.mode = 0640;
	CHECK_RC(shmchan_segment_create(n, 10000, &o, &s), SHMCHAN_OK);
	CHECK(shmchan_segment_size(s) == 10000 && strcmp(shmchan_segment_name(s), n) == 0);
#if defined(_WIN32)
	const uint64_t opened_size = 12288; /* an opener learns the size from VirtualQuery: whole pages */
#else
	const uint64_t opened_size = 10000;
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/%s", n);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
#endif
	memcpy(shmchan_segment_data(s), "hello", 5);
	CHECK_RC(shmchan_segment_create(n, 10000, NULL, &s2), SHMCHAN_ERR_EXIST);
	CHECK(errno == EEXIST && s2 == NULL);
	CHECK_RC(shmchan_segment_open(n, NULL, &s2), SHMCHAN_OK);
	CHECK(shmchan_segment_size(s2) == opened_size && memcmp(shmchan_segment_data(s2), "hello", 5) == 0);
	CHECK_RC(shmchan_segment_close(s2), SHMCHAN_OK);
	int created = -1;
	CHECK_RC(shmchan_segment_open_or_create(n, 20000, NULL, &s2, &created), SHMCHAN_OK);
	CHECK(created == 0 && shmchan_segment_size(s2) == opened_size);
	CHECK_RC(shmchan_segment_close(s2), SHMCHAN_OK);
	/* Remove while mapped: the mapping stays usable (on Windows, remove closes this process's handles). */
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
	CHECK(!shm_exists(n) && memcmp(shmchan_segment_data(s), "hello", 5) == 0);
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_ERR_NOT_EXIST);
	CHECK_RC(shmchan_segment_open(n, NULL, &s2), SHMCHAN_ERR_NOT_EXIST);
	o.remove_on_close = 1;
	CHECK_RC(shmchan_segment_open_or_create(n, 4096, &o, &s2, &created), SHMCHAN_OK);
	CHECK(created == 1 && shm_exists(n));
	CHECK_RC(shmchan_segment_close(s2), SHMCHAN_OK);
	CHECK(!shm_exists(n));
	CHECK_RC(shmchan_segment_close(NULL), SHMCHAN_OK);

	static const char *bad[] = {"", ".x", "-x", "a/b", "a b", "0123456789012345678901234567890", NULL};
	for (int i = 0; i < 7; i++) CHECK_RC(shmchan_segment_create(bad[i], 1, NULL, &s), SHMCHAN_ERR_INVALID_NAME);
	CHECK_RC(shmchan_segment_create("ok_name-1.x", 0, NULL, &s), SHMCHAN_ERR_INVALID_SIZE);
	CHECK_RC(shmchan_segment_create("ok_name-1.x", (UINT64_C(1) << 40) + 1, NULL, &s), SHMCHAN_ERR_INVALID_SIZE);
}

static void test_channel_create_open(void) {
	const char *n = name();
	shmchan_channel *ch, *ch2;
	static const uint64_t badcap[] = {0, 512, 1000, 1025, (UINT64_C(1) << 41)};
	for (int i = 0; i < 5; i++) CHECK_RC(shmchan_channel_create(n, badcap[i], NULL, &ch), SHMCHAN_ERR_INVALID_SIZE);
	CHECK(!shm_exists(n));
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	CHECK(shmchan_channel_capacity(ch) == 1024 && shmchan_channel_max_message(ch) == 504);
	CHECK(shmchan_segment_size(shmchan_channel_segment(ch)) == 4096 + 1024);
	uint8_t *b = raw(ch);
	uint32_t magic, version, hs;
	memcpy(&magic, b, 4);
	memcpy(&version, b + 4, 4);
	memcpy(&hs, b + 8, 4);
	CHECK(memcmp(b, "SHMC", 4) == 0 && magic == SHMCHAN_MAGIC && version == SHMCHAN_LAYOUT_VERSION && hs == 4096);
	CHECK(get64(b, SHMCHAN_OFF_CAPACITY) == 1024 && get64(b, SHMCHAN_OFF_DATA_OFFSET) == 4096);
	CHECK(get64(b, SHMCHAN_OFF_MAX_MESSAGE) == 504 && get64(b, SHMCHAN_OFF_CREATOR) == shmchan_self_token());
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch2), SHMCHAN_ERR_EXIST);
	CHECK_RC(shmchan_channel_open(n, NULL, &ch2), SHMCHAN_OK);
	CHECK(shmchan_channel_capacity(ch2) == 1024);
	CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK);
	int created = -1;
	CHECK_RC(shmchan_channel_open_or_create(n, 1024, NULL, &ch2, &created), SHMCHAN_OK);
	CHECK(created == 0);
	CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_open_or_create(n, 2048, NULL, &ch2, &created), SHMCHAN_ERR_INCOMPATIBLE);
	CHECK(shm_exists(n)); /* an incompatible open leaves the existing channel alone */

	shmchan_options o;
	shmchan_options_init(&o);
	o.open_timeout_ns = 20 * MS;
	/* Compatible flags are ignored, incompatible ones refused. */
	put32(b, SHMCHAN_OFF_FLAGS, 0x10000);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK);
	put32(b, SHMCHAN_OFF_FLAGS, 1);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_VERSION_MISMATCH);
	put32(b, SHMCHAN_OFF_FLAGS, 0);
	put32(b, SHMCHAN_OFF_VERSION, 1); /* a version-1 peer judges roles by token: refused */
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_VERSION_MISMATCH);
	put32(b, SHMCHAN_OFF_VERSION, 3);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_VERSION_MISMATCH);
	put32(b, SHMCHAN_OFF_VERSION, 0);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_READY);
	put32(b, SHMCHAN_OFF_VERSION, SHMCHAN_LAYOUT_VERSION);
	put32(b, SHMCHAN_OFF_HEADER_SIZE, 8192);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_VERSION_MISMATCH);
	put32(b, SHMCHAN_OFF_HEADER_SIZE, 4096);
	put64(b, SHMCHAN_OFF_CAPACITY, 2048); /* larger than the segment */
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_OFF_CAPACITY, 1000);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_OFF_CAPACITY, 1024);
	put64(b, SHMCHAN_OFF_MAX_MESSAGE, 1024);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_OFF_MAX_MESSAGE, 504);
	put32(b, SHMCHAN_OFF_MAGIC, 0x12345678);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_CHANNEL);
	put32(b, SHMCHAN_OFF_MAGIC, SHMCHAN_MAGIC);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	/* Plain segments are not channels: too small, or never initialised. */
	shmchan_segment *s;
	CHECK_RC(shmchan_segment_create(n, 100, NULL, &s), SHMCHAN_OK);
#if defined(_WIN32)
	/* An opener sees whole pages (4096 bytes here), all zero: a creator may still be at work. */
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_READY);
#else
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_CHANNEL);
#endif
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_create(n, 8192, NULL, &s), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_READY); /* all zero: maybe a creator still at work */
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	o.read_only = 1;
	CHECK_RC(shmchan_channel_create(n, 1024, &o, &ch), SHMCHAN_ERR_READ_ONLY);
	o.read_only = 0;
	o.wait = 7;
	CHECK_RC(shmchan_channel_create(n, 1024, &o, &ch), SHMCHAN_ERR_INVALID);
	o.wait = SHMCHAN_WAIT_BLOCK;
	o.remove_on_close = 1;
	CHECK_RC(shmchan_channel_create(n, 1 << 20, &o, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK(!shm_exists(n));
}

static void test_roles(void) {
	const char *n = name();
	shmchan_channel *ch, *ch2;
	shmchan_sender *tx, *tx2;
	shmchan_receiver *rx, *rx2;
	CHECK_RC(shmchan_channel_create(n, 4096, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_open(n, NULL, &ch2), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx2), SHMCHAN_ERR_BUSY);
	CHECK_RC(shmchan_channel_sender(ch2, &tx2), SHMCHAN_ERR_BUSY);
	CHECK(get64(raw(ch), SHMCHAN_OFF_TX_OWNER) == shmchan_self_token());
	CHECK_RC(shmchan_channel_receiver(ch2, &rx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx2), SHMCHAN_ERR_BUSY);

	/* A dead owner's role passes on. With role locks this is test_role_locks: the token decides nothing. */
	if (shmchan_role_locks()) {
		CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK);
		CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
		return;
	}
	child_t c;
	CHECK(child_start(&c, "claim-busy", n) == 0);
	int pid = child_pid(&c);
	CHECK(child_wait(&c) == 0);
	uint64_t self = shmchan_self_token();
	put64(raw(ch), SHMCHAN_OFF_TX_OWNER, (uint64_t)(uint32_t)pid | (self & ~UINT64_C(0xFFFFFFFF)));
	CHECK(!shmchan_token_alive(get64(raw(ch), SHMCHAN_OFF_TX_OWNER)));
	CHECK(shmchan_token_alive(self));
	CHECK(!shmchan_token_alive(self ^ (UINT64_C(1) << 40))); /* same pid, other start: reused pid */
	CHECK(!shmchan_token_alive(0));
	CHECK_RC(shmchan_channel_sender(ch2, &tx2), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx2, "x", 1, 0), SHMCHAN_OK);
	/* The old handle in this process still thinks it is open; the test hands the role back by closing tx2. */
	CHECK_RC(shmchan_sender_close(tx2), SHMCHAN_OK);
	CHECK_RC(shmchan_sender_close(tx2), SHMCHAN_OK);                 /* idempotent */
	CHECK_RC(shmchan_send(tx2, "x", 1, 0), SHMCHAN_ERR_CLOSED);        /* use after close */
	CHECK_RC(shmchan_channel_sender(ch2, &tx2), SHMCHAN_ERR_CLOSED);  /* a closed end stays closed */
	CHECK(get64(raw(ch), SHMCHAN_OFF_TX_OWNER) == 0);
	CHECK_RC(shmchan_channel_close(ch2), SHMCHAN_OK); /* closes rx too */
	CHECK_RC(shmchan_channel_receiver(ch, &rx2), SHMCHAN_ERR_CLOSED);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

static void test_send_recv(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	uint8_t in[600], out[600];
	size_t len;
	for (int i = 0; i < 600; i++) in[i] = (uint8_t)i;
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_EMPTY);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 5 * MS), SHMCHAN_ERR_TIMEOUT);
	CHECK_RC(shmchan_send(tx, in, 505, 0), SHMCHAN_ERR_TOO_LARGE);
	CHECK_RC(shmchan_send(tx, NULL, 0, 0), SHMCHAN_OK); /* empty messages are messages */
	CHECK_RC(shmchan_try_recv(rx, NULL, 0, &len), SHMCHAN_OK);
	CHECK(len == 0);
	/* Every size through many wrap-arounds: padding records at every position. */
	for (int round = 0; round < 3; round++) {
		for (size_t sz = 0; sz <= 504; sz++) {
			CHECK_RC(shmchan_send(tx, in + (sz % 7), sz, 0), SHMCHAN_OK);
			CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_OK);
			CHECK(len == sz && memcmp(out, in + (sz % 7), sz) == 0);
		}
	}
	/* Full: 1024 bytes (less the 8-byte terminator) hold at most 3 records of 8+296. */
	int sent = 0;
	while (shmchan_try_send(tx, in, 296) == SHMCHAN_OK) sent++;
	CHECK(sent >= 2 && sent <= 3);
	CHECK_RC(shmchan_try_send(tx, in, 296), SHMCHAN_ERR_FULL);
	CHECK_RC(shmchan_send(tx, in, 296, 5 * MS), SHMCHAN_ERR_TIMEOUT);
	/* Short buffer: the message stays. */
	CHECK_RC(shmchan_try_recv(rx, out, 10, &len), SHMCHAN_ERR_SHORT_BUFFER);
	CHECK(len == 296);
	for (int i = 0; i < sent; i++) {
		CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 0), SHMCHAN_OK);
		CHECK(len == 296 && memcmp(out, in, 296) == 0);
	}
	/* Reserve and commit, committing less than reserved. */
	void *buf;
	CHECK_RC(shmchan_commit(tx, 0), SHMCHAN_ERR_INVALID);
	CHECK_RC(shmchan_reserve(tx, 50, &buf, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_try_reserve(tx, 100, &buf), SHMCHAN_OK); /* abandons the first reservation */
	memcpy(buf, "reserved", 8);
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_EMPTY); /* not published yet */
	CHECK_RC(shmchan_commit(tx, 101), SHMCHAN_ERR_TOO_LARGE);
	CHECK_RC(shmchan_commit(tx, 8), SHMCHAN_OK);
	/* Peek and release. */
	const void *msg;
	CHECK_RC(shmchan_release(rx), SHMCHAN_ERR_INVALID);
	CHECK_RC(shmchan_try_peek(rx, &msg, &len), SHMCHAN_OK);
	CHECK(len == 8 && memcmp(msg, "reserved", 8) == 0);
	CHECK_RC(shmchan_peek(rx, &msg, &len, 0), SHMCHAN_OK); /* peeking again sees the same message */
	CHECK(len == 8 && memcmp(msg, "reserved", 8) == 0);
	CHECK_RC(shmchan_release(rx), SHMCHAN_OK);
	CHECK_RC(shmchan_release(rx), SHMCHAN_ERR_INVALID);
	CHECK_RC(shmchan_try_peek(rx, &msg, &len), SHMCHAN_ERR_EMPTY);
	/* Reserve across the end of the ring (padding), commit, and read back. */
	for (int i = 0; i < 20; i++) {
		size_t sz = 50 + (size_t)i * 20;
		CHECK_RC(shmchan_try_reserve(tx, sz, &buf), SHMCHAN_OK);
		memcpy(buf, in, sz);
		CHECK_RC(shmchan_commit(tx, sz), SHMCHAN_OK);
		CHECK_RC(shmchan_peek(rx, &msg, &len, 0), SHMCHAN_OK);
		CHECK(len == sz && memcmp(msg, in, sz) == 0);
		CHECK_RC(shmchan_release(rx), SHMCHAN_OK);
	}
	/* Close: the receiver drains, then EOF. */
	CHECK_RC(shmchan_send(tx, "a", 1, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx, "bc", 2, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_sender_close(tx), SHMCHAN_OK);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_OK);
	CHECK(len == 1 && out[0] == 'a');
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_OK);
	CHECK(len == 2 && memcmp(out, "bc", 2) == 0);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_EOF);
	CHECK_RC(shmchan_try_peek(rx, &msg, &len), SHMCHAN_EOF);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

static void test_receiver_close(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx, "a", 1, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_receiver_close(rx), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx, "a", 1, 0), SHMCHAN_ERR_CLOSED);
	CHECK_RC(shmchan_try_send(tx, "a", 1), SHMCHAN_ERR_CLOSED);
	void *buf;
	CHECK_RC(shmchan_reserve(tx, 1, &buf, SHMCHAN_FOREVER), SHMCHAN_ERR_CLOSED);
	size_t len;
	uint8_t out[8];
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_CLOSED);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* test_corrupt writes bad headers and indices and expects CORRUPT, never a crash. */
static void test_corrupt(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	uint8_t out[1024];
	size_t len;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	uint8_t *b = raw(ch), *data = b + SHMCHAN_OFF_DATA;
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	static const uint64_t bad[] = {
	    UINT64_C(3) << 32 | 8,    /* unknown kind */
	    UINT64_C(1) << 32 | 505,  /* len > max_message */
	    UINT64_C(2) << 32 | 1016, /* padding at 0 */
	    UINT64_C(2) << 32 | 8,    /* padding that does not end at the end of the region */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put64(data, 0, bad[i]);
		CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_CORRUPT);
	}
	/* A message that crosses the end of the region. */
	put64(data, 0, UINT64_C(1) << 32 | 8);
	put64(data, 16, UINT64_C(1) << 32 | 500);
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_OK);
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_OK);
	put64(data, 528, UINT64_C(1) << 32 | 500); /* at 528, 496 bytes to the end */
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	/* A sender refuses a head past its position. */
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	b = raw(ch);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	put64(b, SHMCHAN_OFF_HEAD, 4096);
	for (int i = 0; i < 10; i++) {
		int rc = shmchan_try_send(tx, out, 200);
		if (rc == SHMCHAN_ERR_CORRUPT) break;
		CHECK_RC(rc, SHMCHAN_OK);
	}
	CHECK_RC(shmchan_try_send(tx, out, 200), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	/* Claims refuse a misaligned head, and a sender a record chain past one capacity. */
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	b = raw(ch);
	data = b + SHMCHAN_OFF_DATA;
	put64(b, SHMCHAN_OFF_HEAD, 4);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_OFF_HEAD, 0);
	put64(data, 0, UINT64_C(1) << 32 | 504);
	put64(data, 512, UINT64_C(1) << 32 | 504);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_ERR_CORRUPT);
	CHECK(get64(b, SHMCHAN_OFF_TX_OWNER) == 0 && get64(b, SHMCHAN_OFF_RX_OWNER) == 0);
	/* A sender takes up the stream after the records already published. */
	put64(data, 512, 0);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_try_send(tx, "next", 4), SHMCHAN_OK);
	CHECK(get64(data, 512) == (UINT64_C(1) << 32 | 4));
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/*
 * test_fuzz writes random headers and indices into a channel and checks that
 * the receiver and a claiming sender only ever answer OK, EMPTY, EOF or
 * CORRUPT, and that a message they hand out lies inside the ring. Under
 * AddressSanitizer an access outside the mapping would abort.
 */
static void test_fuzz(void) {
	const char *n = name();
	shmchan_channel *ch;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	uint8_t *b = raw(ch), *data = b + SHMCHAN_OFF_DATA;
	uint64_t rng = 0x243F6A8885A308D3u;
	uint8_t out[1024];
	for (int iter = 0; iter < 20000; iter++) {
		/* A few random header words, biased towards plausible kinds and lengths. */
		int words = 1 + (int)(rng_next(&rng) % 8);
		for (int i = 0; i < words; i++) {
			uint64_t at = (rng_next(&rng) % 128) * 8, r = rng_next(&rng);
			uint64_t kind = r % 4, len = (r >> 8) % 4 == 0 ? (r >> 16) : (r >> 16) % 1100;
			put64(data, (uint32_t)at, (kind << 32) | (len & 0xFFFFFFFFu));
		}
		uint64_t head = rng_next(&rng) % 4 == 0 ? rng_next(&rng) : (rng_next(&rng) % 4096) * 8;
		put64(b, SHMCHAN_OFF_HEAD, head);
		put32(b, SHMCHAN_OFF_TX_CLOSED, (uint32_t)(rng_next(&rng) % 2));

		shmchan_receiver *rx;
		int rc = shmchan_channel_receiver(ch, &rx);
		CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_ERR_CORRUPT);
		if (rc == SHMCHAN_OK) {
			for (int i = 0; i < 8; i++) {
				const void *msg;
				size_t len;
				rc = i % 2 ? shmchan_try_peek(rx, &msg, &len) : shmchan_try_recv(rx, out, sizeof out, &len);
				CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_ERR_EMPTY || rc == SHMCHAN_EOF || rc == SHMCHAN_ERR_CORRUPT);
				if (rc == SHMCHAN_OK && i % 2) {
					CHECK((const uint8_t *)msg >= data && (const uint8_t *)msg + len <= data + 1024 && len <= 504);
					CHECK_RC(shmchan_release(rx), SHMCHAN_OK);
				}
				if (rc != SHMCHAN_OK) break;
			}
			CHECK_RC(shmchan_receiver_close(rx), SHMCHAN_OK);
			put32(b, SHMCHAN_OFF_RX_CLOSED, 0);
		}
		shmchan_sender *tx;
		rc = shmchan_channel_sender(ch, &tx);
		CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_ERR_CORRUPT || rc == SHMCHAN_ERR_CLOSED);
		if (rc == SHMCHAN_OK) {
			rc = shmchan_try_send(tx, out, (size_t)(rng_next(&rng) % 600));
			CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_ERR_FULL || rc == SHMCHAN_ERR_CORRUPT || rc == SHMCHAN_ERR_TOO_LARGE);
			CHECK_RC(shmchan_sender_close(tx), SHMCHAN_OK);
		}
		/* Reopen both ends for the next round. */
		put32(b, SHMCHAN_OFF_RX_CLOSED, 0);
		put32(b, SHMCHAN_OFF_TX_CLOSED, 0);
	}
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* ---- Streams: threads and processes ------------------------------------------------ */

/* wait_modes are the wait strategies that a test runs under, one after the other. */
static const int wait_modes[] = {SHMCHAN_WAIT_ADAPTIVE, SHMCHAN_WAIT_SPIN, SHMCHAN_WAIT_BLOCK};
#define N_WAIT_MODES ((int)(sizeof wait_modes / sizeof wait_modes[0]))

/* create_receiver creates channel n of the given capacity with the wait strategy mode and claims its
 * receiver; if the claim fails, it closes the channel again. */
static int create_receiver(const char *n, uint64_t capacity, int mode, shmchan_channel **ch, shmchan_receiver **rx) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = mode;
	int rc = shmchan_channel_create(n, capacity, &o, ch);
	if (rc != SHMCHAN_OK) return rc;
	rc = shmchan_channel_receiver(*ch, rx);
	if (rc != SHMCHAN_OK) shmchan_channel_close(*ch);
	return rc;
}

/* open_sender opens channel n with the wait strategy mode and claims its sender; if the claim fails, it
 * closes the channel again. */
static int open_sender(const char *n, int mode, shmchan_channel **ch, shmchan_sender **tx) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = mode;
	int rc = shmchan_channel_open(n, &o, ch);
	if (rc != SHMCHAN_OK) return rc;
	rc = shmchan_channel_sender(*ch, tx);
	if (rc != SHMCHAN_OK) shmchan_channel_close(*ch);
	return rc;
}

struct stream {
	const char *name;
	int wait;
	uint64_t count;
	size_t maxlen;
	int rc; /* result of the producer */
};

static int produce(const struct stream *s) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	int rc = open_sender(s->name, s->wait, &ch, &tx);
	if (rc != SHMCHAN_OK) return rc;
	uint8_t *buf = (uint8_t *)malloc(s->maxlen);
	uint64_t rng = 0x9E3779B97F4A7C15u;
	for (uint64_t i = 0; rc == SHMCHAN_OK && i < s->count; i++) {
		size_t len = make_msg(buf, i, &rng, s->maxlen);
		if (i % 3 == 0) {
			void *p;
			rc = shmchan_reserve(tx, len, &p, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK) {
				memcpy(p, buf, len);
				rc = shmchan_commit(tx, len);
			}
		} else {
			rc = shmchan_send(tx, buf, len, SHMCHAN_FOREVER);
		}
	}
	free(buf);
	int crc = shmchan_channel_close(ch); /* closes tx: the consumer sees EOF */
	return rc != SHMCHAN_OK ? rc : crc;
}

static void *produce_thread(void *arg) {
	struct stream *s = (struct stream *)arg;
	s->rc = produce(s);
	return NULL;
}

/* consume receives until EOF, checking sequence and checksum; returns the count or -1. */
static int64_t consume(shmchan_receiver *rx, size_t maxlen, int *rc_out) {
	uint8_t *buf = (uint8_t *)malloc(maxlen);
	uint64_t want = 0;
	int rc;
	for (;;) {
		size_t len;
		if (want % 2 == 0) {
			rc = shmchan_recv(rx, buf, maxlen, &len, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK && !check_msg(buf, len, want)) break;
		} else {
			const void *m;
			rc = shmchan_peek(rx, &m, &len, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK && !check_msg((const uint8_t *)m, len, want)) break;
			if (rc == SHMCHAN_OK) rc = shmchan_release(rx);
		}
		if (rc != SHMCHAN_OK) break;
		want++;
	}
	free(buf);
	*rc_out = rc;
	return rc == SHMCHAN_EOF ? (int64_t)want : -1;
}

static void test_threads(void) {
	for (int m = 0; m < N_WAIT_MODES; m++) {
		const char *n = name();
		shmchan_channel *ch;
		shmchan_receiver *rx;
		CHECK_RC(create_receiver(n, 1 << 16, wait_modes[m], &ch, &rx), SHMCHAN_OK);
		struct stream s = {n, wait_modes[m], wait_modes[m] == SHMCHAN_WAIT_SPIN ? 3000 : 30000, 1000, 0};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, produce_thread, &s) == 0);
		int rc;
		int64_t got = consume(rx, s.maxlen, &rc);
		pthread_join(t, NULL);
		CHECK_RC(s.rc, SHMCHAN_OK);
		CHECK_RC(rc, SHMCHAN_EOF);
		CHECK(got == (int64_t)s.count);
		CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
		if (getenv("SHMCHAN_TEST_VERBOSE")) printf("     threads wait=%d done\n", wait_modes[m]);
	}
}

/* The producer process's stream (test_processes), and the mailbox writer process's (test_mailbox_processes). */
#define PRODUCE_COUNT 50000
#define PRODUCE_MAXLEN 3000
#define MB_PROCESS_COUNT 100000

static void test_processes(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_receiver *rx;
	CHECK_RC(create_receiver(n, 1 << 16, SHMCHAN_WAIT_BLOCK, &ch, &rx), SHMCHAN_OK);
	struct stream s = {n, SHMCHAN_WAIT_BLOCK, PRODUCE_COUNT, PRODUCE_MAXLEN, 0};
	child_t c;
	CHECK(child_start(&c, "produce", n) == 0);
	int rc;
	int64_t got = consume(rx, s.maxlen, &rc);
	CHECK(child_wait(&c) == 0);
	CHECK_RC(rc, SHMCHAN_EOF);
	CHECK(got == (int64_t)s.count);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* test_peer_gone kills the peer process, mid-wait, on each side. */
static void test_peer_gone(void) {
	for (int m = 0; m < N_WAIT_MODES; m++) {
		for (int side = 0; side < 2; side++) { /* 0: the child sends, 1: the child receives */
			const char *n = name();
			shmchan_options o;
			shmchan_options_init(&o);
			o.wait = wait_modes[m];
			shmchan_channel *ch;
			CHECK_RC(shmchan_channel_create(n, 1024, &o, &ch), SHMCHAN_OK);
			child_t c;
			CHECK(child_start(&c, side == 0 ? "hold-send" : "hold-recv", n) == 0);
			/* Ready: the sender has published "last" (its record header), or the receiver holds its role. */
			for (int i = 0; i < 10000 && (side == 0 ? get64(raw(ch), SHMCHAN_OFF_DATA) == 0
			                                         : get64(raw(ch), SHMCHAN_OFF_RX_OWNER) == 0); i++)
				sleep_ms(1);
			child_kill(&c);
			CHECK(child_wait(&c) == -1);
			int64_t start = (int64_t)time(NULL);
			if (side == 0) {
				shmchan_receiver *rx;
				uint8_t out[16];
				size_t len;
				CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
				/* What the dead sender published is still delivered. */
				CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_OK);
				CHECK(len == 4 && memcmp(out, "last", 4) == 0);
				CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_ERR_PEER_GONE);
			} else {
				shmchan_sender *tx;
				CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
				int rc;
				while ((rc = shmchan_send(tx, "0123456789", 10, SHMCHAN_FOREVER)) == SHMCHAN_OK) {
				}
				CHECK_RC(rc, SHMCHAN_ERR_PEER_GONE);
			}
			CHECK((int64_t)time(NULL) - start < 5);
			CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
			CHECK_RC(removed(n), SHMCHAN_OK);
		}
	}
}

/* test_wake_on_close checks that a parked receiver wakes at once when the sender closes. */
static void *close_later(void *arg) {
	sleep_ms(20);
	shmchan_sender_close((shmchan_sender *)arg);
	return NULL;
}

static void test_wake_on_close(void) {
	const char *n = name();
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1024, &o, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, close_later, tx) == 0);
	uint8_t out[8];
	size_t len;
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 10 * 1000 * MS), SHMCHAN_EOF);
	pthread_join(t, NULL);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* ---- Mailboxes ---------------------------------------------------------------------- */

/* mb_len is the length of the value of version v: 16 bytes up to max. */
static size_t mb_len(uint64_t v, uint64_t max) { return 16 + (size_t)(v * 7919 % (max - 15)); }

/* mb_stamp fills a value for version v: u64 v, u64 FNV-1a of the rest, then bytes derived from v. */
static size_t mb_stamp(uint8_t *buf, uint64_t v, uint64_t max) {
	size_t n = mb_len(v, max);
	uint64_t s = v * UINT64_C(0x9E3779B97F4A7C15) | 1;
	memcpy(buf, &v, 8);
	for (size_t i = 16; i < n; i++) buf[i] = (uint8_t)rng_next(&s);
	uint64_t sum = fnv1a(buf + 16, n - 16);
	memcpy(buf + 8, &sum, 8);
	return n;
}

/* mb_valid checks a value made by mb_stamp for version v. */
static int mb_valid(const uint8_t *buf, size_t n, uint64_t v, uint64_t max) {
	uint8_t want[512];
	if (max > sizeof want || n != mb_len(v, max)) return 0;
	mb_stamp(want, v, max);
	return memcmp(buf, want, n) == 0;
}

static uint8_t *mb_raw(shmchan_mailbox *mb) { return (uint8_t *)shmchan_segment_data(shmchan_mailbox_segment(mb)); }

static void test_mailbox_create_open(void) {
	const char *n = name();
	CHECK(shmchan_mailbox_size(100) == 4096 + 3 * 256);
	CHECK(shmchan_mailbox_size(128) == 4096 + 3 * 256 && shmchan_mailbox_size(129) == 4096 + 3 * 384);
	CHECK(shmchan_mailbox_size(0) == 0 && shmchan_mailbox_size(UINT64_C(1) << 40) == 0);
	shmchan_mailbox *mb, *mb2;
	CHECK_RC(shmchan_mailbox_create(n, 0, NULL, &mb), SHMCHAN_ERR_INVALID_SIZE);
	CHECK_RC(shmchan_mailbox_create("-bad", 100, NULL, &mb), SHMCHAN_ERR_INVALID_NAME);
	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, NULL), SHMCHAN_ERR_INVALID);
	shmchan_options ro;
	shmchan_options_init(&ro);
	ro.read_only = 1;
	CHECK_RC(shmchan_mailbox_create(n, 100, &ro, &mb), SHMCHAN_ERR_READ_ONLY);
	CHECK(mb == NULL && !shm_exists(n));
	CHECK_RC(shmchan_mailbox_open(n, NULL, &mb), SHMCHAN_ERR_NOT_EXIST);

	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, &mb), SHMCHAN_OK);
	CHECK(shmchan_mailbox_max_value(mb) == 100);
	CHECK(shmchan_segment_size(shmchan_mailbox_segment(mb)) == 4096 + 3 * 256);
	const uint8_t *b = mb_raw(mb);
	uint32_t magic, version, hs, count;
	memcpy(&magic, b + SHMCHAN_MB_OFF_MAGIC, 4);
	memcpy(&version, b + SHMCHAN_MB_OFF_VERSION, 4);
	memcpy(&hs, b + SHMCHAN_MB_OFF_HEADER_SIZE, 4);
	memcpy(&count, b + SHMCHAN_MB_OFF_SLOT_COUNT, 4);
	CHECK(memcmp(b, "SHMB", 4) == 0 && magic == SHMCHAN_MAILBOX_MAGIC && version == SHMCHAN_MAILBOX_VERSION && hs == 4096 && count == 3);
	CHECK(get64(b, SHMCHAN_MB_OFF_MAX_VALUE) == 100 && get64(b, SHMCHAN_MB_OFF_SLOT_SIZE) == 256);
	CHECK(get64(b, SHMCHAN_MB_OFF_SLOTS_OFFSET) == 4096 && get64(b, SHMCHAN_MB_OFF_CREATOR) == shmchan_self_token());
	CHECK(get64(b, SHMCHAN_MB_OFF_LATEST) == 0 && get64(b, SHMCHAN_MB_OFF_OWNER) == 0);

	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, &mb2), SHMCHAN_ERR_EXIST);
	CHECK_RC(shmchan_mailbox_open(n, NULL, &mb2), SHMCHAN_OK);
	CHECK(shmchan_mailbox_max_value(mb2) == 100);
	CHECK_RC(shmchan_mailbox_close(mb2), SHMCHAN_OK);
	int created = -1;
	CHECK_RC(shmchan_mailbox_open_or_create(n, 100, NULL, &mb2, &created), SHMCHAN_OK);
	CHECK(created == 0);
	CHECK_RC(shmchan_mailbox_close(mb2), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open_or_create(n, 200, NULL, &mb2, &created), SHMCHAN_ERR_INCOMPATIBLE);
	CHECK(mb2 == NULL && created == 0 && shm_exists(n));
	/* A channel is not a mailbox, and a mailbox is not a channel. */
	shmchan_channel *ch;
	CHECK_RC(shmchan_channel_open(n, NULL, &ch), SHMCHAN_ERR_NOT_CHANNEL);
	const char *cn = name();
	CHECK_RC(shmchan_channel_create(cn, 1024, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open(cn, NULL, &mb2), SHMCHAN_ERR_NOT_CHANNEL);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(cn), SHMCHAN_OK);

	/* The opener's checks, each on a copy of the header that breaks one rule. */
	static const struct {
		uint32_t off, size;
		uint64_t val;
		int want;
	} cases[] = {
	    {SHMCHAN_MB_OFF_VERSION, 4, 1, SHMCHAN_ERR_VERSION_MISMATCH}, /* version 1: refused */
	    {SHMCHAN_MB_OFF_VERSION, 4, 3, SHMCHAN_ERR_VERSION_MISMATCH},
	    {SHMCHAN_MB_OFF_FLAGS, 4, 1, SHMCHAN_ERR_VERSION_MISMATCH},
	    {SHMCHAN_MB_OFF_FLAGS, 4, 1u << 16, SHMCHAN_OK}, /* a compatible flag is ignored */
	    {SHMCHAN_MB_OFF_HEADER_SIZE, 4, 8192, SHMCHAN_ERR_VERSION_MISMATCH},
	    {SHMCHAN_MB_OFF_SLOTS_OFFSET, 8, 8192, SHMCHAN_ERR_VERSION_MISMATCH},
	    {SHMCHAN_MB_OFF_MAX_VALUE, 8, 0, SHMCHAN_ERR_CORRUPT},
	    {SHMCHAN_MB_OFF_MAX_VALUE, 8, 1000, SHMCHAN_ERR_CORRUPT}, /* slot_size no longer matches */
	    {SHMCHAN_MB_OFF_SLOT_SIZE, 8, 384, SHMCHAN_ERR_CORRUPT},
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 1, SHMCHAN_ERR_CORRUPT},
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 17, SHMCHAN_ERR_CORRUPT},
#if defined(_WIN32)
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 4, SHMCHAN_OK}, /* an opener maps whole pages (8192 bytes): 4 slots fit */
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 16, SHMCHAN_OK},
#else
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 4, SHMCHAN_ERR_CORRUPT}, /* 4 slots do not fit */
#endif
	    {SHMCHAN_MB_OFF_SLOT_COUNT, 4, 2, SHMCHAN_OK},          /* 2 slots do */
	    {SHMCHAN_MB_OFF_MAGIC, 4, SHMCHAN_MAGIC, SHMCHAN_ERR_NOT_CHANNEL},
	};
	uint8_t *w = mb_raw(mb);
	uint8_t saved[4096];
	memcpy(saved, w, sizeof saved);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(w, saved, sizeof saved);
		if (cases[i].size == 4) put32(w, cases[i].off, (uint32_t)cases[i].val);
		else put64(w, cases[i].off, cases[i].val);
		int rc = shmchan_mailbox_open(n, NULL, &mb2);
		if (rc != cases[i].want) fprintf(stderr, "case %zu: open = %d, want %d\n", i, rc, cases[i].want);
		CHECK(rc == cases[i].want);
		if (rc == SHMCHAN_OK) CHECK_RC(shmchan_mailbox_close(mb2), SHMCHAN_OK);
	}
	/* A creator that never stores the version: NOT_READY after the open timeout. */
	memcpy(w, saved, sizeof saved);
	put32(w, SHMCHAN_MB_OFF_VERSION, 0);
	shmchan_options quick;
	shmchan_options_init(&quick);
	quick.open_timeout_ns = 30 * MS;
	CHECK_RC(shmchan_mailbox_open(n, &quick, &mb2), SHMCHAN_ERR_NOT_READY);
	memcpy(w, saved, sizeof saved);
	CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	/* Created by open_or_create, removed on close. */
	shmchan_options rm;
	shmchan_options_init(&rm);
	rm.remove_on_close = 1;
	CHECK_RC(shmchan_mailbox_open_or_create(n, 1, &rm, &mb, &created), SHMCHAN_OK);
	CHECK(created == 1 && shmchan_mailbox_max_value(mb) == 1);
	CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
	CHECK(!shm_exists(n));
	CHECK_RC(shmchan_mailbox_close(NULL), SHMCHAN_OK);
}

static void test_mailbox_publish(void) {
	const char *n = name();
	shmchan_mailbox *w, *r, *other;
	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, &w), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open(n, NULL, &r), SHMCHAN_OK);
	uint8_t buf[100], big[101];
	size_t len = 99;
	uint64_t v = 99;
	/* Nothing published yet. */
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_OK);
	CHECK(len == 0 && v == 0);
	CHECK_RC(shmchan_mailbox_version(r, &v), SHMCHAN_OK);
	CHECK(v == 0);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 0, buf, sizeof buf, &len, &v, 0), SHMCHAN_ERR_TIMEOUT);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 0, buf, sizeof buf, &len, &v, 20 * MS), SHMCHAN_ERR_TIMEOUT);
	/* A reader handle does not hold the writer role until it publishes. */
	CHECK(get64(mb_raw(w), SHMCHAN_MB_OFF_OWNER) == 0);
	memset(big, 'x', sizeof big);
	CHECK_RC(shmchan_mailbox_publish(w, big, 101, &v), SHMCHAN_ERR_TOO_LARGE);
	CHECK(get64(mb_raw(w), SHMCHAN_MB_OFF_OWNER) == 0 && v == 0);
	CHECK_RC(shmchan_mailbox_publish(w, NULL, 5, &v), SHMCHAN_ERR_INVALID);
	for (uint64_t i = 1; i <= 10; i++) {
		size_t sz = mb_stamp(big, i, 100);
		CHECK_RC(shmchan_mailbox_publish(w, big, sz, &v), SHMCHAN_OK);
		CHECK(v == i);
		CHECK(get64(mb_raw(w), SHMCHAN_MB_OFF_OWNER) == shmchan_self_token());
		if (i % 3 == 0) {
			CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_OK);
			CHECK(v == i && mb_valid(buf, len, i, 100));
		}
	}
	/* Another handle, in the same live process, is BUSY. */
	CHECK_RC(shmchan_mailbox_publish(r, "x", 1, &v), SHMCHAN_ERR_BUSY);
	/* The newest is returned at once; an older version waits for nothing. */
	CHECK_RC(shmchan_mailbox_wait_newer(r, 7, buf, sizeof buf, &len, &v, SHMCHAN_FOREVER), SHMCHAN_OK);
	CHECK(v == 10 && mb_valid(buf, len, 10, 100));
	CHECK_RC(shmchan_mailbox_wait_newer(r, 10, buf, sizeof buf, &len, &v, 0), SHMCHAN_ERR_TIMEOUT);
	/* A short buffer: the value's length and version are reported. */
	CHECK_RC(shmchan_mailbox_latest(r, buf, 15, &len, &v), SHMCHAN_ERR_SHORT_BUFFER);
	CHECK(len == mb_len(10, 100) && v == 10);
	CHECK_RC(shmchan_mailbox_latest(r, NULL, 0, &len, &v), SHMCHAN_ERR_SHORT_BUFFER);
	CHECK_RC(shmchan_mailbox_latest(r, NULL, 5, &len, &v), SHMCHAN_ERR_INVALID);
	/* An empty value. */
	CHECK_RC(shmchan_mailbox_publish(w, NULL, 0, &v), SHMCHAN_OK);
	CHECK(v == 11);
	CHECK_RC(shmchan_mailbox_latest(r, NULL, 0, &len, &v), SHMCHAN_OK);
	CHECK(len == 0 && v == 11);
	/* Version 11 lives in slot 11 % 3 = 2. */
	CHECK(get64(mb_raw(w), 4096 + 2 * 256) == 22 && get64(mb_raw(w), SHMCHAN_MB_OFF_LATEST) == 11);
	size_t sz = mb_stamp(big, 12, 100);
	CHECK_RC(shmchan_mailbox_publish(w, big, sz, &v), SHMCHAN_OK);
	/* Closing the writer closes the mailbox: the final value with EOF, then EOF from a wait. */
	CHECK_RC(shmchan_mailbox_close(w), SHMCHAN_OK);
	CHECK(get64(mb_raw(r), SHMCHAN_MB_OFF_OWNER) == 0);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_EOF);
	CHECK(v == 12 && mb_valid(buf, len, 12, 100));
	CHECK_RC(shmchan_mailbox_wait_newer(r, 11, buf, sizeof buf, &len, &v, SHMCHAN_FOREVER), SHMCHAN_OK);
	CHECK(v == 12 && mb_valid(buf, len, 12, 100));
	CHECK_RC(shmchan_mailbox_wait_newer(r, 12, buf, sizeof buf, &len, &v, SHMCHAN_FOREVER), SHMCHAN_EOF);
	CHECK(len == 0 && v == 12);
	CHECK_RC(shmchan_mailbox_publish(r, "x", 1, &v), SHMCHAN_ERR_CLOSED);
	CHECK(get64(mb_raw(r), SHMCHAN_MB_OFF_OWNER) == 0);
	CHECK_RC(shmchan_mailbox_open(n, NULL, &other), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_publish(other, "x", 1, &v), SHMCHAN_ERR_CLOSED);
	CHECK_RC(shmchan_mailbox_close(other), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_close(r), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* test_mailbox_corrupt breaks the words readers load and checks that they say CORRUPT. */
static void test_mailbox_corrupt(void) {
	const char *n = name();
	shmchan_mailbox *w, *r;
	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, &w), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open(n, NULL, &r), SHMCHAN_OK);
	uint8_t buf[100], val[100];
	size_t len;
	uint64_t v;
	for (uint64_t i = 1; i <= 4; i++) CHECK_RC(shmchan_mailbox_publish(w, val, mb_stamp(val, i, 100), &v), SHMCHAN_OK);
	uint8_t *b = mb_raw(r);
	const uint32_t slot1 = 4096 + 1 * 256; /* version 4 */
	/* latest beyond 2^62-1. */
	put64(b, SHMCHAN_MB_OFF_LATEST, UINT64_C(1) << 62);
	CHECK_RC(shmchan_mailbox_version(r, &v), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 0, buf, sizeof buf, &len, &v, 0), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_publish(w, val, 16, &v), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_MB_OFF_LATEST, 4);
	/* A slot sequence behind latest, or ahead by less than a lap. */
	put64(b, slot1, 2);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_ERR_CORRUPT);
	put64(b, slot1, 2 * 4 + 1);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_ERR_CORRUPT);
	/* A lap (2(v+3)) while latest has not moved on. */
	put64(b, slot1, 2 * 7);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_ERR_CORRUPT);
	put64(b, slot1, 8);
	/* A length beyond max_value, stable. */
	put64(b, slot1 + 8, 101);
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_ERR_CORRUPT);
	CHECK(len == 0 && v == 0);
	put64(b, slot1 + 8, mb_len(4, 100));
	CHECK_RC(shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v), SHMCHAN_OK);
	CHECK(v == 4 && mb_valid(buf, len, 4, 100));
	/* latest that went back below what the caller had. */
	put64(b, SHMCHAN_MB_OFF_LATEST, 4);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 3, buf, sizeof buf, &len, &v, 0), SHMCHAN_OK);
	CHECK(v == 4);
	/* At the last version a writer may publish, publish refuses rather than overflow. */
	put64(b, SHMCHAN_MB_OFF_LATEST, SHMCHAN_MAILBOX_MAX_VERSION);
	CHECK_RC(shmchan_mailbox_publish(w, val, 16, &v), SHMCHAN_ERR_CORRUPT);
	put64(b, SHMCHAN_MB_OFF_LATEST, 4);
	CHECK_RC(shmchan_mailbox_publish(w, val, mb_stamp(val, 5, 100), &v), SHMCHAN_OK);
	CHECK(v == 5);
	CHECK_RC(shmchan_mailbox_close(r), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_close(w), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* test_mailbox_fuzz scribbles over the writer and slot words and checks that reads stay in bounds. */
static void test_mailbox_fuzz(void) {
	const char *n = name();
	shmchan_mailbox *w, *r;
	CHECK_RC(shmchan_mailbox_create(n, 200, NULL, &w), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open(n, NULL, &r), SHMCHAN_OK);
	uint8_t *b = mb_raw(r);
	uint64_t size = shmchan_segment_size(shmchan_mailbox_segment(r));
	uint64_t rng = 42;
	uint8_t buf[200];
	for (int round = 0; round < 20000; round++) {
		uint64_t x = rng_next(&rng);
		uint64_t val = x % 4 == 0 ? rng_next(&rng) : rng_next(&rng) % 64;
		switch ((x >> 8) % 4) {
		case 0: put64(b, SHMCHAN_MB_OFF_LATEST, val); break;
		case 1: put64(b, 4096 + (uint32_t)((x >> 16) % 3) * 384, val); break;
		case 2: put64(b, 4096 + (uint32_t)((x >> 16) % 3) * 384 + 8, val); break;
		default: put32(b, SHMCHAN_MB_OFF_CLOSED, (uint32_t)(val & 1)); break;
		}
		size_t len = 0;
		uint64_t v = 0;
		int rc = round % 2 ? shmchan_mailbox_latest(r, buf, sizeof buf, &len, &v)
		                   : shmchan_mailbox_wait_newer(r, val % 8, buf, (size_t)(x >> 32) % 201, &len, &v, 0);
		CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_EOF || rc == SHMCHAN_ERR_CORRUPT || rc == SHMCHAN_ERR_TIMEOUT ||
		      rc == SHMCHAN_ERR_SHORT_BUFFER);
		CHECK(len <= 200 && v <= SHMCHAN_MAILBOX_MAX_VERSION);
		if (round % 7 == 0) {
			rc = shmchan_mailbox_publish(w, buf, (size_t)(x % 201), &v);
			CHECK(rc == SHMCHAN_OK || rc == SHMCHAN_ERR_CORRUPT || rc == SHMCHAN_ERR_CLOSED);
		}
	}
	CHECK(size >= shmchan_mailbox_size(200)); /* on Windows, whole pages */
	put32(b, SHMCHAN_MB_OFF_CLOSED, 0);
	CHECK_RC(shmchan_mailbox_close(r), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_close(w), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* A mailbox stream: a writer publishing count stamped values, readers checking every value they see. */
struct mb_stream {
	const char *name;
	int wait;
	uint64_t count;
	int rc;
	uint64_t seen, skipped, torn;
	int use_latest; /* readers: poll with latest instead of waiting */
};

static int mb_write(struct mb_stream *s) {
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(s->name, NULL, &mb);
	if (rc != SHMCHAN_OK) return rc;
	uint8_t val[256];
	for (uint64_t i = 1; i <= s->count && rc == SHMCHAN_OK; i++) {
		uint64_t v;
		rc = shmchan_mailbox_publish(mb, val, mb_stamp(val, i, 256), &v);
		if (rc == SHMCHAN_OK && v != i) rc = SHMCHAN_ERR_CORRUPT;
	}
	int crc = shmchan_mailbox_close(mb);
	return rc != SHMCHAN_OK ? rc : crc;
}

static void *mb_write_thread(void *arg) {
	struct mb_stream *s = (struct mb_stream *)arg;
	s->rc = mb_write(s);
	return NULL;
}

static void *mb_read_thread(void *arg) {
	struct mb_stream *s = (struct mb_stream *)arg;
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = s->wait;
	shmchan_mailbox *mb;
	s->rc = shmchan_mailbox_open(s->name, &o, &mb);
	if (s->rc != SHMCHAN_OK) return NULL;
	uint8_t buf[256];
	uint64_t last = 0;
	for (;;) {
		size_t len;
		uint64_t v;
		int rc = s->use_latest ? shmchan_mailbox_latest(mb, buf, sizeof buf, &len, &v)
		                       : shmchan_mailbox_wait_newer(mb, last, buf, sizeof buf, &len, &v, 30000 * MS);
		if (rc != SHMCHAN_OK && !(rc == SHMCHAN_EOF && s->use_latest)) {
			s->rc = rc;
			break;
		}
		if (v < last || (v == last && !s->use_latest)) s->torn++; /* versions only increase */
		if (v > last) {
			if (!mb_valid(buf, len, v, 256)) s->torn++;
			s->seen++;
			s->skipped += v - last - 1;
			last = v;
		}
		if (rc == SHMCHAN_EOF) {
			s->rc = rc;
			break;
		}
	}
	s->rc = s->rc == SHMCHAN_EOF && last == s->count ? SHMCHAN_EOF : (s->rc == SHMCHAN_EOF ? SHMCHAN_ERR_CORRUPT : s->rc);
	shmchan_mailbox_close(mb);
	return NULL;
}

static void test_mailbox_threads(void) {
	for (int m = 0; m < N_WAIT_MODES; m++) {
		const char *n = name();
		shmchan_mailbox *mb;
		CHECK_RC(shmchan_mailbox_create(n, 256, NULL, &mb), SHMCHAN_OK);
		struct mb_stream wr = {n, wait_modes[m], 200000, 0, 0, 0, 0, 0};
		struct mb_stream rd[3];
		pthread_t tr[3], tw;
		for (int i = 0; i < 3; i++) {
			rd[i] = wr;
			rd[i].use_latest = i == 2;
			CHECK(pthread_create(&tr[i], NULL, mb_read_thread, &rd[i]) == 0);
		}
		CHECK(pthread_create(&tw, NULL, mb_write_thread, &wr) == 0);
		pthread_join(tw, NULL);
		for (int i = 0; i < 3; i++) pthread_join(tr[i], NULL);
		CHECK_RC(wr.rc, SHMCHAN_OK);
		for (int i = 0; i < 3; i++) {
			if (getenv("SHMCHAN_TEST_VERBOSE"))
				printf("     mailbox wait=%d reader %d: seen %llu skipped %llu torn %llu\n", wait_modes[m], i,
				       (unsigned long long)rd[i].seen, (unsigned long long)rd[i].skipped,
				       (unsigned long long)rd[i].torn);
			CHECK_RC(rd[i].rc, SHMCHAN_EOF);
			CHECK(rd[i].torn == 0 && rd[i].seen > 0);
		}
		/* Every reader left: nobody is counted as parked. */
		CHECK(get64(mb_raw(mb), SHMCHAN_MB_OFF_WAKE_SEQ) >> 32 == 0);
		CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
	}
}

/* test_mailbox_processes runs the writer in a child process and reads in this one. */
static void test_mailbox_processes(void) {
	const char *n = name();
	shmchan_mailbox *mb;
	CHECK_RC(shmchan_mailbox_create(n, 256, NULL, &mb), SHMCHAN_OK);
	struct mb_stream rd = {n, SHMCHAN_WAIT_BLOCK, MB_PROCESS_COUNT, 0, 0, 0, 0, 0};
	child_t c;
	CHECK(child_start(&c, "mb-write", n) == 0);
	mb_read_thread(&rd);
	CHECK(child_wait(&c) == 0);
	CHECK_RC(rd.rc, SHMCHAN_EOF);
	CHECK(rd.torn == 0 && rd.seen > 0);
	CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* test_mailbox_writer_death kills a writer: readers get PEER_GONE, and a new writer takes over. */
static void test_mailbox_writer_death(void) {
	for (int m = 0; m < N_WAIT_MODES; m++) {
		const char *n = name();
		shmchan_options o;
		shmchan_options_init(&o);
		o.wait = wait_modes[m];
		shmchan_mailbox *mb;
		CHECK_RC(shmchan_mailbox_create(n, 100, &o, &mb), SHMCHAN_OK);
		child_t c;
		CHECK(child_start(&c, "mb-hold", n) == 0);
		/* Ready: the child has published version 5. */
		for (int i = 0; i < 10000 && get64(mb_raw(mb), SHMCHAN_MB_OFF_LATEST) != 5; i++) sleep_ms(1);
		uint8_t buf[100];
		size_t len;
		uint64_t v;
		/* The live writer holds the role. */
		CHECK_RC(shmchan_mailbox_publish(mb, "x", 1, &v), SHMCHAN_ERR_BUSY);
		child_kill(&c);
		CHECK(child_wait(&c) == -1);
		int64_t start = (int64_t)time(NULL);
		/* What the dead writer published is still there. */
		CHECK_RC(shmchan_mailbox_wait_newer(mb, 0, buf, sizeof buf, &len, &v, SHMCHAN_FOREVER), SHMCHAN_OK);
		CHECK(v == 5 && mb_valid(buf, len, 5, 100));
		CHECK_RC(shmchan_mailbox_wait_newer(mb, 5, buf, sizeof buf, &len, &v, SHMCHAN_FOREVER),
		         SHMCHAN_ERR_PEER_GONE);
		CHECK((int64_t)time(NULL) - start < 5);
		/* Leave slot 6 half written, as a writer killed mid-publish would; the new writer rewrites it. */
		put64(mb_raw(mb), 4096 + 0 * 256, 2 * 6 + 1);
		CHECK_RC(shmchan_mailbox_latest(mb, buf, sizeof buf, &len, &v), SHMCHAN_OK);
		CHECK(v == 5 && mb_valid(buf, len, 5, 100));
		CHECK_RC(shmchan_mailbox_publish(mb, buf, mb_stamp(buf, 6, 100), &v), SHMCHAN_OK);
		CHECK(v == 6 && get64(mb_raw(mb), SHMCHAN_MB_OFF_OWNER) == shmchan_self_token());
		CHECK_RC(shmchan_mailbox_latest(mb, buf, sizeof buf, &len, &v), SHMCHAN_OK);
		CHECK(v == 6 && mb_valid(buf, len, 6, 100));
		CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
	}
}

/* test_mailbox_wake checks that a parked reader wakes soon after a publish, and at once on close. */
struct mb_later {
	shmchan_mailbox *mb;
	int close;
};

static void *mb_publish_later(void *arg) {
	struct mb_later *l = (struct mb_later *)arg;
	sleep_ms(30);
	uint64_t v;
	if (l->close) shmchan_mailbox_close(l->mb);
	else shmchan_mailbox_publish(l->mb, "hello", 5, &v);
	return NULL;
}

static void test_mailbox_wake(void) {
	const char *n = name();
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_mailbox *w, *r;
	CHECK_RC(shmchan_mailbox_create(n, 100, NULL, &w), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_open(n, &o, &r), SHMCHAN_OK);
	struct mb_later l = {w, 0};
	pthread_t t;
	uint8_t buf[100];
	size_t len;
	uint64_t v;
	uint32_t seq0;
	memcpy(&seq0, mb_raw(r) + SHMCHAN_MB_OFF_WAKE_SEQ, 4);
	CHECK(pthread_create(&t, NULL, mb_publish_later, &l) == 0);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 0, buf, sizeof buf, &len, &v, 10000 * MS), SHMCHAN_OK);
	pthread_join(t, NULL);
	CHECK(v == 1 && len == 5 && memcmp(buf, "hello", 5) == 0);
	/* The reader was parked (BLOCK parks at once), so the publish bumped the wait word. */
	uint32_t seq1, waiters;
	memcpy(&seq1, mb_raw(r) + SHMCHAN_MB_OFF_WAKE_SEQ, 4);
	memcpy(&waiters, mb_raw(r) + SHMCHAN_MB_OFF_WAITERS, 4);
	CHECK(seq1 == seq0 + 1 && waiters == 0);
	/* Publishing with no reader parked makes no wake: wake_seq stays. */
	CHECK_RC(shmchan_mailbox_publish(w, "again", 5, &v), SHMCHAN_OK);
	memcpy(&seq0, mb_raw(r) + SHMCHAN_MB_OFF_WAKE_SEQ, 4);
	CHECK(seq0 == seq1);
	l.close = 1;
	CHECK(pthread_create(&t, NULL, mb_publish_later, &l) == 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_RC(shmchan_mailbox_wait_newer(r, 2, buf, sizeof buf, &len, &v, 10000 * MS), SHMCHAN_EOF);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	CHECK(v == 2 && len == 0);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	CHECK_RC(shmchan_mailbox_close(r), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* ---- Child roles -------------------------------------------------------------------- */

/* child_role runs one role of a child process on the object n and returns its exit status. */

/* ---- Role locks, owner checks, the fault guard (layout v2) ------------------------- */

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * test_role_locks: a role held by a live process is BUSY whatever its token
 * says, and passes on within 200 ms of the holder's SIGKILL (Windows:
 * TerminateProcess); a waiter sees PEER_GONE within 200 ms too.
 */
static void test_role_locks(void) {
	if (!shmchan_role_locks()) {
		printf("skip role_locks: roles are judged by tokens on this platform\n");
		return;
	}
	const char *n = name();
	shmchan_channel *ch;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	child_t c;
	CHECK(child_start(&c, "hold-send", n) == 0);
	for (int i = 0; i < 10000 && get64(raw(ch), SHMCHAN_OFF_DATA) == 0; i++) sleep_ms(1);
	shmchan_sender *tx;
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_ERR_BUSY);
	/* A token that names nobody changes nothing: the lock decides. */
	put64(raw(ch), SHMCHAN_OFF_TX_OWNER, 0);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_ERR_BUSY);
	put64(raw(ch), SHMCHAN_OFF_TX_OWNER, UINT64_C(0x7FFFFFF0)); /* a PID that does not exist */
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_ERR_BUSY);
#if defined(_WIN32)
	{
		/* The lock is the mutex docs/layout.md names, and the child's thread owns it. */
		char obj[96];
		snprintf(obj, sizeof obj, "Local\\shmchan.role:%s.sender", n);
		HANDLE m = OpenMutexA(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, obj);
		CHECK(m != NULL);
		DWORD w = WaitForSingleObject(m, 0);
		if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) ReleaseMutex(m);
		CloseHandle(m);
		CHECK(w == WAIT_TIMEOUT);
	}
#endif
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	uint8_t out[16];
	size_t len;
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 0), SHMCHAN_OK);
	CHECK(len == 4 && memcmp(out, "last", 4) == 0);
	child_kill(&c);
	int64_t t0 = now_ns();
	CHECK(child_wait(&c) == -1);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER), SHMCHAN_ERR_PEER_GONE);
	int64_t gone = now_ns() - t0;
	int rc;
	while ((rc = shmchan_channel_sender(ch, &tx)) == SHMCHAN_ERR_BUSY && now_ns() - t0 < 5000 * MS) sleep_ms(1);
	int64_t taken = now_ns() - t0;
	CHECK_RC(rc, SHMCHAN_OK);
	printf("     role_locks: PEER_GONE %.1f ms and the role taken %.1f ms after SIGKILL\n", gone / 1e6, taken / 1e6);
	CHECK(gone < 200 * MS && taken < 200 * MS);
	CHECK(get64(raw(ch), SHMCHAN_OFF_TX_OWNER) == shmchan_self_token());
	/* The new sender continues after the dead one's record. */
	CHECK_RC(shmchan_send(tx, "next", 4, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 0), SHMCHAN_OK);
	CHECK(len == 4 && memcmp(out, "next", 4) == 0);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

#if !defined(_WIN32)
/* test_claim_close_race: a claim racing the holder's close never claims the closed end. */
struct race {
	shmchan_channel *other;
	_Atomic int go;
	int rc;
};

static void *race_claim(void *arg) {
	struct race *r = (struct race *)arg;
	while (!atomic_load(&r->go)) {
	}
	shmchan_sender *tx;
	while ((r->rc = shmchan_channel_sender(r->other, &tx)) == SHMCHAN_ERR_BUSY) {
	}
	return NULL;
}

static void test_claim_close_race(void) {
	int closed = 0;
	for (int i = 0; i < 300; i++) {
		const char *n = name();
		shmchan_channel *a, *b;
		shmchan_sender *tx;
		CHECK_RC(shmchan_channel_create(n, 1024, NULL, &a), SHMCHAN_OK);
		CHECK_RC(shmchan_channel_open(n, NULL, &b), SHMCHAN_OK);
		CHECK_RC(shmchan_channel_sender(a, &tx), SHMCHAN_OK);
		struct race r = {b, 0, 0};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, race_claim, &r) == 0);
		atomic_store(&r.go, 1);
		CHECK_RC(shmchan_sender_close(tx), SHMCHAN_OK);
		pthread_join(t, NULL);
		CHECK_RC(r.rc, SHMCHAN_ERR_CLOSED);
		closed++;
		CHECK_RC(shmchan_channel_close(b), SHMCHAN_OK);
		CHECK_RC(shmchan_channel_close(a), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
		nnames = 0;
	}
	CHECK(closed == 300);
}

/* truncate_by_peer truncates the object n to 0 bytes from another process, as a hostile peer would. */
static int truncate_by_peer(const char *n) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		char path[64];
		snprintf(path, sizeof path, "/%s", n);
		int fd = shm_open(path, O_RDWR, 0);
		_exit(fd >= 0 && ftruncate(fd, 0) == 0 ? 0 : 1);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * test_fault_guard: with fault_guard, a peer truncating the object makes each
 * call that touches it return CORRUPT, and the process lives; without it, the
 * default, the process dies of SIGBUS.
 */
static void test_fault_guard(void) {
	shmchan_options o;
	shmchan_options_init(&o);
	CHECK(o.fault_guard == 0 && o.allow_owner == -1);
	o.fault_guard = 1;
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1 << 16, &o, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx, "hello", 5, 0), SHMCHAN_OK);
	CHECK(truncate_by_peer(n) == 0);
	uint8_t out[64];
	size_t len;
	const void *msg;
	CHECK_RC(shmchan_try_recv(rx, out, sizeof out, &len), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_recv(rx, out, sizeof out, &len, 10 * MS), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_peek(rx, &msg, &len, 10 * MS), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_send(tx, "again", 5, 10 * MS), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_try_send(tx, "again", 5), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_sender_close(tx), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	/* An opener of a truncated-then-regrown object: faults in the header are CORRUPT too. */
	n = name();
	shmchan_mailbox *mb;
	CHECK_RC(shmchan_mailbox_create(n, 100, &o, &mb), SHMCHAN_OK);
	uint64_t v;
	CHECK_RC(shmchan_mailbox_publish(mb, "v1", 2, &v), SHMCHAN_OK);
	CHECK(truncate_by_peer(n) == 0);
	CHECK_RC(shmchan_mailbox_latest(mb, out, sizeof out, &len, &v), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_wait_newer(mb, 1, out, sizeof out, &len, &v, 10 * MS), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_publish(mb, "v2", 2, &v), SHMCHAN_ERR_CORRUPT);
	CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	int status;
	pid_t pid;
#if !defined(__SANITIZE_ADDRESS__) /* ASan's own SEGV handler would come first and report */
	/* A fault elsewhere is not ours: the guard chains to the default action (the child dies of SIGSEGV). */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* A page mapped, then unmapped: a fault outside every guarded mapping. */
		volatile int *bad = (volatile int *)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap((void *)bad, 4096);
		_exit(*bad);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

#endif
	/* The default: no guard, and the fault kills (here a child, of SIGBUS). */
	n = name();
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		if (shmchan_channel_create(n, 1 << 16, NULL, &ch) != SHMCHAN_OK) _exit(1);
		if (shmchan_channel_receiver(ch, &rx) != SHMCHAN_OK) _exit(2);
		if (truncate_by_peer(n) != 0) _exit(3);
		_exit(shmchan_try_recv(rx, out, sizeof out, &len) == SHMCHAN_ERR_EMPTY ? 4 : 5);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* as_user runs f(n) in a child process under uid (and gid) and returns its exit status. */
static int as_user(uid_t uid, int (*f)(const char *), const char *n) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		if (setgid((gid_t)uid) != 0 || setuid(uid) != 0) _exit(100);
		_exit(f(n));
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int squat(const char *n) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.mode = 0666;
	shmchan_channel *ch;
	if (shmchan_channel_create(n, 1024, &o, &ch) != SHMCHAN_OK) return 1;
	return shmchan_channel_close(ch) == SHMCHAN_OK ? 0 : 2;
}

static int open_squatted(const char *n) {
	shmchan_channel *ch;
	int created = -1;
	if (shmchan_channel_open(n, NULL, &ch) != SHMCHAN_ERR_PERMISSION || errno != EACCES) return 1;
	if (shmchan_channel_open_or_create(n, 1024, NULL, &ch, &created) != SHMCHAN_ERR_PERMISSION) return 2;
	shmchan_options o;
	shmchan_options_init(&o);
	o.allow_owner = 65534;
	if (shmchan_channel_open(n, &o, &ch) != SHMCHAN_OK) return 3;
	shmchan_channel_close(ch);
	shmchan_mailbox *mb;
	if (shmchan_mailbox_open(n, NULL, &mb) != SHMCHAN_ERR_PERMISSION) return 4;
	shmchan_segment *seg;
	if (shmchan_segment_open(n, NULL, &seg) != SHMCHAN_ERR_PERMISSION) return 5;
	return 0;
}

/* test_owner_check: an object made by uid 65534 with mode 0666 is refused for uid 65533, unless allowed. */
static void test_owner_check(void) {
	if (geteuid() != 0) {
		printf("skip owner_check: needs root to run processes as uid 65534 and 65533\n");
		return;
	}
	const char *n = name();
	CHECK(as_user(65534, squat, n) == 0);
	CHECK(as_user(65533, open_squatted, n) == 0);
	/* Root is checked like anyone else. */
	shmchan_channel *ch;
	CHECK_RC(shmchan_channel_open(n, NULL, &ch), SHMCHAN_ERR_PERMISSION);
	CHECK_RC(removed(n), SHMCHAN_OK);
}
#endif

static int child_role(const char *role, const char *n) {
	if (strcmp(role, "claim-busy") == 0) { /* the sender role is held by the parent */
		shmchan_channel *c;
		shmchan_sender *t;
		if (shmchan_channel_open(n, NULL, &c) != SHMCHAN_OK) return 2;
		return shmchan_channel_sender(c, &t) == SHMCHAN_ERR_BUSY ? 0 : 3;
	}
	if (strcmp(role, "produce") == 0) {
		struct stream s = {n, SHMCHAN_WAIT_BLOCK, PRODUCE_COUNT, PRODUCE_MAXLEN, 0};
		return produce(&s) == SHMCHAN_OK ? 0 : 1;
	}
	if (strcmp(role, "hold-send") == 0 || strcmp(role, "hold-recv") == 0) { /* claim, then wait to be killed */
		shmchan_channel *c;
		shmchan_sender *t;
		shmchan_receiver *r;
		int send = role[5] == 's';
		if (shmchan_channel_open(n, NULL, &c) != SHMCHAN_OK) return 2;
		if (send ? shmchan_channel_sender(c, &t) : shmchan_channel_receiver(c, &r)) return 3;
		if (send && shmchan_send(t, "last", 4, 0) != SHMCHAN_OK) return 4;
		for (;;) sleep_ms(1000); /* never closes */
	}
	if (strcmp(role, "mb-write") == 0) {
		struct mb_stream wr = {n, SHMCHAN_WAIT_BLOCK, MB_PROCESS_COUNT, 0, 0, 0, 0, 0};
		return mb_write(&wr) == SHMCHAN_OK ? 0 : 1;
	}
	if (strcmp(role, "mb-hold") == 0) { /* publish versions 1 to 5, then wait to be killed */
		shmchan_mailbox *c;
		uint8_t val[100];
		uint64_t v;
		if (shmchan_mailbox_open(n, NULL, &c) != SHMCHAN_OK) return 2;
		for (uint64_t i = 1; i <= 5; i++)
			if (shmchan_mailbox_publish(c, val, mb_stamp(val, i, 100), &v) != SHMCHAN_OK) return 3;
		for (;;) sleep_ms(1000); /* never closes */
	}
	fprintf(stderr, "unknown child role %s\n", role);
	return 2;
}

/* test_stats: each end counts its messages and bytes on its own line (docs/layout.md, "Counters"), a
 * takeover from a dead holder is counted, and a channel without the flag reports SHMCHAN_ERR_UNSUPPORTED. */
static void test_stats(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 4096, NULL, &ch), SHMCHAN_OK);
	uint8_t *b = raw(ch);
	uint32_t flags;
	memcpy(&flags, b + SHMCHAN_OFF_FLAGS, 4);
	CHECK(flags == SHMCHAN_FLAG_STATS);
	put64(b, SHMCHAN_OFF_TX_OWNER, UINT64_C(0x7FFFFFFE)); /* a dead sender: no such PID */
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	char buf[256] = {0};
	size_t len;
	for (size_t i = 1; i <= 3; i++) {
		CHECK_RC(shmchan_try_send(tx, buf, 10 * i), SHMCHAN_OK);
		CHECK_RC(shmchan_try_recv(rx, buf, sizeof buf, &len), SHMCHAN_OK);
	}
	const void *msg;
	CHECK_RC(shmchan_try_send(tx, buf, 7), SHMCHAN_OK);
	CHECK_RC(shmchan_try_peek(rx, &msg, &len), SHMCHAN_OK);
	CHECK_RC(shmchan_release(rx), SHMCHAN_OK);
	shmchan_stats st, sr;
	CHECK_RC(shmchan_channel_stats(ch, &st, &sr), SHMCHAN_OK);
	CHECK(st.messages == 4 && st.bytes == 67 && st.takeovers == 1 && st.waits == 0);
	CHECK(sr.messages == 4 && sr.bytes == 67 && sr.takeovers == 0);
	CHECK(get64(b, SHMCHAN_OFF_TX_STATS) == 4 && get64(b, SHMCHAN_OFF_RX_STATS + 8) == 67);
	CHECK_RC(shmchan_channel_stats(NULL, &st, &sr), SHMCHAN_ERR_INVALID);
	/* An older creator's channel: flag bit 16 clear. A segment handle keeps the object (Windows frees it
	 * with its last handle). */
	shmchan_segment *seg;
	CHECK_RC(shmchan_segment_open(n, NULL, &seg), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	memset((uint8_t *)shmchan_segment_data(seg) + SHMCHAN_OFF_FLAGS, 0, 4);
	CHECK_RC(shmchan_channel_open(n, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_stats(ch, &st, &sr), SHMCHAN_ERR_UNSUPPORTED);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_close(seg), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);

	shmchan_mailbox *mb;
	const char *m = name();
	CHECK_RC(shmchan_mailbox_create(m, 64, NULL, &mb), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_publish(mb, "hello", 5, NULL), SHMCHAN_OK);
	CHECK_RC(shmchan_mailbox_publish(mb, "hi", 2, NULL), SHMCHAN_OK);
	shmchan_stats sw;
	CHECK_RC(shmchan_mailbox_stats(mb, &sw), SHMCHAN_OK);
	CHECK(sw.messages == 2 && sw.bytes == 7 && sw.takeovers == 0);
	CHECK_RC(shmchan_mailbox_close(mb), SHMCHAN_OK);
	CHECK_RC(removed(m), SHMCHAN_OK);
}

/* ---- Batches ------------------------------------------------------------------ */

/* fill_batch points msgs[i] at k messages of len bytes from in, the i-th starting at byte first + i. */
static void fill_batch(const void **msgs, size_t *lens, size_t k, const uint8_t *in, size_t first, size_t len) {
	for (size_t i = 0; i < k; i++) {
		msgs[i] = in + first + i;
		lens[i] = len;
	}
}

/* point_bufs points bufs[i] at the i-th of n buffers of each bytes that follow one another from out, and
 * sets caps[i] to each. */
static void point_bufs(void **bufs, size_t *caps, void *out, size_t n, size_t each) {
	for (size_t i = 0; i < n; i++) {
		bufs[i] = (uint8_t *)out + i * each;
		caps[i] = each;
	}
}

/* test_batch: shmchan_send_batch and shmchan_recv_batch in one thread: partial batches, errors, padding
 * inside a batch (read one by one and as a batch), the counters, EOF. */
static void test_batch(void) {
	const char *n = name();
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1024, NULL, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_sender(ch, &tx), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	uint8_t in[1200];
	for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 7);
	const void *msgs[32];
	size_t lens[32], sent, got;
	static uint8_t out[32][600];
	void *bufs[32];
	size_t caps[32], olens[32];
	point_bufs(bufs, caps, out, 32, sizeof out[0]);
	CHECK_RC(shmchan_try_send_batch(tx, msgs, lens, 0, &sent), SHMCHAN_OK);
	CHECK(sent == 0);
	CHECK_RC(shmchan_try_send_batch(tx, NULL, lens, 1, &sent), SHMCHAN_ERR_INVALID);
	CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 32, &got), SHMCHAN_ERR_EMPTY);
	CHECK(got == 0);
	CHECK_RC(shmchan_recv_batch(rx, bufs, caps, olens, 32, &got, 5 * MS), SHMCHAN_ERR_TIMEOUT);
	/* 1024 bytes less the terminator hold 15 records of 8 + 56. */
	fill_batch(msgs, lens, 20, in, 0, 56);
	CHECK_RC(shmchan_send_batch(tx, msgs, lens, 20, &sent, 0), SHMCHAN_OK);
	CHECK(sent == 15);
	CHECK_RC(shmchan_try_send_batch(tx, msgs, lens, 3, &sent), SHMCHAN_ERR_FULL);
	CHECK(sent == 0);
	CHECK_RC(shmchan_send_batch(tx, msgs, lens, 3, &sent, 5 * MS), SHMCHAN_ERR_TIMEOUT);
	/* A short first buffer: SHORT_BUFFER, the length needed, nothing consumed. */
	caps[0] = 10;
	CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 4, &got), SHMCHAN_ERR_SHORT_BUFFER);
	CHECK(got == 0 && olens[0] == 56);
	caps[0] = sizeof out[0];
	/* A short later buffer ends the batch before it. */
	caps[2] = 10;
	CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 4, &got), SHMCHAN_OK);
	CHECK(got == 2);
	caps[2] = sizeof out[2];
	CHECK_RC(shmchan_recv_batch(rx, bufs, caps, olens, 32, &got, 0), SHMCHAN_OK);
	CHECK(got == 13);
	for (size_t i = 0; i < got; i++) CHECK(olens[i] == 56 && memcmp(out[i], in + 2 + i, 56) == 0);
	/* Too large: the first fails the call; a later one ends the batch. */
	fill_batch(msgs, lens, 4, in, 0, 8);
	lens[0] = 505;
	CHECK_RC(shmchan_try_send_batch(tx, msgs, lens, 4, &sent), SHMCHAN_ERR_TOO_LARGE);
	lens[0] = 8;
	lens[2] = 505;
	CHECK_RC(shmchan_try_send_batch(tx, msgs, lens, 4, &sent), SHMCHAN_OK);
	CHECK(sent == 2);
	CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 32, &got), SHMCHAN_OK);
	CHECK(got == 2 && olens[1] == 8 && memcmp(out[1], in + 1, 8) == 0);
	/* Batches of every size mix through many wrap-arounds, so that padding falls inside batches; read
	 * alternately one by one (as a receiver that knows nothing of batches) and as batches. */
	size_t seq = 0, rseq = 0;
	for (int round = 0; round < 200; round++) {
		size_t k = 1 + (size_t)round % 7, sz = ((size_t)round * 37) % 200;
		fill_batch(msgs, lens, k, in, seq % 500, sz);
		CHECK_RC(shmchan_try_send_batch(tx, msgs, lens, k, &sent), SHMCHAN_OK);
		CHECK(sent >= 1);
		seq += sent;
		if (round % 2 == 0) {
			for (size_t i = 0; i < sent; i++, rseq++) {
				size_t len;
				CHECK_RC(shmchan_try_recv(rx, out[0], sizeof out[0], &len), SHMCHAN_OK);
				CHECK(len == sz && memcmp(out[0], in + (seq - sent) % 500 + i, sz) == 0);
			}
		} else {
			CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 32, &got), SHMCHAN_OK);
			CHECK(got == sent);
			for (size_t i = 0; i < got; i++, rseq++)
				CHECK(olens[i] == sz && memcmp(out[i], in + (seq - sent) % 500 + i, sz) == 0);
		}
	}
	CHECK(rseq == seq);
	/* Single sends read as a batch. */
	CHECK_RC(shmchan_send(tx, "a", 1, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_send(tx, "bc", 2, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_try_recv_batch(rx, bufs, caps, olens, 32, &got), SHMCHAN_OK);
	CHECK(got == 2 && olens[0] == 1 && olens[1] == 2 && memcmp(out[1], "bc", 2) == 0);
	/* Counters: every message of a batch counts. */
	shmchan_stats st, sr;
	CHECK_RC(shmchan_channel_stats(ch, &st, &sr), SHMCHAN_OK);
	CHECK(st.messages == 15 + 2 + seq + 2 && sr.messages == st.messages && st.bytes == sr.bytes);
	/* The end: a batch, the close, the batch read, then EOF. */
	fill_batch(msgs, lens, 3, in, 0, 5);
	CHECK_RC(shmchan_send_batch(tx, msgs, lens, 3, &sent, 0), SHMCHAN_OK);
	CHECK_RC(shmchan_sender_close(tx), SHMCHAN_OK);
	CHECK_RC(shmchan_send_batch(tx, msgs, lens, 3, &sent, 0), SHMCHAN_ERR_CLOSED);
	CHECK_RC(shmchan_recv_batch(rx, bufs, caps, olens, 32, &got, SHMCHAN_FOREVER), SHMCHAN_OK);
	CHECK(got == 3);
	CHECK_RC(shmchan_recv_batch(rx, bufs, caps, olens, 32, &got, SHMCHAN_FOREVER), SHMCHAN_EOF);
	CHECK(got == 0);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(removed(n), SHMCHAN_OK);
}

/* A batch stream between two threads: the sender's batches of 1..32, the receiver's of up to 32. */
#define BATCH_COUNT 200000
struct batch_stream {
	const char *name;
	int wait;
	int rc;
};

static void *batch_produce(void *arg) {
	struct batch_stream *s = arg;
	shmchan_channel *ch;
	shmchan_sender *tx;
	s->rc = open_sender(s->name, s->wait, &ch, &tx);
	if (s->rc != SHMCHAN_OK) return NULL;
	uint64_t vals[32][7] = {{0}};
	const void *msgs[32];
	size_t lens[32];
	for (uint64_t i = 0; i < BATCH_COUNT && s->rc == SHMCHAN_OK;) {
		size_t k = 1 + (size_t)(i % 32), sent;
		if (k > BATCH_COUNT - i) k = (size_t)(BATCH_COUNT - i);
		for (size_t j = 0; j < k; j++) {
			vals[j][0] = i + j;
			msgs[j] = vals[j];
			lens[j] = 8 + (size_t)((i + j) % 3) * 24; /* 8, 32 or 56 bytes, the first 8 the number */
		}
		s->rc = shmchan_send_batch(tx, msgs, lens, k, &sent, SHMCHAN_FOREVER);
		i += sent;
	}
	if (s->rc == SHMCHAN_OK) s->rc = shmchan_sender_close(tx);
	shmchan_channel_close(ch);
	return NULL;
}

static void test_batch_threads(void) {
	for (int m = 0; m < N_WAIT_MODES; m++) {
		const char *n = name();
		shmchan_channel *ch;
		shmchan_receiver *rx;
		CHECK_RC(create_receiver(n, 4096, wait_modes[m], &ch, &rx), SHMCHAN_OK);
		struct batch_stream s = {n, wait_modes[m], 0};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, batch_produce, &s) == 0);
		static uint64_t out[32][8];
		void *bufs[32];
		size_t caps[32], lens[32], got;
		point_bufs(bufs, caps, out, 32, sizeof out[0]);
		uint64_t next = 0;
		int rc, bad = 0;
		while ((rc = shmchan_recv_batch(rx, bufs, caps, lens, 1 + next % 32, &got, SHMCHAN_FOREVER)) == SHMCHAN_OK) {
			for (size_t i = 0; i < got; i++, next++)
				if (out[i][0] != next || lens[i] != 8 + (size_t)(next % 3) * 24) bad++;
		}
		pthread_join(t, NULL);
		CHECK_RC(s.rc, SHMCHAN_OK);
		CHECK_RC(rc, SHMCHAN_EOF);
		CHECK(bad == 0 && next == BATCH_COUNT);
		shmchan_stats st, sr;
		CHECK_RC(shmchan_channel_stats(ch, &st, &sr), SHMCHAN_OK);
		CHECK(st.messages == BATCH_COUNT && sr.messages == BATCH_COUNT);
		CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
		CHECK_RC(removed(n), SHMCHAN_OK);
	}
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "child") == 0) return child_role(argv[2], argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"strerror", test_strerror},
	    {"segment", test_segment},
	    {"channel_create_open", test_channel_create_open},
	    {"roles", test_roles},
	    {"send_recv", test_send_recv},
	    {"batch", test_batch},
	    {"batch_threads", test_batch_threads},
	    {"stats", test_stats},
	    {"receiver_close", test_receiver_close},
	    {"corrupt", test_corrupt},
	    {"fuzz", test_fuzz},
	    {"threads", test_threads},
	    {"processes", test_processes},
	    {"peer_gone", test_peer_gone},
	    {"wake_on_close", test_wake_on_close},
	    {"mailbox_create_open", test_mailbox_create_open},
	    {"mailbox_publish", test_mailbox_publish},
	    {"mailbox_corrupt", test_mailbox_corrupt},
	    {"mailbox_fuzz", test_mailbox_fuzz},
	    {"mailbox_threads", test_mailbox_threads},
	    {"mailbox_processes", test_mailbox_processes},
	    {"mailbox_writer_death", test_mailbox_writer_death},
	    {"mailbox_wake", test_mailbox_wake},
	    {"role_locks", test_role_locks},
#if !defined(_WIN32)
	    {"claim_close_race", test_claim_close_race},
	    {"fault_guard", test_fault_guard},
	    {"owner_check", test_owner_check},
#endif
	};
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int before = failures;
		current = tests[i].name;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tests[i].fn();
		cleanup();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		printf("%s %s (%.0f ms)\n", failures == before ? "ok  " : "FAIL", tests[i].name, ms);
	}
	if (failures) {
		printf("FAIL: %d check(s) failed\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
