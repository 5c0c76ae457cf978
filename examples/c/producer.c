/*
 * producer: sends COUNT text messages ("message 0", "message 1", ...) on the
 * channel NAME, then closes its end so that the consumer sees end-of-stream.
 * The channel is opened, or created with a 64 KiB ring if it does not exist
 * yet, so either side may start first. The consumer removes it at the end.
 *
 *   producer NAME [COUNT]
 *
 * Its peer is examples/c/consumer.c or the Go consumer in examples/c/go/consumer.
 */
#include "shmchan.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NAME [COUNT]\n", argv[0]);
		return 2;
	}
	const char *name = argv[1];
	long count = argc == 3 ? strtol(argv[2], NULL, 10) : 10;

	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	shmchan_channel *ch;
	int created;
	int rc = shmchan_channel_open_or_create(name, 1 << 16, &o, &ch, &created);
	if (rc != SHMCHAN_OK) {
		fprintf(stderr, "producer: open %s: %s\n", name, shmchan_strerror(rc));
		return 1;
	}
	shmchan_sender *tx;
	rc = shmchan_channel_sender(ch, &tx);
	if (rc != SHMCHAN_OK) {
		fprintf(stderr, "producer: claim sender: %s\n", shmchan_strerror(rc));
		shmchan_channel_close(ch);
		return 1;
	}
	for (long i = 0; i < count; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof msg, "message %ld", i);
		rc = shmchan_send(tx, msg, (size_t)n, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) {
			fprintf(stderr, "producer: send %ld: %s\n", i, shmchan_strerror(rc));
			shmchan_channel_close(ch);
			return 1;
		}
	}
	rc = shmchan_sender_close(tx); /* the consumer gets EOF after the last message */
	int crc = shmchan_channel_close(ch);
	if (rc != SHMCHAN_OK || crc != SHMCHAN_OK) {
		fprintf(stderr, "producer: close: %s\n", shmchan_strerror(rc != SHMCHAN_OK ? rc : crc));
		return 1;
	}
	printf("producer: sent %ld messages\n", count);
	return 0;
}
