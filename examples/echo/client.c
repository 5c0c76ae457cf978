/*
 * echo-client: a C client of a Go shm.Listener (examples/echo/server).
 *
 *   go run ./examples/echo/server -name echo-demo &
 *   make -C shm/c && shm/c/build/echo-client echo-demo 1000
 *
 * It dials with shmchan_dial, sends n messages on the connection's sender,
 * and checks each echo from its receiver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmchan_net.h"

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s NAME [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	shmchan_conn *c;
	int err = shmchan_dial(argv[1], NULL, 0, INT64_C(5000000000), &c);
	if (err != SHMCHAN_OK) {
		fprintf(stderr, "dial %s: %s\n", argv[1], shmchan_strerror(err));
		return 1;
	}
	static char buf[65536];
	for (int i = 0; i < n; i++) {
		char msg[64];
		int len = snprintf(msg, sizeof msg, "hello %d", i);
		if ((err = shmchan_send(shmchan_conn_sender(c), msg, (size_t)len, INT64_C(5000000000))) != SHMCHAN_OK) {
			fprintf(stderr, "send %d: %s\n", i, shmchan_strerror(err));
			return 1;
		}
		size_t got;
		if ((err = shmchan_recv(shmchan_conn_receiver(c), buf, sizeof buf, &got, INT64_C(5000000000))) != SHMCHAN_OK) {
			fprintf(stderr, "recv %d: %s\n", i, shmchan_strerror(err));
			return 1;
		}
		if (got != (size_t)len || memcmp(buf, msg, got) != 0) {
			fprintf(stderr, "echo %d: got %.*s, want %s\n", i, (int)got, buf, msg);
			return 1;
		}
	}
	shmchan_conn_close(c);
	printf("%d round trips\n", n);
	return 0;
}
