/*
 * peer.c: the C side of the Go<->C interop tests (shm/c/interop). The Go
 * tests build it with cc into a temporary directory and run it as
 *
 *   peer MODE NAME [ARGS...]
 *
 * Every mode prints its outcome on standard output as "MODE: CODE TEXT"
 * (CODE is the shmchan error code, TEXT its shmchan_strerror), or "ready"
 * when it waits to be killed. The exit status is 0 when the mode's own checks
 * passed. Messages are "u64 seq, u64 FNV-1a of the rest, payload".
 *
 * Modes:
 *   recv NAME COUNT WAIT         claim the receiver, receive until EOF, check every message
 *   send NAME COUNT MAXLEN WAIT  claim the sender, send COUNT messages of 16..MAXLEN bytes, close
 *   recv-batch NAME COUNT WAIT   recv with shmchan_recv_batch, batches of up to 1..32 (cycling)
 *   send-batch NAME COUNT MAXLEN WAIT  send with shmchan_send_batch, batches of 1..32 (cycling)
 *   sink-batch NAME WAIT         sink with shmchan_recv_batch, up to 32 at a time
 *   create NAME CAPACITY         create a channel, print "ready", remove it when stdin closes
 *   open NAME                    open a channel and print the outcome and its capacity
 *   hold-sender NAME             claim the sender, send "last", print "ready", sleep (to be killed)
 *   hold-receiver NAME           claim the receiver, print "ready", sleep (to be killed)
 *   wait-recv NAME               claim the receiver, print "ready", receive until an error
 *   wait-send NAME               claim the sender, print "ready", send until an error
 *   recv-close NAME              claim the receiver, receive one message, close the receiving end
 *   echo IN OUT WAIT             claim both ends, print "ready", send every message on IN back on OUT until EOF
 *   sink NAME WAIT               claim the receiver, print "ready", receive until EOF, print the count and bytes
 *   contend-send NAME            claim the sender (print "busy" if BUSY), claim the receiver, receive
 *                                "last", print "waiting", receive until PEER_GONE (print "gone"), then
 *                                claim the sender until it is free (print "taken")
 *
 * Mailbox modes (values as mb_stamp makes them: see below):
 *   mb-write NAME COUNT MAX      open or create the mailbox, publish versions 1..COUNT, close it
 *   mb-create NAME COUNT MAX     create the mailbox, publish versions 1..COUNT on a second handle and
 *                                close that (closing the mailbox), print "ready", keep the first
 *                                handle until stdin closes (on Windows the name lives as long as a handle)
 *   mb-read NAME COUNT WAIT HOW  open the mailbox, print "ready", read until EOF (HOW: wait with
 *                                wait_newer, or poll with latest), check every value and that versions
 *                                only increase, then that latest gives EOF with version COUNT
 *   mb-hold NAME                 open the mailbox, publish the next 3 versions, print "ready", sleep
 *   mb-wait NAME                 open the mailbox, print "ready", wait for anything newer until an error
 *   mb-echo NAME                 open the mailbox (block), print "got V" for each version it waits for,
 *                                until EOF: a parked reader for the wake-latency test
 *   mb-step NAME                 open the mailbox, publish the next version for each line on stdin,
 *                                until stdin closes, then close (the mailbox too)
 *
 * WAIT is spin, block or adaptive.
 *
 * It builds for Windows too (x86_64-w64-mingw32-gcc, see .ci/windows.sh),
 * where the Go tests take a prebuilt copy from SHMCHAN_C_PEER.
 */
#define _GNU_SOURCE 1

#include "shmchan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(_WIN32)
#include <windows.h>
#endif

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

static int wait_mode(const char *s) {
	if (strcmp(s, "spin") == 0) return SHMCHAN_WAIT_SPIN;
	if (strcmp(s, "block") == 0) return SHMCHAN_WAIT_BLOCK;
	return SHMCHAN_WAIT_ADAPTIVE;
}

static void report(const char *mode, int rc) {
	printf("%s: %d %s\n", mode, rc, shmchan_strerror(rc));
	fflush(stdout);
}

static void ready(void) {
	printf("ready\n");
	fflush(stdout);
}

static void sleep_forever(void) {
#if defined(_WIN32)
	for (;;) Sleep(1000); /* until TerminateProcess */
#else
	for (;;) pause();
#endif
}

static int open_end(const char *name, int wait, int sender, shmchan_channel **ch, shmchan_sender **tx,
                    shmchan_receiver **rx) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = wait;
	int rc = shmchan_channel_open(name, &o, ch);
	if (rc != SHMCHAN_OK) return rc;
	rc = sender ? shmchan_channel_sender(*ch, tx) : shmchan_channel_receiver(*ch, rx);
	if (rc != SHMCHAN_OK) {
		shmchan_channel_close(*ch);
		*ch = NULL;
	}
	return rc;
}

/* The most messages a batch mode moves per call. */
#define BATCH_MAX 32

/* check_message checks a "seq, checksum, payload" message; it counts a bad one in *bad and reports the
 * first five on stderr. */
static void check_message(const char *mode, const uint8_t *msg, size_t len, uint64_t want, uint64_t *bad) {
	uint64_t seq = UINT64_MAX, sum = 0;
	if (len >= 16) {
		memcpy(&seq, msg, 8);
		memcpy(&sum, msg + 8, 8);
	}
	if (seq != want || sum != fnv1a(msg + 16, len - 16)) {
		if ((*bad)++ < 5)
			fprintf(stderr, "peer %s: message %llu: seq %llu, len %zu, checksum %s\n", mode,
			        (unsigned long long)want, (unsigned long long)seq, len,
			        len >= 16 && sum == fnv1a(msg + 16, len - 16) ? "ok" : "BAD");
	}
}

/* make_message writes message seq into buf: 16..maxlen bytes (the length and the payload drawn from
 * *rng), seq and the payload's checksum first. It returns the length. */
static size_t make_message(uint8_t *buf, uint64_t seq, size_t maxlen, uint64_t *rng) {
	size_t n = 16 + (size_t)(rng_next(rng) % (maxlen - 16 + 1));
	for (size_t j = 16; j < n; j++) buf[j] = (uint8_t)rng_next(rng);
	uint64_t sum = fnv1a(buf + 16, n - 16);
	memcpy(buf, &seq, 8);
	memcpy(buf + 8, &sum, 8);
	return n;
}

/* batch_bufs points bufs[i] at the i-th of BATCH_MAX buffers of cap bytes, which it allocates in one
 * block, and sets caps[i] to cap. It returns the block, for free. */
static uint8_t *batch_bufs(size_t cap, void **bufs, size_t *caps) {
	uint8_t *mem = (uint8_t *)malloc(cap * BATCH_MAX);
	for (int i = 0; i < BATCH_MAX; i++) {
		bufs[i] = mem + (size_t)i * cap;
		caps[i] = cap;
	}
	return mem;
}

/* mode_recv receives until EOF, checking sequence numbers and checksums. */
static int mode_recv(const char *name, uint64_t count, int wait) {
	shmchan_channel *ch;
	shmchan_receiver *rx;
	int rc = open_end(name, wait, 0, &ch, NULL, &rx);
	if (rc != SHMCHAN_OK) {
		report("recv", rc);
		return 1;
	}
	size_t cap = (size_t)shmchan_channel_max_message(ch);
	uint8_t *buf = (uint8_t *)malloc(cap);
	uint64_t want = 0, bad = 0;
	for (;;) {
		size_t len;
		const uint8_t *msg;
		if (want % 2 == 0) {
			rc = shmchan_recv(rx, buf, cap, &len, SHMCHAN_FOREVER);
			msg = buf;
		} else {
			const void *m;
			rc = shmchan_peek(rx, &m, &len, SHMCHAN_FOREVER);
			msg = (const uint8_t *)m;
		}
		if (rc != SHMCHAN_OK) break;
		check_message("recv", msg, len, want, &bad);
		if (want % 2 == 1 && (rc = shmchan_release(rx)) != SHMCHAN_OK) break;
		want++;
	}
	free(buf);
	shmchan_channel_close(ch);
	printf("received %llu bad %llu\n", (unsigned long long)want, (unsigned long long)bad);
	report("recv", rc);
	return rc == SHMCHAN_EOF && want == count && bad == 0 ? 0 : 1;
}

/* mode_send sends count messages of random sizes, alternating send and reserve+commit. */
static int mode_send(const char *name, uint64_t count, size_t maxlen, int wait) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	int rc = open_end(name, wait, 1, &ch, &tx, NULL);
	if (rc != SHMCHAN_OK) {
		report("send", rc);
		return 1;
	}
	if (maxlen > shmchan_channel_max_message(ch)) maxlen = (size_t)shmchan_channel_max_message(ch);
	uint8_t *buf = (uint8_t *)malloc(maxlen);
	uint64_t rng = (uint64_t)getpid() * UINT64_C(0x9E3779B97F4A7C15) | 1;
	for (uint64_t i = 0; i < count && rc == SHMCHAN_OK; i++) {
		size_t n = make_message(buf, i, maxlen, &rng);
		if (i % 2 == 0) {
			rc = shmchan_send(tx, buf, n, SHMCHAN_FOREVER);
		} else {
			void *p;
			rc = shmchan_reserve(tx, n, &p, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK) {
				memcpy(p, buf, n);
				rc = shmchan_commit(tx, n);
			}
		}
	}
	free(buf);
	if (rc == SHMCHAN_OK) rc = shmchan_sender_close(tx);
	shmchan_channel_close(ch);
	report("send", rc);
	return rc == SHMCHAN_OK ? 0 : 1;
}

/* mode_recv_batch is mode_recv through shmchan_recv_batch, asking for 1..32 messages a call. */
static int mode_recv_batch(const char *name, uint64_t count, int wait) {
	shmchan_channel *ch;
	shmchan_receiver *rx;
	int rc = open_end(name, wait, 0, &ch, NULL, &rx);
	if (rc != SHMCHAN_OK) {
		report("recv-batch", rc);
		return 1;
	}
	void *bufs[BATCH_MAX];
	size_t caps[BATCH_MAX], lens[BATCH_MAX];
	uint8_t *mem = batch_bufs((size_t)shmchan_channel_max_message(ch), bufs, caps);
	uint64_t want = 0, bad = 0, calls = 0;
	for (;; calls++) {
		size_t got;
		rc = shmchan_recv_batch(rx, bufs, caps, lens, 1 + (size_t)(calls % BATCH_MAX), &got, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		for (size_t i = 0; i < got; i++, want++) check_message("recv-batch", bufs[i], lens[i], want, &bad);
	}
	free(mem);
	shmchan_channel_close(ch);
	printf("received %llu bad %llu\n", (unsigned long long)want, (unsigned long long)bad);
	report("recv-batch", rc);
	return rc == SHMCHAN_EOF && want == count && bad == 0 ? 0 : 1;
}

/* mode_send_batch is mode_send through shmchan_send_batch, offering 1..32 messages a call. */
static int mode_send_batch(const char *name, uint64_t count, size_t maxlen, int wait) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	int rc = open_end(name, wait, 1, &ch, &tx, NULL);
	if (rc != SHMCHAN_OK) {
		report("send-batch", rc);
		return 1;
	}
	if (maxlen > shmchan_channel_max_message(ch)) maxlen = (size_t)shmchan_channel_max_message(ch);
	uint8_t *mem = (uint8_t *)malloc(maxlen * BATCH_MAX);
	const void *msgs[BATCH_MAX];
	size_t lens[BATCH_MAX];
	uint64_t rng = (uint64_t)getpid() * UINT64_C(0x9E3779B97F4A7C15) | 1, calls = 0;
	for (uint64_t i = 0; i < count && rc == SHMCHAN_OK; calls++) {
		size_t k = 1 + (size_t)(calls % BATCH_MAX);
		if (k > count - i) k = (size_t)(count - i);
		for (size_t j = 0; j < k; j++) {
			uint8_t *buf = mem + j * maxlen;
			msgs[j] = buf;
			lens[j] = make_message(buf, i + j, maxlen, &rng);
		}
		/* Send the whole batch: each call sends what fits. */
		for (size_t off = 0; off < k && rc == SHMCHAN_OK;) {
			size_t sent;
			rc = shmchan_send_batch(tx, msgs + off, lens + off, k - off, &sent, SHMCHAN_FOREVER);
			off += sent;
		}
		i += k;
	}
	free(mem);
	if (rc == SHMCHAN_OK) rc = shmchan_sender_close(tx);
	shmchan_channel_close(ch);
	report("send-batch", rc);
	return rc == SHMCHAN_OK ? 0 : 1;
}

static int mode_create(const char *name, uint64_t capacity) {
	shmchan_channel *ch;
	int rc = shmchan_channel_create(name, capacity, NULL, &ch);
	if (rc != SHMCHAN_OK) {
		report("create", rc);
		return 1;
	}
	ready();
	char b[64];
	while (read(0, b, sizeof b) > 0) {
	}
	shmchan_channel_close(ch);
	shmchan_segment_remove(name);
	return 0;
}

static int mode_open(const char *name) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.open_timeout_ns = 100 * INT64_C(1000000);
	shmchan_channel *ch;
	int rc = shmchan_channel_open(name, &o, &ch);
	report("open", rc);
	if (rc != SHMCHAN_OK) return 0;
	printf("capacity %llu max %llu\n", (unsigned long long)shmchan_channel_capacity(ch),
	       (unsigned long long)shmchan_channel_max_message(ch));
	shmchan_channel_close(ch);
	return 0;
}

static int mode_hold(const char *name, int sender) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	int rc = open_end(name, SHMCHAN_WAIT_BLOCK, sender, &ch, &tx, &rx);
	if (rc == SHMCHAN_OK && sender) rc = shmchan_send(tx, "last", 4, SHMCHAN_FOREVER);
	if (rc != SHMCHAN_OK) {
		report("hold", rc);
		return 1;
	}
	ready();
	sleep_forever();
	return 1;
}

/* mode_wait waits on the channel until an error, and reports it: the peer's death, say. */
static int mode_wait(const char *name, int sender) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	int rc = open_end(name, SHMCHAN_WAIT_BLOCK, sender, &ch, &tx, &rx);
	if (rc != SHMCHAN_OK) {
		report(sender ? "wait-send" : "wait-recv", rc);
		return 1;
	}
	ready();
	uint8_t buf[64];
	size_t len;
	memset(buf, 'x', sizeof buf);
	do {
		rc = sender ? shmchan_send(tx, buf, 16, SHMCHAN_FOREVER)
		            : shmchan_recv(rx, buf, sizeof buf, &len, SHMCHAN_FOREVER);
	} while (rc == SHMCHAN_OK);
	shmchan_channel_close(ch);
	report(sender ? "wait-send" : "wait-recv", rc);
	return 0;
}

/* mode_contend_send contends for a sender role that another process holds, then takes it when that one dies. */
static int mode_contend_send(const char *name) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	int rc = shmchan_channel_open(name, &o, &ch);
	if (rc != SHMCHAN_OK) {
		report("contend-send open", rc);
		return 1;
	}
	rc = shmchan_channel_sender(ch, &tx);
	report(rc == SHMCHAN_ERR_BUSY ? "busy" : "contend-send sender", rc);
	if (rc != SHMCHAN_ERR_BUSY) return 1;
	uint8_t buf[64];
	size_t len = 0;
	if ((rc = shmchan_channel_receiver(ch, &rx)) != SHMCHAN_OK ||
	    (rc = shmchan_recv(rx, buf, sizeof buf, &len, SHMCHAN_FOREVER)) != SHMCHAN_OK || len != 4 ||
	    memcmp(buf, "last", 4) != 0) {
		report("contend-send recv", rc);
		return 1;
	}
	printf("waiting\n");
	fflush(stdout);
	rc = shmchan_recv(rx, buf, sizeof buf, &len, SHMCHAN_FOREVER);
	report(rc == SHMCHAN_ERR_PEER_GONE ? "gone" : "contend-send recv after the kill", rc);
	if (rc != SHMCHAN_ERR_PEER_GONE) return 1;
	while ((rc = shmchan_channel_sender(ch, &tx)) == SHMCHAN_ERR_BUSY) {
#if defined(_WIN32)
		Sleep(1);
#else
		usleep(1000);
#endif
	}
	report(rc == SHMCHAN_OK ? "taken" : "contend-send sender after the kill", rc);
	shmchan_channel_close(ch);
	return rc == SHMCHAN_OK ? 0 : 1;
}

/* mode_recv_close receives one message and closes the receiving end: the sender gets CLOSED. */
static int mode_recv_close(const char *name) {
	shmchan_channel *ch;
	shmchan_receiver *rx;
	int rc = open_end(name, SHMCHAN_WAIT_BLOCK, 0, &ch, NULL, &rx);
	if (rc == SHMCHAN_OK) {
		uint8_t buf[64];
		size_t len;
		rc = shmchan_recv(rx, buf, sizeof buf, &len, SHMCHAN_FOREVER);
		int crc = shmchan_receiver_close(rx);
		if (rc == SHMCHAN_OK) rc = crc;
		shmchan_channel_close(ch);
	}
	report("recv-close", rc);
	return rc == SHMCHAN_OK ? 0 : 1;
}

/* mode_echo sends every message received on in back on out, until EOF on in. */
static int mode_echo(const char *in, const char *out, int wait) {
	shmchan_channel *cin, *cout;
	shmchan_receiver *rx;
	shmchan_sender *tx;
	int rc = open_end(in, wait, 0, &cin, NULL, &rx);
	if (rc != SHMCHAN_OK) {
		report("echo", rc);
		return 1;
	}
	rc = open_end(out, wait, 1, &cout, &tx, NULL);
	if (rc != SHMCHAN_OK) {
		shmchan_channel_close(cin);
		report("echo", rc);
		return 1;
	}
	ready();
	for (;;) {
		const void *m;
		size_t len;
		rc = shmchan_peek(rx, &m, &len, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		rc = shmchan_send(tx, m, len, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		rc = shmchan_release(rx);
		if (rc != SHMCHAN_OK) break;
	}
	shmchan_channel_close(cout);
	shmchan_channel_close(cin);
	report("echo", rc);
	return rc == SHMCHAN_EOF ? 0 : 1;
}

/* mode_sink receives until EOF and reports the count and bytes: the throughput peer. */
static int mode_sink(const char *name, int wait) {
	shmchan_channel *ch;
	shmchan_receiver *rx;
	int rc = open_end(name, wait, 0, &ch, NULL, &rx);
	if (rc != SHMCHAN_OK) {
		report("sink", rc);
		return 1;
	}
	ready();
	uint64_t n = 0, bytes = 0;
	for (;;) {
		const void *m;
		size_t len;
		rc = shmchan_peek(rx, &m, &len, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		bytes += len;
		n++;
		if ((rc = shmchan_release(rx)) != SHMCHAN_OK) break;
	}
	shmchan_channel_close(ch);
	printf("sink %llu %llu\n", (unsigned long long)n, (unsigned long long)bytes);
	report("sink", rc);
	return rc == SHMCHAN_EOF ? 0 : 1;
}

/* mode_sink_batch is mode_sink through shmchan_recv_batch, up to 32 a call: the batch throughput peer. */
static int mode_sink_batch(const char *name, int wait) {
	shmchan_channel *ch;
	shmchan_receiver *rx;
	int rc = open_end(name, wait, 0, &ch, NULL, &rx);
	if (rc != SHMCHAN_OK) {
		report("sink-batch", rc);
		return 1;
	}
	void *bufs[BATCH_MAX];
	size_t caps[BATCH_MAX], lens[BATCH_MAX];
	uint8_t *mem = batch_bufs((size_t)shmchan_channel_max_message(ch), bufs, caps);
	ready();
	uint64_t n = 0, bytes = 0;
	for (;;) {
		size_t got;
		rc = shmchan_recv_batch(rx, bufs, caps, lens, BATCH_MAX, &got, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		for (size_t i = 0; i < got; i++) bytes += lens[i];
		n += got;
	}
	free(mem);
	shmchan_channel_close(ch);
	printf("sink %llu %llu\n", (unsigned long long)n, (unsigned long long)bytes);
	report("sink-batch", rc);
	return rc == SHMCHAN_EOF ? 0 : 1;
}

/* ---- Mailbox ---------------------------------------------------------------------- */

/*
 * mb_stamp fills the value of version v for a mailbox of max bytes (max >= 16):
 * n = 16 + v*7919 % (max-15) bytes; u64 v, u64 FNV-1a of the rest, then
 * xorshift bytes seeded by v. The Go tests make the same bytes (mbValue).
 */
static size_t mb_stamp(uint8_t *buf, uint64_t v, uint64_t max) {
	size_t n = 16 + (size_t)(v * 7919 % (max - 15));
	uint64_t s = v * UINT64_C(0x9E3779B97F4A7C15) | 1;
	memcpy(buf, &v, 8);
	for (size_t i = 16; i < n; i++) buf[i] = (uint8_t)rng_next(&s);
	uint64_t sum = fnv1a(buf + 16, n - 16);
	memcpy(buf + 8, &sum, 8);
	return n;
}

static int mb_valid(const uint8_t *buf, size_t n, uint64_t v, uint64_t max, uint8_t *scratch) {
	return n == mb_stamp(scratch, v, max) && memcmp(buf, scratch, n) == 0;
}

static int mode_mb_write(const char *name, uint64_t count, uint64_t max) {
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open_or_create(name, max, NULL, &mb, NULL);
	if (rc != SHMCHAN_OK) {
		report("mb-write", rc);
		return 1;
	}
	uint8_t *buf = (uint8_t *)malloc((size_t)max);
	for (uint64_t i = 1; i <= count && rc == SHMCHAN_OK; i++) {
		uint64_t v;
		rc = shmchan_mailbox_publish(mb, buf, mb_stamp(buf, i, max), &v);
		if (rc == SHMCHAN_OK && v != i) {
			fprintf(stderr, "peer mb-write: published version %llu, want %llu\n", (unsigned long long)v,
			        (unsigned long long)i);
			rc = SHMCHAN_ERR_CORRUPT;
		}
	}
	free(buf);
	int crc = shmchan_mailbox_close(mb);
	if (rc == SHMCHAN_OK) rc = crc;
	report("mb-write", rc);
	return rc == SHMCHAN_OK ? 0 : 1;
}

static int mode_mb_create(const char *name, uint64_t count, uint64_t max) {
	shmchan_mailbox *keep, *mb = NULL;
	int rc = shmchan_mailbox_create(name, max, NULL, &keep);
	if (rc == SHMCHAN_OK) rc = shmchan_mailbox_open(name, NULL, &mb);
	uint8_t *buf = (uint8_t *)malloc((size_t)max);
	for (uint64_t i = 1; i <= count && rc == SHMCHAN_OK; i++) {
		uint64_t v;
		rc = shmchan_mailbox_publish(mb, buf, mb_stamp(buf, i, max), &v);
	}
	free(buf);
	if (mb != NULL) {
		int crc = shmchan_mailbox_close(mb);
		if (rc == SHMCHAN_OK) rc = crc;
	}
	if (rc != SHMCHAN_OK) {
		report("mb-create", rc);
		return 1;
	}
	ready();
	char b[64];
	while (read(0, b, sizeof b) > 0) {
	}
	shmchan_mailbox_close(keep);
	shmchan_segment_remove(name);
	return 0;
}

static int mode_mb_read(const char *name, uint64_t count, int wait, int poll) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = wait;
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, &o, &mb);
	if (rc != SHMCHAN_OK) {
		report("mb-read", rc);
		return 1;
	}
	ready();
	size_t max = (size_t)shmchan_mailbox_max_value(mb);
	uint8_t *buf = (uint8_t *)malloc(max), *scratch = (uint8_t *)malloc(max);
	uint64_t last = 0, seen = 0, torn = 0;
	for (;;) {
		size_t len;
		uint64_t v;
		rc = poll ? shmchan_mailbox_latest(mb, buf, max, &len, &v)
		          : shmchan_mailbox_wait_newer(mb, last, buf, max, &len, &v, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK && !(poll && rc == SHMCHAN_EOF)) break;
		if (v < last || (!poll && v == last)) {
			if (torn++ < 5)
				fprintf(stderr, "peer mb-read: version %llu after %llu\n", (unsigned long long)v,
				        (unsigned long long)last);
		}
		if (v > last) {
			if (!mb_valid(buf, len, v, max, scratch) && torn++ < 5)
				fprintf(stderr, "peer mb-read: version %llu: torn or wrong value of %zu bytes\n",
				        (unsigned long long)v, len);
			seen++;
			last = v;
		}
		if (rc == SHMCHAN_EOF) break;
	}
	/* Once closed, latest still gives the final value, with EOF. */
	if (rc == SHMCHAN_EOF) {
		size_t len;
		uint64_t v;
		int lrc = shmchan_mailbox_latest(mb, buf, max, &len, &v);
		if (lrc != SHMCHAN_EOF || v != last || !mb_valid(buf, len, v, max, scratch)) {
			fprintf(stderr, "peer mb-read: latest after EOF: %d, version %llu\n", lrc, (unsigned long long)v);
			torn++;
		}
	}
	free(buf);
	free(scratch);
	shmchan_mailbox_close(mb);
	printf("mb-read seen %llu last %llu torn %llu\n", (unsigned long long)seen, (unsigned long long)last,
	       (unsigned long long)torn);
	report("mb-read", rc);
	return rc == SHMCHAN_EOF && last == count && torn == 0 ? 0 : 1;
}

static int mode_mb_hold(const char *name) {
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, NULL, &mb);
	uint64_t v = 0, max = shmchan_mailbox_max_value(mb);
	if (rc == SHMCHAN_OK) rc = shmchan_mailbox_version(mb, &v);
	uint8_t *buf = (uint8_t *)malloc(max > 0 ? (size_t)max : 1);
	for (uint64_t i = v + 1; i <= v + 3 && rc == SHMCHAN_OK; i++) {
		uint64_t got;
		rc = shmchan_mailbox_publish(mb, buf, mb_stamp(buf, i, max), &got);
	}
	free(buf);
	if (rc != SHMCHAN_OK) {
		report("mb-hold", rc);
		return 1;
	}
	ready();
	sleep_forever();
	return 1;
}

static int mode_mb_wait(const char *name) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, &o, &mb);
	if (rc != SHMCHAN_OK) {
		report("mb-wait", rc);
		return 1;
	}
	uint64_t v = 0;
	size_t len, max = (size_t)shmchan_mailbox_max_value(mb);
	uint8_t *buf = (uint8_t *)malloc(max);
	rc = shmchan_mailbox_version(mb, &v);
	ready();
	while (rc == SHMCHAN_OK) {
		uint64_t got;
		rc = shmchan_mailbox_wait_newer(mb, v, buf, max, &len, &got, SHMCHAN_FOREVER);
		if (rc == SHMCHAN_OK) v = got;
	}
	free(buf);
	printf("mb-wait last %llu\n", (unsigned long long)v);
	shmchan_mailbox_close(mb);
	report("mb-wait", rc);
	return 0;
}

static int mode_mb_echo(const char *name) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, &o, &mb);
	uint64_t v = 0;
	size_t len, max = (size_t)shmchan_mailbox_max_value(mb);
	uint8_t *buf = (uint8_t *)malloc(max > 0 ? max : 1);
	if (rc == SHMCHAN_OK) ready();
	while (rc == SHMCHAN_OK) {
		rc = shmchan_mailbox_wait_newer(mb, v, buf, max, &len, &v, SHMCHAN_FOREVER);
		if (rc == SHMCHAN_OK) {
			printf("got %llu\n", (unsigned long long)v);
			fflush(stdout);
		}
	}
	free(buf);
	shmchan_mailbox_close(mb);
	report("mb-echo", rc);
	return rc == SHMCHAN_EOF ? 0 : 1;
}

static int mode_mb_step(const char *name) {
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, NULL, &mb);
	uint64_t max = shmchan_mailbox_max_value(mb), v = 0;
	uint8_t *buf = (uint8_t *)malloc(max > 0 ? (size_t)max : 1);
	if (rc == SHMCHAN_OK) ready();
	char line[64];
	while (rc == SHMCHAN_OK && fgets(line, sizeof line, stdin) != NULL)
		rc = shmchan_mailbox_publish(mb, buf, mb_stamp(buf, v + 1, max), &v);
	free(buf);
	int crc = shmchan_mailbox_close(mb);
	if (rc == SHMCHAN_OK) rc = crc;
	report("mb-step", rc);
	return rc == SHMCHAN_OK ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: peer MODE NAME [ARGS...]\n");
		return 2;
	}
	const char *mode = argv[1], *name = argv[2];
	if (strcmp(mode, "recv") == 0 && argc == 5) return mode_recv(name, strtoull(argv[3], NULL, 10), wait_mode(argv[4]));
	if (strcmp(mode, "send") == 0 && argc == 6)
		return mode_send(name, strtoull(argv[3], NULL, 10), (size_t)strtoull(argv[4], NULL, 10), wait_mode(argv[5]));
	if (strcmp(mode, "create") == 0 && argc == 4) return mode_create(name, strtoull(argv[3], NULL, 10));
	if (strcmp(mode, "open") == 0 && argc == 3) return mode_open(name);
	if (strcmp(mode, "hold-sender") == 0 && argc == 3) return mode_hold(name, 1);
	if (strcmp(mode, "hold-receiver") == 0 && argc == 3) return mode_hold(name, 0);
	if (strcmp(mode, "wait-recv") == 0 && argc == 3) return mode_wait(name, 0);
	if (strcmp(mode, "wait-send") == 0 && argc == 3) return mode_wait(name, 1);
	if (strcmp(mode, "recv-close") == 0 && argc == 3) return mode_recv_close(name);
	if (strcmp(mode, "contend-send") == 0 && argc == 3) return mode_contend_send(name);
	if (strcmp(mode, "echo") == 0 && argc == 5) return mode_echo(name, argv[3], wait_mode(argv[4]));
	if (strcmp(mode, "sink") == 0 && argc == 4) return mode_sink(name, wait_mode(argv[3]));
	if (strcmp(mode, "sink-batch") == 0 && argc == 4) return mode_sink_batch(name, wait_mode(argv[3]));
	if (strcmp(mode, "recv-batch") == 0 && argc == 5)
		return mode_recv_batch(name, strtoull(argv[3], NULL, 10), wait_mode(argv[4]));
	if (strcmp(mode, "send-batch") == 0 && argc == 6)
		return mode_send_batch(name, strtoull(argv[3], NULL, 10), (size_t)strtoull(argv[4], NULL, 10),
		                       wait_mode(argv[5]));
	if (strcmp(mode, "mb-write") == 0 && argc == 5)
		return mode_mb_write(name, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	if (strcmp(mode, "mb-create") == 0 && argc == 5)
		return mode_mb_create(name, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	if (strcmp(mode, "mb-read") == 0 && argc == 6)
		return mode_mb_read(name, strtoull(argv[3], NULL, 10), wait_mode(argv[4]), strcmp(argv[5], "poll") == 0);
	if (strcmp(mode, "mb-hold") == 0 && argc == 3) return mode_mb_hold(name);
	if (strcmp(mode, "mb-echo") == 0 && argc == 3) return mode_mb_echo(name);
	if (strcmp(mode, "mb-step") == 0 && argc == 3) return mode_mb_step(name);
	if (strcmp(mode, "mb-wait") == 0 && argc == 3) return mode_mb_wait(name);
	fprintf(stderr, "peer: bad arguments for mode %s\n", mode);
	return 2;
}
