/*
 * golden.c: the C side of shm/c/interop's conformance tests (golden_test.go,
 * corpus_test.go). The Go tests build it with cc (and again under ASan and
 * UBSan for the corpus) and run it as
 *
 *   golden script DIR CHAN MBOX   run the golden script (below) on a new channel CHAN
 *                                 and a new mailbox MBOX, writing each snapshot's raw
 *                                 bytes to DIR/NAME.img
 *   golden read-chan NAME         open the channel, claim the receiver, receive until an error
 *   golden send-chan NAME         open the channel, claim the sender, try 8 sends
 *   golden read-mbox NAME         open the mailbox, copy the newest value
 *
 * The read modes print one line per message ("msg HEX"), value ("value V
 * HEX") or send ("sent N"), and last "end CODE" (CODE as in codename). The Go
 * twin of each mode (golden_test.go) prints exactly the same lines for the
 * same image, which is what the tests compare.
 *
 * The script must stay step for step the one of golden_test.go's goScript:
 * a change to either is a change to the checked-in images (testdata/golden).
 */
#define _GNU_SOURCE 1

#include "shmchan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* codename names a shmchan code as the Go side names its error. */
static const char *codename(int rc) {
	static char buf[32];
	switch (rc) {
	case SHMCHAN_OK: return "ok";
	case SHMCHAN_EOF: return "eof";
	case SHMCHAN_ERR_CLOSED: return "closed";
	case SHMCHAN_ERR_BUSY: return "busy";
	case SHMCHAN_ERR_FULL: return "full";
	case SHMCHAN_ERR_EMPTY: return "empty";
	case SHMCHAN_ERR_TOO_LARGE: return "too_large";
	case SHMCHAN_ERR_PEER_GONE: return "peer_gone";
	case SHMCHAN_ERR_CORRUPT: return "corrupt";
	case SHMCHAN_ERR_NOT_CHANNEL: return "not_channel";
	case SHMCHAN_ERR_VERSION_MISMATCH: return "version_mismatch";
	case SHMCHAN_ERR_NOT_READY: return "not_ready";
	case SHMCHAN_ERR_INVALID_SIZE: return "invalid_size";
	}
	snprintf(buf, sizeof buf, "code%d", rc);
	return buf;
}

/* payload fills p with message k's n bytes: byte i is k*37 + i*11 + 1 (golden_test.go's payload). */
static void payload(uint8_t *p, int k, size_t n) {
	for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(k * 37 + i * 11 + 1);
}

static void hex(const char *prefix, const uint8_t *p, size_t n) {
	fputs(prefix, stdout);
	for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
	putchar('\n');
}

static void die(const char *what, int rc) {
	fprintf(stderr, "golden: %s: %s\n", what, shmchan_strerror(rc));
	exit(1);
}

/* snapshot copies the object NAME, as it is now, into DIR/SNAP.img, through a mapping of its own. */
static void snapshot(const char *dir, const char *name, const char *snap) {
	shmchan_segment *seg;
	int rc = shmchan_segment_open(name, NULL, &seg);
	if (rc != SHMCHAN_OK) die("snapshot open", rc);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.img", dir, snap);
	FILE *f = fopen(path, "wb");
	if (f == NULL) die("snapshot create file", SHMCHAN_ERR_SYSTEM);
	if (fwrite(shmchan_segment_data(seg), 1, (size_t)shmchan_segment_size(seg), f) != shmchan_segment_size(seg))
		die("snapshot write", SHMCHAN_ERR_SYSTEM);
	fclose(f);
	shmchan_segment_close(seg);
}

static void send_k(shmchan_sender *tx, int k, size_t n) {
	uint8_t buf[512];
	payload(buf, k, n);
	int rc = shmchan_try_send(tx, buf, n);
	if (rc != SHMCHAN_OK) die("send", rc);
}

static void recv_k(shmchan_receiver *rx, int k, size_t n) {
	uint8_t buf[512], want[512];
	size_t len;
	int rc = shmchan_try_recv(rx, buf, sizeof buf, &len);
	if (rc != SHMCHAN_OK) die("recv", rc);
	payload(want, k, n);
	if (len != n || memcmp(buf, want, n) != 0) {
		fprintf(stderr, "golden: message %d: got %zu bytes, want %zu\n", k, len, n);
		exit(1);
	}
}

/* The script: see golden_test.go's goScript, step for step. */
static int script(const char *dir, const char *cname, const char *mname) {
	shmchan_channel *ch;
	shmchan_sender *tx;
	shmchan_receiver *rx;
	int rc = shmchan_channel_create(cname, SHMCHAN_MIN_CAPACITY, NULL, &ch);
	if (rc != SHMCHAN_OK) die("channel create", rc);
	if ((rc = shmchan_channel_sender(ch, &tx)) != SHMCHAN_OK) die("sender", rc);
	if ((rc = shmchan_channel_receiver(ch, &rx)) != SHMCHAN_OK) die("receiver", rc);
	snapshot(dir, cname, "chan-0-created");
	send_k(tx, 0, 100);
	send_k(tx, 1, 200);
	send_k(tx, 2, 1);
	snapshot(dir, cname, "chan-1-sent");
	recv_k(rx, 0, 100);
	recv_k(rx, 1, 200);
	recv_k(rx, 2, 1);
	send_k(tx, 3, 400);
	send_k(tx, 4, 300); /* does not fit before the end: padding at 744, the record at 0 */
	snapshot(dir, cname, "chan-2-wrapped");
	recv_k(rx, 3, 400);
	recv_k(rx, 4, 300);
	send_k(tx, 5, 0);
	send_k(tx, 6, 5);
	recv_k(rx, 5, 0);
	if ((rc = shmchan_sender_close(tx)) != SHMCHAN_OK) die("sender close", rc);
	snapshot(dir, cname, "chan-3-closed");
	shmchan_channel_close(ch);

	static const size_t sizes[] = {10, 100, 1, 64, 33};
	shmchan_mailbox *mb;
	if ((rc = shmchan_mailbox_create(mname, 100, NULL, &mb)) != SHMCHAN_OK) die("mailbox create", rc);
	snapshot(dir, mname, "mbox-0-created");
	for (int i = 0; i < 5; i++) {
		uint8_t buf[100];
		uint64_t v;
		payload(buf, 10 + i, sizes[i]);
		if ((rc = shmchan_mailbox_publish(mb, buf, sizes[i], &v)) != SHMCHAN_OK) die("publish", rc);
	}
	snapshot(dir, mname, "mbox-1-published");
	shmchan_mailbox_close(mb);
	snapshot(dir, mname, "mbox-2-closed");
	return 0;
}

static shmchan_options quick(void) {
	shmchan_options o;
	shmchan_options_init(&o);
	o.open_timeout_ns = 1000000; /* 1 ms: an image without a version is NOT_READY, not a 2 s wait */
	o.wait = SHMCHAN_WAIT_SPIN;
	return o;
}

static int read_chan(const char *name) {
	shmchan_options o = quick();
	shmchan_channel *ch;
	int rc = shmchan_channel_open(name, &o, &ch);
	if (rc == SHMCHAN_OK) {
		shmchan_receiver *rx;
		rc = shmchan_channel_receiver(ch, &rx);
		static uint8_t buf[1 << 20];
		for (int i = 0; rc == SHMCHAN_OK && i < 1000; i++) {
			size_t len;
			rc = shmchan_try_recv(rx, buf, sizeof buf, &len);
			if (rc == SHMCHAN_OK) hex("msg ", buf, len);
		}
		shmchan_channel_close(ch);
	}
	printf("end %s\n", codename(rc));
	return 0;
}

static int send_chan(const char *name) {
	shmchan_options o = quick();
	shmchan_channel *ch;
	int rc = shmchan_channel_open(name, &o, &ch);
	if (rc == SHMCHAN_OK) {
		shmchan_sender *tx;
		rc = shmchan_channel_sender(ch, &tx);
		static uint8_t buf[1 << 20];
		uint64_t max = shmchan_channel_max_message(ch);
		for (int i = 0; rc == SHMCHAN_OK && i < 8; i++) {
			size_t n = (size_t)((uint64_t)i * 97 % (max + 1));
			payload(buf, 20 + i, n);
			rc = shmchan_try_send(tx, buf, n);
			if (rc == SHMCHAN_OK) printf("sent %zu\n", n);
		}
		shmchan_channel_close(ch);
	}
	printf("end %s\n", codename(rc));
	return 0;
}

static int read_mbox(const char *name) {
	shmchan_options o = quick();
	shmchan_mailbox *mb;
	int rc = shmchan_mailbox_open(name, &o, &mb);
	if (rc == SHMCHAN_OK) {
		static uint8_t buf[1 << 20];
		size_t len = 0;
		uint64_t v = 0;
		rc = shmchan_mailbox_latest(mb, buf, sizeof buf, &len, &v);
		if (rc == SHMCHAN_OK || rc == SHMCHAN_EOF) {
			char prefix[48];
			snprintf(prefix, sizeof prefix, "value %llu ", (unsigned long long)v);
			hex(prefix, buf, len);
		}
		shmchan_mailbox_close(mb);
	}
	printf("end %s\n", codename(rc));
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 5 && strcmp(argv[1], "script") == 0) return script(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "read-chan") == 0) return read_chan(argv[2]);
	if (argc == 3 && strcmp(argv[1], "send-chan") == 0) return send_chan(argv[2]);
	if (argc == 3 && strcmp(argv[1], "read-mbox") == 0) return read_mbox(argv[2]);
	fprintf(stderr, "usage: golden script DIR CHAN MBOX | read-chan NAME | send-chan NAME | read-mbox NAME\n");
	return 2;
}
