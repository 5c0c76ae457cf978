/*
 * test_shmchan.c: unit tests of the C API, in one process (threads) and
 * across processes (fork). Run by `make check`, also under
 * -fsanitize=address,undefined. Every test removes what it creates: nothing
 * is left in /dev/shm.
 */
#define _GNU_SOURCE 1

#include "shmchan.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* name returns a fresh segment name and remembers it for cleanup. */
static const char *name(void) {
	char *n = names[nnames++ % 64];
	snprintf(n, 32, "shmchan-ct-%d-%d", (int)getpid(), nnames);
	return n;
}

static void cleanup(void) {
	for (int i = 0; i < nnames && i < 64; i++) shmchan_segment_remove(names[i]);
	nnames = 0;
}

static int shm_exists(const char *n) {
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/%s", n);
	struct stat st;
	return stat(path, &st) == 0;
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
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/%s", n);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	memcpy(shmchan_segment_data(s), "hello", 5);
	CHECK_RC(shmchan_segment_create(n, 10000, NULL, &s2), SHMCHAN_ERR_EXIST);
	CHECK(errno == EEXIST && s2 == NULL);
	CHECK_RC(shmchan_segment_open(n, NULL, &s2), SHMCHAN_OK);
	CHECK(shmchan_segment_size(s2) == 10000 && memcmp(shmchan_segment_data(s2), "hello", 5) == 0);
	CHECK_RC(shmchan_segment_close(s2), SHMCHAN_OK);
	int created = -1;
	CHECK_RC(shmchan_segment_open_or_create(n, 20000, NULL, &s2, &created), SHMCHAN_OK);
	CHECK(created == 0 && shmchan_segment_size(s2) == 10000);
	CHECK_RC(shmchan_segment_close(s2), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
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
	CHECK(memcmp(b, "SHMC", 4) == 0 && magic == SHMCHAN_MAGIC && version == 1 && hs == 4096);
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
	put32(b, SHMCHAN_OFF_VERSION, 2);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_VERSION_MISMATCH);
	put32(b, SHMCHAN_OFF_VERSION, 0);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_READY);
	put32(b, SHMCHAN_OFF_VERSION, 1);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);

	/* Plain segments are not channels: too small, or never initialised. */
	shmchan_segment *s;
	CHECK_RC(shmchan_segment_create(n, 100, NULL, &s), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_CHANNEL);
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_create(n, 8192, NULL, &s), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_open(n, &o, &ch2), SHMCHAN_ERR_NOT_READY); /* all zero: maybe a creator still at work */
	CHECK_RC(shmchan_segment_close(s), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);

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

	/* A dead owner's role passes on. */
	pid_t pid = fork();
	if (pid == 0) {
		shmchan_channel *c;
		shmchan_sender *t;
		if (shmchan_channel_open(n, NULL, &c) != SHMCHAN_OK) _exit(2);
		if (shmchan_channel_sender(c, &t) != SHMCHAN_ERR_BUSY) _exit(3);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);

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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);

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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
}

/* ---- Streams: threads and processes ------------------------------------------------ */

struct stream {
	const char *name;
	int wait;
	uint64_t count;
	size_t maxlen;
	int rc; /* result of the producer */
};

static int produce(const struct stream *s) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = s->wait;
	shmchan_channel *ch;
	shmchan_sender *tx;
	int rc = shmchan_channel_open(s->name, &o, &ch);
	if (rc != SHMCHAN_OK) return rc;
	rc = shmchan_channel_sender(ch, &tx);
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
	static const int modes[] = {SHMCHAN_WAIT_ADAPTIVE, SHMCHAN_WAIT_SPIN, SHMCHAN_WAIT_BLOCK};
	for (int m = 0; m < 3; m++) {
		const char *n = name();
		shmchan_options o;
		shmchan_options_init(&o);
		o.wait = modes[m];
		shmchan_channel *ch;
		shmchan_receiver *rx;
		CHECK_RC(shmchan_channel_create(n, 1 << 16, &o, &ch), SHMCHAN_OK);
		CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
		struct stream s = {n, modes[m], modes[m] == SHMCHAN_WAIT_SPIN ? 3000 : 30000, 1000, 0};
		pthread_t t;
		CHECK(pthread_create(&t, NULL, produce_thread, &s) == 0);
		int rc;
		int64_t got = consume(rx, s.maxlen, &rc);
		pthread_join(t, NULL);
		CHECK_RC(s.rc, SHMCHAN_OK);
		CHECK_RC(rc, SHMCHAN_EOF);
		CHECK(got == (int64_t)s.count);
		CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
		CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
		if (getenv("SHMCHAN_TEST_VERBOSE")) printf("     threads wait=%d done\n", modes[m]);
	}
}

static void test_processes(void) {
	const char *n = name();
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_channel *ch;
	shmchan_receiver *rx;
	CHECK_RC(shmchan_channel_create(n, 1 << 16, &o, &ch), SHMCHAN_OK);
	CHECK_RC(shmchan_channel_receiver(ch, &rx), SHMCHAN_OK);
	struct stream s = {n, SHMCHAN_WAIT_BLOCK, 50000, 3000, 0};
	pid_t pid = fork();
	if (pid == 0) _exit(produce(&s) == SHMCHAN_OK ? 0 : 1);
	int rc;
	int64_t got = consume(rx, s.maxlen, &rc);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_RC(rc, SHMCHAN_EOF);
	CHECK(got == (int64_t)s.count);
	CHECK_RC(shmchan_channel_close(ch), SHMCHAN_OK);
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
}

/* test_peer_gone kills the peer process, mid-wait, on each side. */
static void test_peer_gone(void) {
	static const int modes[] = {SHMCHAN_WAIT_ADAPTIVE, SHMCHAN_WAIT_SPIN, SHMCHAN_WAIT_BLOCK};
	for (int m = 0; m < 3; m++) {
		for (int side = 0; side < 2; side++) { /* 0: the child sends, 1: the child receives */
			const char *n = name();
			shmchan_options o;
			shmchan_options_init(&o);
			o.wait = modes[m];
			shmchan_channel *ch;
			CHECK_RC(shmchan_channel_create(n, 1024, &o, &ch), SHMCHAN_OK);
			int ready[2];
			CHECK(pipe(ready) == 0);
			pid_t pid = fork();
			if (pid == 0) {
				shmchan_channel *c;
				shmchan_sender *t;
				shmchan_receiver *r;
				if (shmchan_channel_open(n, NULL, &c) != SHMCHAN_OK) _exit(2);
				if (side == 0 ? shmchan_channel_sender(c, &t) : shmchan_channel_receiver(c, &r)) _exit(3);
				if (side == 0) shmchan_send(t, "last", 4, 0);
				if (write(ready[1], "x", 1) != 1) _exit(4);
				pause(); /* until killed: never closes */
				_exit(5);
			}
			char x;
			CHECK(read(ready[0], &x, 1) == 1);
			close(ready[0]);
			close(ready[1]);
			kill(pid, SIGKILL);
			int status;
			CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
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
			CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
		}
	}
}

/* test_wake_on_close checks that a parked receiver wakes at once when the sender closes. */
static void *close_later(void *arg) {
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
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
	CHECK_RC(shmchan_segment_remove(n), SHMCHAN_OK);
}

int main(void) {
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
	    {"receiver_close", test_receiver_close},
	    {"corrupt", test_corrupt},
	    {"fuzz", test_fuzz},
	    {"threads", test_threads},
	    {"processes", test_processes},
	    {"peer_gone", test_peer_gone},
	    {"wake_on_close", test_wake_on_close},
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
