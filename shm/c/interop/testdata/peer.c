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
 *   create NAME CAPACITY         create a channel, print "ready", remove it when stdin closes
 *   open NAME                    open a channel and print the outcome and its capacity
 *   hold-sender NAME             claim the sender, send "last", print "ready", sleep (to be killed)
 *   hold-receiver NAME           claim the receiver, print "ready", sleep (to be killed)
 *   wait-recv NAME               claim the receiver, print "ready", receive until an error
 *   wait-send NAME               claim the sender, print "ready", send until an error
 *   recv-close NAME              claim the receiver, receive one message, close the receiving end
 *   echo IN OUT WAIT             claim both ends, print "ready", send every message on IN back on OUT until EOF
 *   sink NAME WAIT               claim the receiver, print "ready", receive until EOF, print the count and bytes
 *
 * WAIT is spin, block or adaptive.
 */
#define _GNU_SOURCE 1

#include "shmchan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	for (;;) pause();
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
		uint64_t seq = UINT64_MAX, sum = 0;
		if (len >= 16) {
			memcpy(&seq, msg, 8);
			memcpy(&sum, msg + 8, 8);
		}
		if (seq != want || sum != fnv1a(msg + 16, len - 16)) {
			if (bad++ < 5)
				fprintf(stderr, "peer recv: message %llu: seq %llu, len %zu, checksum %s\n",
				        (unsigned long long)want, (unsigned long long)seq, len,
				        len >= 16 && sum == fnv1a(msg + 16, len - 16) ? "ok" : "BAD");
		}
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
		size_t n = 16 + (size_t)(rng_next(&rng) % (maxlen - 16 + 1));
		for (size_t j = 16; j < n; j++) buf[j] = (uint8_t)rng_next(&rng);
		uint64_t sum = fnv1a(buf + 16, n - 16);
		memcpy(buf, &i, 8);
		memcpy(buf + 8, &sum, 8);
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
	if (strcmp(mode, "echo") == 0 && argc == 5) return mode_echo(name, argv[3], wait_mode(argv[4]));
	if (strcmp(mode, "sink") == 0 && argc == 4) return mode_sink(name, wait_mode(argv[3]));
	fprintf(stderr, "peer: bad arguments for mode %s\n", mode);
	return 2;
}
