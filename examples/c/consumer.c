/*
 * consumer: receives messages on the channel NAME and prints them, one per
 * line, until the producer closes its end; then it removes the channel. The
 * channel is opened, or created with a 64 KiB ring if it does not exist yet,
 * so either side may start first. A producer that dies without closing makes
 * the receive fail with SHMCHAN_ERR_PEER_GONE.
 *
 *   consumer NAME
 *
 * Its peer is examples/c/producer.c or the Go producer in examples/c/go/producer.
 */
#include "shmchan.h"

#include <stdio.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: %s NAME\n", argv[0]);
		return 2;
	}
	const char *name = argv[1];

	shmchan_options o;
	shmchan_options_init(&o);
	o.wait = SHMCHAN_WAIT_BLOCK;
	o.remove_on_close = 1;
	shmchan_channel *ch;
	int created;
	int rc = shmchan_channel_open_or_create(name, 1 << 16, &o, &ch, &created);
	if (rc != SHMCHAN_OK) {
		fprintf(stderr, "consumer: open %s: %s\n", name, shmchan_strerror(rc));
		return 1;
	}
	shmchan_receiver *rx;
	rc = shmchan_channel_receiver(ch, &rx);
	if (rc != SHMCHAN_OK) {
		fprintf(stderr, "consumer: claim receiver: %s\n", shmchan_strerror(rc));
		shmchan_channel_close(ch);
		return 1;
	}
	long n = 0;
	for (;;) {
		const void *msg;
		size_t len;
		/* Zero-copy: the message is read in place, then released. */
		rc = shmchan_peek(rx, &msg, &len, SHMCHAN_FOREVER);
		if (rc != SHMCHAN_OK) break;
		printf("%.*s\n", (int)len, (const char *)msg);
		rc = shmchan_release(rx);
		if (rc != SHMCHAN_OK) break;
		n++;
	}
	shmchan_channel_close(ch); /* removes the channel: remove_on_close */
	if (rc != SHMCHAN_EOF) {
		fprintf(stderr, "consumer: receive: %s\n", shmchan_strerror(rc));
		return 1;
	}
	printf("consumer: received %ld messages\n", n);
	return 0;
}
