/*
 * waits.c prints the wait schedule the C library uses, one "NAME VALUE" line
 * per macro (durations in nanoseconds), for shm/c/interop's TestWaitTableC,
 * which compares them with the table of docs/design.md ("Waits").
 *
 * It includes shmchan.c itself, since the schedule is internal to it: the
 * values printed are exactly the ones the library's code is compiled with.
 */
#include "shmchan.c"

#define P(m) printf("%s %lld\n", #m, (long long)(m))

int main(void) {
	P(CHECK_EVERY);
	P(BLOCK_POLLS);
	P(SPIN_YIELD_NS);
	P(ADAPTIVE_SPIN_NS);
	P(ADAPTIVE_YIELD_NS);
	P(MAX_SLEEP_NS);
	P(LIVENESS_TICK_NS);
	P(OPEN_POLL_FIRST_NS);
	P(OPEN_POLL_MAX_NS);
	P(SHMCHAN_DEFAULT_OPEN_TIMEOUT_NS);
	P(MB_RETRIES_BEFORE_YIELD);
	P(WAKE_POLL_FIRST_NS);
	P(WAKE_POLL_MAX_NS);
	return 0;
}
