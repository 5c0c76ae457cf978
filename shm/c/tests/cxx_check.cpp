// cxx_check.cpp: the header is valid C++. Compiled with g++ -std=c++17
// -Wall -Wextra -Werror and linked against libshmchan.a by `make check`; it
// runs a one-message round trip so that the C linkage is exercised too.
#include "shmchan.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

static_assert(SHMCHAN_OFF_HEAD == 0x100, "layout v1");
static_assert(SHMCHAN_OK == 0 && SHMCHAN_EOF < 0, "error codes");

int main() {
	std::string name = "shmchan-cxx-" + std::to_string(getpid());
	shmchan_options o;
	shmchan_options_init(&o);
	o.remove_on_close = 1;
	shmchan_channel *ch = nullptr;
	int rc = shmchan_channel_create(name.c_str(), 1024, &o, &ch);
	if (rc != SHMCHAN_OK) {
		std::fprintf(stderr, "create: %s\n", shmchan_strerror(rc));
		return 1;
	}
	shmchan_sender *tx = nullptr;
	shmchan_receiver *rx = nullptr;
	char out[16];
	size_t len = 0;
	if (shmchan_channel_sender(ch, &tx) != SHMCHAN_OK || shmchan_channel_receiver(ch, &rx) != SHMCHAN_OK ||
	    shmchan_send(tx, "c++", 3, SHMCHAN_FOREVER) != SHMCHAN_OK ||
	    shmchan_recv(rx, out, sizeof out, &len, SHMCHAN_FOREVER) != SHMCHAN_OK || len != 3 ||
	    std::memcmp(out, "c++", 3) != 0) {
		std::fprintf(stderr, "round trip failed\n");
		shmchan_channel_close(ch);
		return 1;
	}
	shmchan_channel_close(ch);
	std::puts("ok   cxx");
	return 0;
}
