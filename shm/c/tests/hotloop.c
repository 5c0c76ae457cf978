/*
 * hotloop: send and receive N messages on one channel in one thread, for
 * counting the instructions of the per-message path with callgrind, which
 * does not depend on the machine's load (docs/design.md, "Per-call cost"):
 *
 *   make -C shm/c build/hotloop   (or: cc -std=c11 -O2 -I.. hotloop.c ../shmchan.c -lrt -o hotloop)
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/hotloop copy 64 20000
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/hotloop copy 64 120000
 *
 * The difference of the two counts over 100000 is the instructions per
 * message (one send and one receive) without the start-up. API is copy
 * (shmchan_send, shmchan_recv) or zc (shmchan_reserve and shmchan_commit,
 * shmchan_peek and shmchan_release).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmchan.h"

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: hotloop copy|zc SIZE N\n");
		return 2;
	}
	int zc = strcmp(argv[1], "zc") == 0;
	size_t size = (size_t)strtoull(argv[2], NULL, 10);
	unsigned long n = strtoul(argv[3], NULL, 10);
	char name[64];
	snprintf(name, sizeof name, "shmchan-hotloop-%ld", (long)getpid());
	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_SPIN;
	shmchan_channel *ch;
	int rc = shmchan_channel_create(name, 1 << 16, &o, &ch);
	if (rc != SHMCHAN_OK) {
		fprintf(stderr, "create: %s\n", shmchan_strerror(rc));
		return 1;
	}
	shmchan_sender *tx;
	shmchan_receiver *rx;
	if ((rc = shmchan_channel_sender(ch, &tx)) != SHMCHAN_OK || (rc = shmchan_channel_receiver(ch, &rx)) != SHMCHAN_OK) {
		fprintf(stderr, "claim: %s\n", shmchan_strerror(rc));
		goto out;
	}
	unsigned char msg[4096] = {0}, buf[4096];
	if (size > sizeof msg) size = sizeof msg;
	for (unsigned long i = 0; i < n && rc == SHMCHAN_OK; i++) {
		msg[0] = (unsigned char)i;
		size_t len = 0;
		if (!zc) {
			rc = shmchan_send(tx, msg, size, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK) rc = shmchan_recv(rx, buf, sizeof buf, &len, SHMCHAN_FOREVER);
			if (rc == SHMCHAN_OK && (len != size || buf[0] != (unsigned char)i)) rc = SHMCHAN_ERR_CORRUPT;
			continue;
		}
		void *w;
		const void *m;
		rc = shmchan_reserve(tx, size, &w, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		((unsigned char *)w)[0] = (unsigned char)i;
		if ((rc = shmchan_commit(tx, size)) != SHMCHAN_OK) break;
		if ((rc = shmchan_peek(rx, &m, &len, SHMCHAN_FOREVER)) != SHMCHAN_OK) break;
		if (len != size || ((const unsigned char *)m)[0] != (unsigned char)i) rc = SHMCHAN_ERR_CORRUPT;
		else rc = shmchan_release(rx);
	}
	if (rc != SHMCHAN_OK) fprintf(stderr, "loop: %s\n", shmchan_strerror(rc));
out:
	shmchan_channel_close(ch);
	shmchan_segment_remove(name);
	return rc == SHMCHAN_OK ? 0 : 1;
}
