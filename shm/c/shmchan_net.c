/*
 * shmchan_net.c: shmchan_dial, the client side of the Listen/Dial handshake
 * (docs/layout.md, "Listener", steps dial.1-8), on the public API of
 * shmchan.h plus the library's internal role-lock primitives (shmchan.c,
 * "internal: role locks for shmchan_net.c"). POSIX; on Windows shmchan_dial
 * returns UNSUPPORTED.
 *
 * On Linux the listener's liveness is its role lock (live.2 on the owner
 * word's range) and the client holds its slot by a lock on the slot's client
 * word, through the listener segment's descriptor, which it keeps open until
 * the slot is free; elsewhere tokens decide, as the Go side does.
 */
#if !defined(_WIN32)
#define _GNU_SOURCE
#endif

#include "shmchan_net.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(_WIN32)

int shmchan_dial(const char *name, const shmchan_options *opts, uint64_t capacity, int64_t timeout_ns,
                 shmchan_conn **out) {
	(void)name, (void)opts, (void)capacity, (void)timeout_ns;
	if (out) *out = NULL;
	return SHMCHAN_ERR_UNSUPPORTED;
}
shmchan_sender *shmchan_conn_sender(shmchan_conn *c) { (void)c; return NULL; }
shmchan_receiver *shmchan_conn_receiver(shmchan_conn *c) { (void)c; return NULL; }
int shmchan_conn_close(shmchan_conn *c) { (void)c; return SHMCHAN_ERR_UNSUPPORTED; }

#else

#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

/* Internal to the library (shmchan.c): the role-lock primitives on any range. */
int shmchan_internal_role_lock(const shmchan_segment *seg, uint64_t start);
void shmchan_internal_role_unlock(const shmchan_segment *seg, uint64_t start);
int shmchan_internal_role_held(const shmchan_segment *seg, uint64_t start);

struct shmchan_conn {
	shmchan_channel *out, *in; /* out: client to server (.c), in: server to client (.s) */
	shmchan_sender *tx;
	shmchan_receiver *rx;
};

#define NS_PER_SEC INT64_C(1000000000)
#define LIVENESS_NS (50 * INT64_C(1000000))

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void nap_ns(int64_t ns) {
	struct timespec ts = {(time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC)};
	nanosleep(&ts, NULL);
}

static _Atomic uint32_t *u32at(void *base, size_t off) { return (_Atomic uint32_t *)((char *)base + off); }
static _Atomic uint64_t *u64at(void *base, size_t off) { return (_Atomic uint64_t *)((char *)base + off); }

/* futex_wait/futex_wake: never FUTEX_PRIVATE_FLAG, the words are shared. */
static void futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns) {
#if defined(__linux__)
	struct timespec ts = {(time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC)};
	(void)syscall(SYS_futex, (void *)addr, FUTEX_WAIT, val, &ts, NULL, 0);
#else
	(void)addr, (void)val;
	nap_ns(ns < 1000000 ? ns : 1000000);
#endif
}

static void futex_wake(_Atomic uint32_t *addr) {
#if defined(__linux__)
	(void)syscall(SYS_futex, (void *)addr, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
#else
	(void)addr;
#endif
}

static void conn_names(uint64_t id, char *c, char *s, size_t n) {
	snprintf(c, n, "shmc-%u-%08x.c", (unsigned)(id >> 32), (unsigned)(uint32_t)id);
	snprintf(s, n, "shmc-%u-%08x.s", (unsigned)(id >> 32), (unsigned)(uint32_t)id);
}

static _Atomic uint32_t conn_counter; /* process-local, no SYNC partner */

static uint64_t new_conn_id(void) {
	uint32_t n;
	if (atomic_load_explicit(&conn_counter, memory_order_relaxed) == 0) { /* process-local, no SYNC partner */
		uint32_t seed = (uint32_t)now_ns() ^ ((uint32_t)getpid() << 16);
		uint32_t zero = 0;
		atomic_compare_exchange_strong(&conn_counter, &zero, seed | 1); /* process-local, no SYNC partner */
	}
	do {
		n = atomic_fetch_add_explicit(&conn_counter, 1, memory_order_relaxed) + 1; /* process-local */
	} while (n == 0);
	return (uint64_t)(uint32_t)getpid() << 32 | n;
}

/*
 * listening: STEP(dial.1)'s check, also made while waiting (at most every
 * LIVENESS_NS there): the listener's liveness as docs/layout.md's live.1-4
 * ask it of a role, with closed and a zero owner meaning "no listener".
 */
static int listening(const shmchan_segment *seg) {
	void *h = shmchan_segment_data(seg);
	/* SYNC(lsn_closed): seq_cst; pairs with the store in Listener.Close. */
	if (atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_CLOSED), memory_order_seq_cst) != 0) return SHMCHAN_ERR_CLOSED;
	/* SYNC(lsn_owner): acquire; pairs with the listener's claim (claim.3). */
	uint64_t tok = atomic_load_explicit(u64at(h, SHMCHAN_LSN_OFF_OWNER), memory_order_acquire);
	if (tok == 0) return SHMCHAN_ERR_CLOSED;
	if (!shmchan_role_locks()) return shmchan_token_alive(tok) ? SHMCHAN_OK : SHMCHAN_ERR_PEER_GONE;
	/* STEP(live.2): held by another description: the listener lives, in whatever PID namespace. */
	if (shmchan_internal_role_held(seg, SHMCHAN_LSN_LOCK_OWNER)) return SHMCHAN_OK;
	/* STEP(live.3) SYNC(lsn_closed): seq_cst; a listener that closed released its lock after storing it. */
	if (atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_CLOSED), memory_order_seq_cst) != 0) return SHMCHAN_ERR_CLOSED;
	/* SYNC(lsn_owner): acquire; its close stored 0 before the unlock. */
	tok = atomic_load_explicit(u64at(h, SHMCHAN_LSN_OFF_OWNER), memory_order_acquire);
	if (tok == 0) return SHMCHAN_ERR_CLOSED;
	/* STEP(live.4): a new listener may have locked after live.2 and stored its token before live.3:
	 * ask the lock again, then whether that token is still there (SYNC as above). */
	if (shmchan_internal_role_held(seg, SHMCHAN_LSN_LOCK_OWNER)) return SHMCHAN_OK;
	if (atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_CLOSED), memory_order_seq_cst) != 0) return SHMCHAN_ERR_CLOSED;
	if (atomic_load_explicit(u64at(h, SHMCHAN_LSN_OFF_OWNER), memory_order_acquire) != tok) return SHMCHAN_OK;
	return SHMCHAN_ERR_PEER_GONE; /* the lock is still free and the owner never gave the segment back: it died */
}

/* slot_lock is the offset of slot i's lock range: its client word. */
static uint64_t slot_lock(uint32_t i) {
	return SHMCHAN_LSN_HEADER + (uint64_t)i * SHMCHAN_LSN_SLOT_SIZE + SHMCHAN_SLOT_LOCK_CLIENT;
}

/* check_listener: docs/layout.md, "What an opener checks" (listener). */
static int check_listener(shmchan_segment *seg, int64_t open_timeout_ns, uint32_t *slots) {
	uint64_t size = shmchan_segment_size(seg);
	void *h = shmchan_segment_data(seg);
	if (size < SHMCHAN_LSN_HEADER) return SHMCHAN_ERR_NOT_CHANNEL;
	int64_t deadline = now_ns() + open_timeout_ns;
	uint32_t v;
	/* SYNC(lsn_version): acquire; pairs with the creator's release store. */
	while ((v = atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_VERSION), memory_order_acquire)) == 0) {
		uint32_t m = atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_MAGIC), memory_order_relaxed); /* SYNC(lsn_version) */
		if (m != 0 && m != SHMCHAN_LSN_MAGIC) return SHMCHAN_ERR_NOT_CHANNEL;
		if (now_ns() > deadline) return SHMCHAN_ERR_NOT_READY;
		nap_ns(100000);
	}
	if (atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_MAGIC), memory_order_relaxed) != SHMCHAN_LSN_MAGIC) /* SYNC(lsn_version) */
		return SHMCHAN_ERR_NOT_CHANNEL;
	if (v != SHMCHAN_LSN_VERSION) return SHMCHAN_ERR_VERSION_MISMATCH;
	if (*u32at(h, SHMCHAN_LSN_OFF_HDR_SIZE) != SHMCHAN_LSN_HEADER ||
	    *u32at(h, SHMCHAN_LSN_OFF_SLOT_SIZE) != SHMCHAN_LSN_SLOT_SIZE || (*u32at(h, SHMCHAN_LSN_OFF_FLAGS) & 0xFFFFu) != 0)
		return SHMCHAN_ERR_VERSION_MISMATCH;
	/* Read once: only this copy is used from here. */
	uint32_t n = atomic_load_explicit(u32at(h, SHMCHAN_LSN_OFF_SLOTS), memory_order_relaxed); /* SYNC(lsn_version) */
	if (n < 1 || n > SHMCHAN_LSN_MAX_SLOTS || SHMCHAN_LSN_HEADER + (uint64_t)n * SHMCHAN_LSN_SLOT_SIZE > size)
		return SHMCHAN_ERR_CORRUPT;
	*slots = n;
	return SHMCHAN_OK;
}

/* free_slot gives slot i back: state, then the client word, then the slot's lock. */
static void free_slot(const shmchan_segment *seg, void *slot, uint32_t i) {
	/* STEP(dial.8) SYNC(slot_state): release; the state is free before the client word. */
	atomic_store_explicit(u32at(slot, SHMCHAN_SLOT_OFF_STATE), SHMCHAN_SLOT_FREE, memory_order_seq_cst);
	uint64_t self = shmchan_self_token();
	/* STEP(dial.8) SYNC(slot_client): acq_rel CAS; pairs with the next claim and the reaper's load under the lock. */
	atomic_compare_exchange_strong(u64at(slot, SHMCHAN_SLOT_OFF_CLIENT), &self, 0);
	/* STEP(dial.8) */
	if (shmchan_role_locks()) shmchan_internal_role_unlock(seg, slot_lock(i));
}

/* conn_free closes the ends (shmchan_channel_close closes those still open) and frees c. */
static void conn_free(shmchan_conn *c) {
	if (c->out) shmchan_channel_close(c->out);
	if (c->in) shmchan_channel_close(c->in);
	free(c);
}

int shmchan_dial(const char *name, const shmchan_options *opts, uint64_t capacity, int64_t timeout_ns,
                 shmchan_conn **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	shmchan_options o;
	if (opts) o = *opts;
	else shmchan_options_init(&o);
	if (capacity == 0) capacity = SHMCHAN_DEFAULT_CONN_CAPACITY;
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;

	/* STEP(dial.1) */
	shmchan_segment *seg;
	int err = shmchan_segment_open(name, &o, &seg);
	if (err != SHMCHAN_OK) return err;
	uint32_t n;
	if ((err = check_listener(seg, o.open_timeout_ns, &n)) != SHMCHAN_OK || (err = listening(seg)) != SHMCHAN_OK) {
		shmchan_segment_close(seg);
		return err;
	}
	void *h = shmchan_segment_data(seg);

	/* STEP(dial.2): claim a slot, backing off while all are busy. With role
	 * locks, the slot's lock first (kept until free_slot); a slot whose client
	 * word is set is never taken over: the listener's reaper frees it. */
	uint64_t self = shmchan_self_token();
	int locks = shmchan_role_locks();
	void *slot = NULL;
	uint32_t slot_i = 0;
	uint64_t id = 0;
	for (int64_t delay = 50000; slot == NULL; delay = delay * 2 < 10000000 ? delay * 2 : 10000000) {
		uint32_t start = (uint32_t)now_ns() % n;
		for (uint32_t k = 0; k < n && slot == NULL; k++) {
			uint32_t i = (start + k) % n;
			void *s = (char *)h + SHMCHAN_LSN_HEADER + (size_t)i * SHMCHAN_LSN_SLOT_SIZE;
			uint64_t zero = 0;
			/* STEP(dial.2) SYNC(slot_client): acquire; pairs with the previous holder's release. */
			if (atomic_load_explicit(u64at(s, SHMCHAN_SLOT_OFF_CLIENT), memory_order_acquire) != 0) continue;
			if (locks) {
				/* STEP(dial.2): the slot's lock; BUSY: a client (or the reaper, for a moment) holds it. */
				int rc = shmchan_internal_role_lock(seg, slot_lock(i));
				if (rc == SHMCHAN_ERR_BUSY) continue;
				if (rc != SHMCHAN_OK) {
					shmchan_segment_close(seg);
					return rc;
				}
			}
			/* STEP(dial.2) SYNC(slot_client): acq_rel CAS 0->self; pairs with the previous holder's release. */
			if (!atomic_compare_exchange_strong(u64at(s, SHMCHAN_SLOT_OFF_CLIENT), &zero, self)) {
				if (locks) shmchan_internal_role_unlock(seg, slot_lock(i));
				continue;
			}
			id = new_conn_id();
			/* SYNC(slot_conn): ordered before the Free->Claimed CAS. */
			atomic_store_explicit(u64at(s, SHMCHAN_SLOT_OFF_CONN), id, memory_order_seq_cst);
			atomic_store_explicit(u64at(s, SHMCHAN_SLOT_OFF_CAPACITY), capacity, memory_order_seq_cst); /* SYNC(slot_conn) */
			uint32_t st = SHMCHAN_SLOT_FREE;
			/* STEP(dial.2) SYNC(slot_state): acq_rel CAS Free->Claimed. */
			if (!atomic_compare_exchange_strong(u32at(s, SHMCHAN_SLOT_OFF_STATE), &st, SHMCHAN_SLOT_CLAIMED)) {
				atomic_store_explicit(u64at(s, SHMCHAN_SLOT_OFF_CLIENT), 0, memory_order_seq_cst); /* SYNC(slot_client) */
				if (locks) shmchan_internal_role_unlock(seg, slot_lock(i));
				continue;
			}
			slot = s;
			slot_i = i;
		}
		if (slot) break;
		if ((err = listening(seg)) != SHMCHAN_OK || now_ns() > deadline) {
			shmchan_segment_close(seg);
			return err != SHMCHAN_OK ? err : SHMCHAN_ERR_BUSY;
		}
		nap_ns(delay);
	}

	/* STEP(dial.3): create the pair and claim our ends. */
	shmchan_conn *c = calloc(1, sizeof *c);
	char cname[32], sname[32];
	if (c == NULL) {
		free_slot(seg, slot, slot_i);
		shmchan_segment_close(seg);
		return SHMCHAN_ERR_SYSTEM;
	}
	shmchan_options co = o;
	co.remove_on_close = 0;
	int made = 0; /* names this call created: 1 for .c, 2 for .s as well */
	for (int tries = 0;; tries++) {
		conn_names(id, cname, sname, sizeof cname);
		err = shmchan_channel_create(cname, capacity, &co, &c->out);
		if (err == SHMCHAN_ERR_EXIST && tries < 8) {
			id = new_conn_id();
			atomic_store_explicit(u64at(slot, SHMCHAN_SLOT_OFF_CONN), id, memory_order_seq_cst); /* SYNC(slot_conn) */
			continue;
		}
		break;
	}
	if (err == SHMCHAN_OK) made = 1;
	if (err == SHMCHAN_OK && (err = shmchan_channel_create(sname, capacity, &co, &c->in)) == SHMCHAN_OK) made = 2;
	if (err == SHMCHAN_OK) err = shmchan_channel_sender(c->out, &c->tx);
	if (err == SHMCHAN_OK) err = shmchan_channel_receiver(c->in, &c->rx);
	uint32_t st = SHMCHAN_SLOT_CLAIMED;
	/* STEP(dial.4) SYNC(slot_state): acq_rel CAS Claimed->Ready; publishes conn and the channels. */
	if (err == SHMCHAN_OK && !atomic_compare_exchange_strong(u32at(slot, SHMCHAN_SLOT_OFF_STATE), &st, SHMCHAN_SLOT_READY))
		err = SHMCHAN_ERR_CORRUPT;
	if (err != SHMCHAN_OK) goto undo;

	/* STEP(dial.5) SYNC(lsn_bell): bump then wake; pairs with the listener's load before it parks. */
	atomic_fetch_add_explicit(u32at(h, SHMCHAN_LSN_OFF_BELL), 1, memory_order_seq_cst);
	futex_wake(u32at(h, SHMCHAN_LSN_OFF_BELL));

	/* STEP(dial.6): wait for the answer, checking the listener's liveness. */
	_Atomic uint32_t *state = u32at(slot, SHMCHAN_SLOT_OFF_STATE);
	_Atomic uint32_t *seq = u32at(slot, SHMCHAN_SLOT_OFF_STATE_SEQ);
	int why = SHMCHAN_OK;
	int64_t next_check = now_ns() + LIVENESS_NS;
	for (;;) {
		/* SYNC(slot_seq): acquire, loaded before the re-check of state. */
		uint32_t v = atomic_load_explicit(seq, memory_order_acquire);
		/* SYNC(slot_state): acquire; pairs with the listener's CAS. */
		if (atomic_load_explicit(state, memory_order_acquire) != SHMCHAN_SLOT_READY) break;
		int64_t now = now_ns();
		if (now >= next_check) {
			next_check = now + LIVENESS_NS;
			if ((why = listening(seg)) != SHMCHAN_OK) break;
		}
		if (now >= deadline) {
			why = SHMCHAN_ERR_TIMEOUT;
			break;
		}
		int64_t left = deadline - now;
		futex_wait(seq, v, left < LIVENESS_NS ? left : LIVENESS_NS);
	}
	st = SHMCHAN_SLOT_READY;
	/* STEP(dial.7) SYNC(slot_state): acq_rel CAS Ready->Abandoned; pairs with the listener's Ready->Accepted. */
	if (atomic_compare_exchange_strong(state, &st, SHMCHAN_SLOT_ABANDONED)) {
		err = why != SHMCHAN_OK ? why : SHMCHAN_ERR_CLOSED;
		goto undo;
	}
	if (st == SHMCHAN_SLOT_ACCEPTED) { /* the listener removed the names */
		free_slot(seg, slot, slot_i);
		shmchan_segment_close(seg);
		*out = c;
		return SHMCHAN_OK;
	}
	err = st == SHMCHAN_SLOT_REFUSED ? (listening(seg) != SHMCHAN_OK ? listening(seg) : SHMCHAN_ERR_CLOSED) : SHMCHAN_ERR_CORRUPT;
undo:
	conn_free(c);
	if (made >= 1) shmchan_segment_remove(cname);
	if (made >= 2) shmchan_segment_remove(sname);
	free_slot(seg, slot, slot_i);
	shmchan_segment_close(seg);
	return err;
}

shmchan_sender *shmchan_conn_sender(shmchan_conn *c) { return c ? c->tx : NULL; }

shmchan_receiver *shmchan_conn_receiver(shmchan_conn *c) { return c ? c->rx : NULL; }

int shmchan_conn_close(shmchan_conn *c) {
	if (c == NULL) return SHMCHAN_ERR_INVALID;
	conn_free(c);
	return SHMCHAN_OK;
}

#endif
