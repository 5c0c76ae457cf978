/*
 * shmchan.c: the C implementation of layout version 2 (docs/layout.md).
 *
 * Why C's atomics pair with Go's: every access Go makes to a shared word goes
 * through sync/atomic, whose operations are sequentially consistent (the
 * sync/atomic documentation: an atomic write observed by an atomic read
 * "synchronizes before" it, as C++ seq_cst does). A C acquire load that reads
 * a value stored by a Go atomic store therefore synchronises with it, and a C
 * release (or seq_cst) store read by a Go atomic load does too. Where the
 * layout marks a field seq_cst (the record header word, head, the parked and
 * closed flags) it is part of a store-then-load (Dekker) handshake, and both
 * halves of the handshake are memory_order_seq_cst here, as they are in Go.
 *
 * Each atomic access carries a SYNC(tag) comment with the tag of
 * docs/layout.md; grep for the tag in shm/ and sync/ to find the partner.
 *
 * The peer is untrusted: every index and length read from shared memory is
 * checked before it is used (SHMCHAN_ERR_CORRUPT), and header fields are read
 * once at open, checked, and kept in process-local memory.
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif

#include "shmchan.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Platforms. The OS-specific parts (clock, process tokens, wait words,
 * segments) sit in "#if defined(_WIN32) ... #else ... #endif" sections, each
 * defining the same functions, so that the library stays one file to drop
 * into a project. Everything else is portable C11.
 *
 * Order. After the shared structs and small helpers, the sections follow the
 * files of package shm, so that a reader can hold the two side by side:
 * segments (segment.go), channels (channel.go, sender.go, receiver.go),
 * mailboxes (mailbox.go), waiting (sync/wake, wait.go, waiter.go) and process
 * tokens (internal/platform).
 *
 *   - POSIX (Linux, macOS): shm_open + mmap; futex(2) on Linux, a polling
 *     sleep elsewhere, as Go's sync/wake.
 *   - Windows: a named file mapping "Local\name" (or "Global\name"), named
 *     semaphores for the wait words, named mutexes for the role locks, and
 *     creation FILETIMEs in the tokens, exactly as package shm, sync/wake and
 *     internal/platform name them, so that C and Go processes share objects on
 *     Windows too.
 */
#if defined(_WIN32)
#if !defined(WIN32_LEAN_AND_MEAN)
#define WIN32_LEAN_AND_MEAN 1
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

/* ---- The shared header, offset for offset ----------------------------------- */

/*
 * A counter line (docs/layout.md, "Counters"): written only by the holder of
 * its end, with relaxed loads and stores of its own counts (count), read by
 * anyone with relaxed loads. It is on no other end's path, so counting adds
 * no cache-line transfer.
 */
struct stats_line {
	_Atomic uint64_t messages, bytes, waits, parks, wakes, takeovers;
};
_Static_assert(sizeof(struct stats_line) == SHMCHAN_STATS_SIZE, "stats line");

/* count adds n to a counter of our own line. */
static void count(_Atomic uint64_t *c, uint64_t n) {
	/* SYNC(stats): relaxed; only this end writes it; pairs with the loads in load_stats (and Go's Stats). */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

struct chan_header {
	/* Header line: written once by the creator, then version is stored last. */
	_Atomic uint32_t magic;   /* 0x000 "SHMC" */
	_Atomic uint32_t version; /* 0x004 stored last, release */
	uint32_t header_size;     /* 0x008 4096 */
	uint32_t flags;           /* 0x00C bit 16: counters (SHMCHAN_FLAG_STATS) */
	uint64_t capacity;        /* 0x010 power of two, 1 KiB to 4 GiB */
	uint64_t data_offset;     /* 0x018 4096 */
	uint64_t max_message;     /* 0x020 capacity/2 - 8 */
	uint64_t creator;         /* 0x028 creator's process token */
	uint8_t reserved0[SHMCHAN_OFF_SENDER_LINE - 0x030];

	/* Sender line: written only by the sender. */
	uint64_t reserved_sender;  /* 0x080 reserved, zero: records are published in line */
	_Atomic uint64_t tx_owner; /* 0x088 sender's token */
	uint8_t reserved1[SHMCHAN_OFF_HEAD - 0x090];

	/* Receiver line: written only by the receiver. */
	_Atomic uint64_t head;     /* 0x100 bytes consumed */
	_Atomic uint64_t rx_owner; /* 0x108 receiver's token */
	uint8_t reserved2[SHMCHAN_OFF_DATA_SEQ - 0x110];

	/* Receiver signal line. */
	_Atomic uint32_t data_seq;  /* 0x180 futex word of the receiver */
	_Atomic uint32_t rx_parked; /* 0x184 receiver about to sleep or sleeping */
	_Atomic uint32_t rx_closed; /* 0x188 receiver closed */
	uint8_t reserved3[SHMCHAN_OFF_SPACE_SEQ - 0x18C];

	/* Sender signal line. */
	_Atomic uint32_t space_seq; /* 0x200 futex word of the sender */
	_Atomic uint32_t tx_parked; /* 0x204 sender about to sleep or sleeping */
	_Atomic uint32_t tx_closed; /* 0x208 sender closed */
	uint8_t reserved4[SHMCHAN_OFF_TX_STATS - 0x20C];

	struct stats_line tx_stats; /* 0x280 the sender's counters */
	uint8_t reserved5[SHMCHAN_OFF_RX_STATS - SHMCHAN_OFF_TX_STATS - SHMCHAN_STATS_SIZE];
	struct stats_line rx_stats; /* 0x300 the receiver's counters */
	uint8_t reserved6[SHMCHAN_OFF_DATA - SHMCHAN_OFF_RX_STATS - SHMCHAN_STATS_SIZE];
};

_Static_assert(offsetof(struct chan_header, magic) == SHMCHAN_OFF_MAGIC, "magic");
_Static_assert(offsetof(struct chan_header, version) == SHMCHAN_OFF_VERSION, "version");
_Static_assert(offsetof(struct chan_header, header_size) == SHMCHAN_OFF_HEADER_SIZE, "header_size");
_Static_assert(offsetof(struct chan_header, flags) == SHMCHAN_OFF_FLAGS, "flags");
_Static_assert(offsetof(struct chan_header, capacity) == SHMCHAN_OFF_CAPACITY, "capacity");
_Static_assert(offsetof(struct chan_header, data_offset) == SHMCHAN_OFF_DATA_OFFSET, "data_offset");
_Static_assert(offsetof(struct chan_header, max_message) == SHMCHAN_OFF_MAX_MESSAGE, "max_message");
_Static_assert(offsetof(struct chan_header, creator) == SHMCHAN_OFF_CREATOR, "creator");
_Static_assert(offsetof(struct chan_header, reserved_sender) == SHMCHAN_OFF_SENDER_LINE, "sender line");
_Static_assert(offsetof(struct chan_header, tx_owner) == SHMCHAN_OFF_TX_OWNER, "tx_owner");
_Static_assert(offsetof(struct chan_header, head) == SHMCHAN_OFF_HEAD, "head");
_Static_assert(offsetof(struct chan_header, rx_owner) == SHMCHAN_OFF_RX_OWNER, "rx_owner");
_Static_assert(offsetof(struct chan_header, data_seq) == SHMCHAN_OFF_DATA_SEQ, "data_seq");
_Static_assert(offsetof(struct chan_header, rx_parked) == SHMCHAN_OFF_RX_PARKED, "rx_parked");
_Static_assert(offsetof(struct chan_header, rx_closed) == SHMCHAN_OFF_RX_CLOSED, "rx_closed");
_Static_assert(offsetof(struct chan_header, space_seq) == SHMCHAN_OFF_SPACE_SEQ, "space_seq");
_Static_assert(offsetof(struct chan_header, tx_parked) == SHMCHAN_OFF_TX_PARKED, "tx_parked");
_Static_assert(offsetof(struct chan_header, tx_closed) == SHMCHAN_OFF_TX_CLOSED, "tx_closed");
_Static_assert(offsetof(struct chan_header, tx_stats) == SHMCHAN_OFF_TX_STATS, "tx_stats");
_Static_assert(offsetof(struct chan_header, rx_stats) == SHMCHAN_OFF_RX_STATS, "rx_stats");
_Static_assert(sizeof(struct chan_header) == SHMCHAN_HEADER_SIZE, "header page");
_Static_assert(SHMCHAN_OFF_DATA == SHMCHAN_HEADER_SIZE, "data region follows the header page");
_Static_assert(SHMCHAN_OFF_SENDER_LINE == 1 * SHMCHAN_LINE && SHMCHAN_OFF_HEAD == 2 * SHMCHAN_LINE &&
                   SHMCHAN_OFF_DATA_SEQ == 3 * SHMCHAN_LINE && SHMCHAN_OFF_SPACE_SEQ == 4 * SHMCHAN_LINE,
               "one 128-byte line per writer");
/* Another process shares these words: a lock-based atomic would lock only in this process. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2, "atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4, "atomic sizes");

/* ---- Process-local handles ---------------------------------------------------- */

#if defined(_WIN32)
/*
 * A role's named mutex (docs/layout.md, "Role locks"), as one segment handle
 * sees it. A mutex belongs to a thread, and the caller's threads come and go
 * as they like, so the handle that holds a role keeps a thread of its own that
 * owns the mutex until role_unlock (see "Roles" below).
 */
struct role_mutex {
	HANDLE mutex;   /* Local\shmchan.role:NAME.ROLE, opened by role_open; NULL if not opened */
	HANDLE thread;  /* the owner thread: started by the first claim, ended by roles_close; NULL before */
	HANDLE request; /* auto-reset: the owner thread carries out op */
	HANDLE reply;   /* auto-reset: the owner thread has done op; result holds the outcome */
	int op;         /* ROLE_OP_CLAIM, ROLE_OP_RELEASE or ROLE_OP_EXIT, written before request is set */
	int result;     /* read after reply */
	int held;       /* the owner thread holds the mutex for this handle */
};
#define ROLE_COUNT 3 /* sender, receiver, writer: role_index */
#endif

struct shmchan_segment {
	char name[SHMCHAN_MAX_NAME_LEN + 1];
	void *mem;
	uint64_t size;
	int read_only;
	int remove_on_close;
	int global; /* Windows: the object lives in the Global\ namespace (names its wait words too) */
	int guard;  /* fault_guard: accesses through this segment's handles run under the fault guard */
#if !defined(_WIN32)
	int fd; /* kept open until close: role locks belong to this open file description */
#endif
#if defined(_WIN32)
	HANDLE mapping;               /* kept open until close (or remove): the name lives as long as a handle */
	struct shmchan_segment *next; /* in the process's list of open segments, for shmchan_segment_remove */
	struct role_mutex roles[ROLE_COUNT]; /* the role locks of the channel or mailbox on this segment */
#endif
};

/*
 * A wait word: a u32 of the shared header that one side sleeps on and the
 * other increments before waking it, as Go's sync/wake.Word. On Linux the
 * futex is keyed by the word itself; on Windows each word has a named event.
 */
struct wword {
	_Atomic uint32_t *addr;
#if defined(_WIN32)
	HANDLE ev;
#endif
};

struct shmchan_sender {
	shmchan_channel *ch;
	uint64_t token;       /* our token, stored in tx_owner */
	uint64_t pos;         /* where the next record goes (free-running) */
	uint64_t cached_head; /* last head read; reloaded only when the ring looks full */
	int open;
	int reserving;    /* a reservation is pending */
	uint64_t res_pad; /* padding bytes before the reserved record */
	size_t res_len;   /* reserved payload length */
};

struct shmchan_receiver {
	shmchan_channel *ch;
	uint64_t token;    /* our token, stored in rx_owner */
	uint64_t pos;      /* where the next record is, possibly past a padding record */
	uint64_t released; /* the head we last stored */
	int open;
	int peeking;        /* a peeked message awaits shmchan_release */
	uint64_t peek_next; /* head after the peeked message */
	uint64_t peek_len;  /* its length, for the counters */
};

struct shmchan_channel {
	shmchan_segment *seg;
	struct chan_header *h;
	struct wword data_word, space_word; /* data_seq (the receiver sleeps), space_seq (the sender) */
	uint8_t *data;
	uint64_t cap, mask, max_msg; /* read once at open and checked */
	int wait;
	shmchan_sender tx;
	shmchan_receiver rx;
	/* The ends' counter lines: in the header if its creator set SHMCHAN_FLAG_STATS, else local[]. */
	struct stats_line *tx_st, *rx_st, local[2];
};

/* ---- Small helpers ---------------------------------------------------------- */

#define NS_PER_SEC INT64_C(1000000000)
/* ---- issue 12: the wait schedule, as the table of docs/design.md ("Waits") --
 * Each value is a row of that table; shm/c/interop's TestWaitTableC prints
 * these macros and compares them with it (TestWaitTable does so for Go's). */
#define CHECK_EVERY 64u                           /* spins between clock readings (checkEvery) */
#define BLOCK_POLLS 64u                           /* Block: tries before a park is announced (blockPolls) */
#define SPIN_YIELD_NS INT64_C(50000)              /* Spin: from here on, yield at every clock read (spinYield) */
#define ADAPTIVE_SPIN_NS INT64_C(20000)           /* Adaptive: spin this long (spinFor)... */
#define ADAPTIVE_YIELD_NS INT64_C(100000)         /* ...then yield until this long, then park (yieldFor) */
#define MAX_SLEEP_NS (50 * INT64_C(1000000))      /* longest single sleep on a wait word (maxSleep) */
#define LIVENESS_TICK_NS (50 * INT64_C(1000000))  /* peer check, from the wait's start, then this often (livenessTick) */
#define OPEN_POLL_FIRST_NS INT64_C(20000)         /* open back-off: first sleep (openPollFirst)... */
#define OPEN_POLL_MAX_NS (5 * INT64_C(1000000))   /* ...doubling up to this (openPollMax) */
#define WAKE_POLL_FIRST_NS INT64_C(50000)         /* wait word without futex: poll back-off from here... */
#define WAKE_POLL_MAX_NS INT64_C(1000000)         /* ...up to this (sync/wake's pollWait) */
/* ---- end of issue 12's wait schedule ---------------------------------------- */
#define MAX_SEGMENT_SIZE (UINT64_C(1) << 40)      /* as shm.MaxSize on 64-bit */
#define MAX_RECORD_LEN UINT64_C(0xFFFFFFF8)       /* the record's len field is a u32 */

static uint64_t align8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

#if defined(_WIN32)
static int64_t mono_ns(void) {
	LARGE_INTEGER freq, now; /* the frequency is fixed at boot; reading it is cheap and needs no shared cache */
	QueryPerformanceFrequency(&freq);
	QueryPerformanceCounter(&now);
	int64_t f = (int64_t)freq.QuadPart, c = (int64_t)now.QuadPart;
	return c / f * NS_PER_SEC + c % f * NS_PER_SEC / f;
}

/* sleep_ns sleeps at least ns, in whole milliseconds (rounded up, so that a short sleep sleeps). */
static void sleep_ns(int64_t ns) {
	int64_t ms = (ns + 999999) / 1000000;
	Sleep((DWORD)(ms < 1 ? 1 : ms > 0x7FFFFFFF ? 0x7FFFFFFF : ms));
}

static void yield_cpu(void) { SwitchToThread(); }

static uint32_t self_pid(void) { return (uint32_t)GetCurrentProcessId(); }
#else
static int64_t mono_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}
#endif

/* deadline_of turns a relative timeout into an absolute one; -1 is none. */
static int64_t deadline_of(int64_t timeout_ns) {
	if (timeout_ns < 0) return -1;
	int64_t now = mono_ns();
	return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

#if !defined(_WIN32)
static void sleep_ns(int64_t ns) {
	struct timespec ts = {(time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static void yield_cpu(void) { sched_yield(); }

static uint32_t self_pid(void) { return (uint32_t)getpid(); }
#endif

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int little_endian(void) {
	const uint16_t one = 1;
	uint8_t b;
	memcpy(&b, &one, 1);
	return b == 1;
}

#if !defined(_WIN32)
/* errno_code classifies errno after a failed system call; errno stays set. */
static int errno_code(void) {
	switch (errno) {
	case EEXIST: return SHMCHAN_ERR_EXIST;
	case ENOENT: return SHMCHAN_ERR_NOT_EXIST;
	case EACCES:
	case EPERM: return SHMCHAN_ERR_PERMISSION;
	case ENOSPC: return SHMCHAN_ERR_NO_SPACE;
	case ENOSYS:
	case EOPNOTSUPP: return SHMCHAN_ERR_UNSUPPORTED;
	}
	return SHMCHAN_ERR_SYSTEM;
}
#endif

const char *shmchan_strerror(int err) {
	switch (err) {
	case SHMCHAN_OK: return "shmchan: success";
	case SHMCHAN_EOF: return "EOF";
	case SHMCHAN_ERR_CLOSED: return "shmchan: use of closed channel end";
	case SHMCHAN_ERR_BUSY: return "shmchan: role already claimed";
	case SHMCHAN_ERR_FULL: return "shmchan: channel full";
	case SHMCHAN_ERR_EMPTY: return "shmchan: channel empty";
	case SHMCHAN_ERR_TOO_LARGE: return "shmchan: message too large";
	case SHMCHAN_ERR_PEER_GONE: return "shmchan: peer process is gone";
	case SHMCHAN_ERR_CORRUPT: return "shmchan: corrupt shared memory";
	case SHMCHAN_ERR_NOT_CHANNEL: return "shmchan: segment is not a shmchan object";
	case SHMCHAN_ERR_VERSION_MISMATCH: return "shmchan: layout version mismatch";
	case SHMCHAN_ERR_NOT_READY: return "shmchan: segment not ready";
	case SHMCHAN_ERR_TIMEOUT: return "shmchan: i/o timeout";
	case SHMCHAN_ERR_INVALID_NAME: return "shmchan: invalid name";
	case SHMCHAN_ERR_INVALID_SIZE: return "shmchan: invalid size";
	case SHMCHAN_ERR_INCOMPATIBLE: return "shmchan: existing object has different parameters";
	case SHMCHAN_ERR_READ_ONLY: return "shmchan: segment is read-only";
	case SHMCHAN_ERR_EXIST: return "shmchan: file already exists";
	case SHMCHAN_ERR_NOT_EXIST: return "shmchan: file does not exist";
	case SHMCHAN_ERR_PERMISSION: return "shmchan: permission denied";
	case SHMCHAN_ERR_NO_SPACE: return "shmchan: no space for segment";
	case SHMCHAN_ERR_SHORT_BUFFER: return "shmchan: short buffer";
	case SHMCHAN_ERR_INVALID: return "shmchan: invalid argument";
	case SHMCHAN_ERR_UNSUPPORTED: return "shmchan: unsupported operation";
	case SHMCHAN_ERR_SYSTEM: return "shmchan: system error (see errno)";
	}
	return "shmchan: unknown error";
}

void shmchan_options_init(shmchan_options *o) {
	if (o == NULL) return;
	memset(o, 0, sizeof *o);
	o->mode = 0600;
	o->open_timeout_ns = SHMCHAN_DEFAULT_OPEN_TIMEOUT_NS;
	o->wait = SHMCHAN_WAIT_ADAPTIVE;
	o->allow_owner = -1;
}

static shmchan_options options_or_default(const shmchan_options *o) {
	shmchan_options d;
	if (o != NULL) return *o;
	shmchan_options_init(&d);
	return d;
}

/* ---- Forward declarations -------------------------------------------------------- */

/*
 * The sections below follow package shm's files: segments, channels (create
 * and open, records, roles, sending, receiving), mailboxes, waiting (wait
 * words and the wait engine) and process tokens. These are the parts of the
 * later sections that earlier ones call.
 */
struct waiter {
	int64_t deadline;   /* absolute, -1 for none */
	int64_t began;      /* first clock reading of the wait (0: none yet), for the adaptive strategy */
	int64_t next_check; /* next peer liveness check */
	unsigned spins;     /* attempts so far */
	int peer_dead;      /* the peer's owner is dead: one more attempt, then PEER_GONE */
	int armed;          /* park announced (park.1-2): the next wait sleeps (park.4), as Go's waiter */
	uint32_t armed_seq; /* the seq word loaded before the announcement (park.1) */
};
static int wword_open(struct wword *w, _Atomic uint32_t *addr, const shmchan_segment *seg, const char *suffix,
                      unsigned max_waiters);
static void wword_wait(struct wword *w, uint32_t val, int64_t ns);
static void wword_wake(struct wword *w);
static void wword_wake_n(struct wword *w, uint32_t n);
static void wword_close(struct wword *w);

/*
 * notify_parked wakes a channel peer that announced a park on its flag (notify.1-3) for the batch calls (the
 * per-message tx_commit and rx_consume write the same steps out): one load when the peer is awake, no system call. Found set, the exchange takes the announcement down, so that the peer is woken once per park,
 * not once per message until it runs again (as Go's notify). The caller has just made its seq_cst store: the
 * record header (send.7, send_batch.7) or head (release.2, recv_batch.5), which with the load below is a Dekker
 * pair with the peer's store of its flag then re-check in rx_wait or tx_wait.
 */
static inline void notify_parked(_Atomic uint32_t *parked, _Atomic uint32_t *seq, struct wword *word,
                                 struct stats_line *st) {
	/* STEP(notify.1) SYNC(rx_parked)/SYNC(tx_parked): seq_cst load, then the seq_cst exchange; pair with the
	 * peer's store in rx_wait or tx_wait. */
	if (atomic_load_explicit(parked, memory_order_seq_cst) && atomic_exchange_explicit(parked, 0, memory_order_seq_cst)) {
		/* STEP(notify.2) SYNC(data_seq)/SYNC(space_seq): release increment before the wake; pairs with the
		 * peer's load in rx_wait or tx_wait. */
		atomic_fetch_add_explicit(seq, 1, memory_order_release);
		/* STEP(notify.3) */
		wword_wake(word);
		count(&st->wakes, 1);
	}
}
static int role_open(shmchan_segment *seg, uint64_t start);
static void waiter_init(struct waiter *w, int64_t timeout_ns);
static int64_t sleep_budget(const struct waiter *w, int64_t now);
static int quick_retry(int wait, unsigned spins);
static int rx_wait(shmchan_receiver *rx, struct waiter *w);
static int tx_wait(shmchan_sender *tx, struct waiter *w);
static void rx_disarm(shmchan_receiver *rx, struct waiter *w);
static void tx_disarm(shmchan_sender *tx, struct waiter *w);
static void disarm(_Atomic uint32_t *parked, struct waiter *w);

/* ---- The fault guard ------------------------------------------------------------ */

/*
 * A peer that truncates the object makes the next access to the mapping raise
 * SIGBUS (or SIGSEGV). With shmchan_options.fault_guard, each public call that
 * touches a guarded segment's mapping runs inside GUARD_CALL: it records the
 * mapping's range in a thread-local frame and a jump buffer (sigsetjmp without
 * saving the signal mask: no system call), and the handler jumps back when
 * the faulting address lies in the armed range of the faulting thread, so that
 * the call returns SHMCHAN_ERR_CORRUPT. A fault anywhere else goes to the
 * handler installed before ours, or to the default action. The handlers use
 * SA_NODEFER so that jumping out of them leaves the signal unblocked.
 *
 * What the guard does not cover: the caller's own accesses to pointers that
 * shmchan_peek, shmchan_reserve or shmchan_segment_data handed out. A call
 * cut short by a fault leaves its handle in an unknown state: the caller
 * should close it (close is safe: it, too, is guarded).
 */
#if !defined(_WIN32)
struct guard_frame {
	sigjmp_buf env;
	uintptr_t lo, hi; /* the armed mapping */
	struct guard_frame *prev;
};

static _Thread_local struct guard_frame *volatile tl_guard;

static struct sigaction prev_bus, prev_segv;
static _Atomic int guard_state; /* 0: not installed, 1: installing, 2: installed */

static void fault_handler(int sig, siginfo_t *si, void *uc) {
	struct guard_frame *f = tl_guard;
	uintptr_t a = (uintptr_t)si->si_addr;
	if (f != NULL && a >= f->lo && a < f->hi) siglongjmp(f->env, 1);
	/* Not ours: chain. */
	struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	} else {
		/* The default action: restore it and return, so that the access faults again and kills. */
		signal(sig, SIG_DFL);
	}
}

/* guard_install installs the handlers once per process. */
static int guard_install(void) {
	int st = 0;
	/* Process-local state, no SYNC partner in shared memory. */
	if (atomic_compare_exchange_strong_explicit(&guard_state, &st, 1, memory_order_acq_rel, memory_order_acquire)) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = fault_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, &prev_bus) < 0 || sigaction(SIGSEGV, &sa, &prev_segv) < 0) {
			atomic_store_explicit(&guard_state, 0, memory_order_release);
			return SHMCHAN_ERR_SYSTEM;
		}
		atomic_store_explicit(&guard_state, 2, memory_order_release);
		return SHMCHAN_OK;
	}
	while (atomic_load_explicit(&guard_state, memory_order_acquire) == 1) yield_cpu();
	return atomic_load_explicit(&guard_state, memory_order_acquire) == 2 ? SHMCHAN_OK : guard_install();
}

/*
 * GUARD_CALL sets rc to call, or to SHMCHAN_ERR_CORRUPT if call faulted on
 * seg's mapping. It is a macro because sigsetjmp's frame must stay live.
 */
#define GUARD_CALL(seg, rc, call)                                                          \
	do {                                                                               \
		const shmchan_segment *gs_ = (seg);                                        \
		if (!gs_->guard) {                                                         \
			(rc) = (call);                                                     \
			break;                                                             \
		}                                                                          \
		struct guard_frame gf_;                                                    \
		gf_.lo = (uintptr_t)gs_->mem;                                              \
		gf_.hi = gf_.lo + (uintptr_t)gs_->size;                                    \
		gf_.prev = tl_guard;                                                       \
		if (sigsetjmp(gf_.env, 0) != 0) {                                          \
			tl_guard = gf_.prev;                                               \
			(rc) = SHMCHAN_ERR_CORRUPT;                                        \
			break;                                                             \
		}                                                                          \
		tl_guard = &gf_;                                                           \
		atomic_signal_fence(memory_order_seq_cst); /* armed before the accesses */ \
		(rc) = (call);                                                             \
		atomic_signal_fence(memory_order_seq_cst);                                 \
		tl_guard = gf_.prev;                                                       \
	} while (0)
#else
/* A paging-file section cannot shrink under its views: there is no fault to guard against. */
#define GUARD_CALL(seg, rc, call)   \
	do {                        \
		(void)(seg);        \
		(rc) = (call);      \
	} while (0)
#endif

/* ---- Segments ----------------------------------------------------------------- */


static int valid_name(const char *name) {
	if (name == NULL) return 0;
	size_t n = strlen(name);
	if (n == 0 || n > SHMCHAN_MAX_NAME_LEN) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') continue;
		if ((c == '-' || c == '.') && i > 0) continue;
		return 0;
	}
	return 1;
}

#if defined(_WIN32)
/*
 * Windows segments, as package shm's segment_windows.go: the segment "x" is
 * the named file mapping "Local\x" (or "Global\x" with opts.global), backed
 * by the paging file and mapped whole. The kernel deletes the name when its
 * last handle closes, so a segment keeps its mapping handle until close;
 * shmchan_segment_remove closes this process's handles for the name (its
 * segments stay mapped). Open learns the size from VirtualQuery, which
 * reports whole pages. The mode is ignored: the mapping gets the default
 * security descriptor of the process's token (the current user).
 */

/* win_code classifies a Win32 error, as Go's mappingError does, and sets errno to the POSIX equivalent. */
static int win_code(DWORD e) {
	switch (e) {
	case ERROR_ALREADY_EXISTS:
	case ERROR_INVALID_HANDLE: /* the name belongs to another kind of kernel object */
		errno = EEXIST;
		return SHMCHAN_ERR_EXIST;
	case ERROR_FILE_NOT_FOUND:
		errno = ENOENT;
		return SHMCHAN_ERR_NOT_EXIST;
	case ERROR_ACCESS_DENIED:
		errno = EACCES;
		return SHMCHAN_ERR_PERMISSION;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
	case ERROR_COMMITMENT_LIMIT:
	case ERROR_DISK_FULL:
		errno = ENOSPC;
		return SHMCHAN_ERR_NO_SPACE;
	}
	errno = EIO;
	return SHMCHAN_ERR_SYSTEM;
}

/* The process's open segments, so that shmchan_segment_remove can close their handles. */
static SRWLOCK segments_lock = SRWLOCK_INIT;
static shmchan_segment *segments;

/* object_name writes the kernel object name of a segment, in UTF-16 (names are ASCII). */
static void object_name(WCHAR out[SHMCHAN_MAX_NAME_LEN + 8], const char *name, int global) {
	const char *ns = global ? "Global\\" : "Local\\";
	size_t i = 0;
	for (; *ns != '\0'; ns++) out[i++] = (WCHAR)*ns;
	for (; *name != '\0'; name++) out[i++] = (WCHAR)*name;
	out[i] = 0;
}

/* map_whole maps the mapping h; size 0 reads the size back from VirtualQuery (whole pages). */
static int map_whole(HANDLE h, int read_only, uint64_t *size, void **mem) {
	void *p = MapViewOfFile(h, FILE_MAP_READ | (read_only ? 0 : FILE_MAP_WRITE), 0, 0, 0);
	if (p == NULL) return win_code(GetLastError());
	if (*size == 0) {
		MEMORY_BASIC_INFORMATION mbi;
		if (VirtualQuery(p, &mbi, sizeof mbi) == 0) {
			DWORD e = GetLastError();
			UnmapViewOfFile(p);
			return win_code(e);
		}
		*size = (uint64_t)mbi.RegionSize;
	}
	*mem = p;
	return SHMCHAN_OK;
}

static int new_segment(const char *name, HANDLE h, void *mem, uint64_t size, const shmchan_options *o,
                       shmchan_segment **out) {
	shmchan_segment *s = (shmchan_segment *)calloc(1, sizeof *s);
	if (s == NULL) {
		UnmapViewOfFile(mem);
		CloseHandle(h);
		errno = ENOMEM;
		return SHMCHAN_ERR_SYSTEM;
	}
	memcpy(s->name, name, strlen(name) + 1);
	s->mem = mem;
	s->size = size;
	s->read_only = o->read_only != 0;
	s->remove_on_close = o->remove_on_close != 0;
	s->global = o->global != 0;
	s->guard = o->fault_guard != 0; /* a paging-file section cannot shrink: nothing to guard against */
	s->mapping = h;
	AcquireSRWLockExclusive(&segments_lock);
	s->next = segments;
	segments = s;
	ReleaseSRWLockExclusive(&segments_lock);
	*out = s;
	return SHMCHAN_OK;
}

static int create_segment(const char *name, uint64_t size, const shmchan_options *o, shmchan_segment **out) {
	WCHAR obj[SHMCHAN_MAX_NAME_LEN + 8];
	object_name(obj, name, o->global);
	SetLastError(0);
	HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, (DWORD)(size >> 32), (DWORD)size, obj);
	DWORD e = GetLastError();
	if (h == NULL) return win_code(e);
	if (e == ERROR_ALREADY_EXISTS) {
		/* CreateFileMappingW opened the existing object and said so: create must not open it. */
		CloseHandle(h);
		return win_code(e);
	}
	void *mem;
	int rc = map_whole(h, o->read_only, &size, &mem);
	if (rc != SHMCHAN_OK) {
		CloseHandle(h);
		return rc;
	}
	return new_segment(name, h, mem, size, o, out);
}

static int open_segment(const char *name, const shmchan_options *o, shmchan_segment **out) {
	WCHAR obj[SHMCHAN_MAX_NAME_LEN + 8];
	object_name(obj, name, o->global);
	/* A mapping is created with its size: there is no unsized window to wait out, as there is on POSIX. */
	HANDLE h = OpenFileMappingW(FILE_MAP_READ | (o->read_only ? 0 : FILE_MAP_WRITE), FALSE, obj);
	if (h == NULL) return win_code(GetLastError());
	uint64_t size = 0;
	void *mem;
	int rc = map_whole(h, o->read_only, &size, &mem);
	if (rc == SHMCHAN_OK && size > MAX_SEGMENT_SIZE) {
		UnmapViewOfFile(mem);
		rc = SHMCHAN_ERR_INVALID_SIZE;
	}
	if (rc != SHMCHAN_OK) {
		CloseHandle(h);
		return rc;
	}
	return new_segment(name, h, mem, size, o, out);
}

/* release_all closes every mapping handle this process holds for name; it returns how many it closed. */
static int release_all(const char *name) {
	int n = 0;
	AcquireSRWLockExclusive(&segments_lock);
	for (shmchan_segment *s = segments; s != NULL; s = s->next) {
		if (s->mapping != NULL && strcmp(s->name, name) == 0) {
			CloseHandle(s->mapping);
			s->mapping = NULL;
			n++;
		}
	}
	ReleaseSRWLockExclusive(&segments_lock);
	return n;
}
#else
/* Linux documents O_CLOEXEC for shm_open (and sets it anyway); POSIX and macOS list only
 * O_RDONLY, O_RDWR, O_CREAT, O_EXCL and O_TRUNC. The descriptor stays open with the segment:
 * the role locks are taken through it, and O_CLOEXEC keeps an exec'd child from holding them. */
#if defined(__linux__)
#define SHM_CLOEXEC O_CLOEXEC
#else
#define SHM_CLOEXEC 0
#endif

/* set_cloexec keeps the descriptor, which lives as long as the segment, out of exec'd children. */
static void set_cloexec(int fd) {
#if !defined(__linux__)
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
#else
	(void)fd; /* shm_open took O_CLOEXEC */
#endif
}

static void object_name(char out[SHMCHAN_MAX_NAME_LEN + 2], const char *name) {
	out[0] = '/';
	memcpy(out + 1, name, strlen(name) + 1);
}

/* new_segment wraps a mapping and the descriptor it keeps (for the role locks); on failure it releases both. */
static int new_segment(const char *name, int fd, void *mem, uint64_t size, const shmchan_options *o,
                       shmchan_segment **out) {
	shmchan_segment *s = (shmchan_segment *)calloc(1, sizeof *s);
	if (s == NULL) {
		munmap(mem, (size_t)size);
		close(fd);
		errno = ENOMEM;
		return SHMCHAN_ERR_SYSTEM;
	}
	memcpy(s->name, name, strlen(name) + 1);
	s->mem = mem;
	s->size = size;
	s->read_only = o->read_only != 0;
	s->remove_on_close = o->remove_on_close != 0;
	s->global = o->global != 0;
	s->guard = o->fault_guard != 0;
	s->fd = fd;
	if (s->guard && guard_install() != SHMCHAN_OK) {
		int saved = errno;
		munmap(mem, (size_t)size);
		close(fd);
		free(s);
		errno = saved;
		return SHMCHAN_ERR_SYSTEM;
	}
	*out = s;
	return SHMCHAN_OK;
}

/* create_segment creates, sizes, reserves and maps; on failure nothing is left behind. */
static int create_segment(const char *name, uint64_t size, const shmchan_options *o, shmchan_segment **out) {
	char oname[SHMCHAN_MAX_NAME_LEN + 2];
	object_name(oname, name);
	int fd = shm_open(oname, O_RDWR | O_CREAT | O_EXCL | SHM_CLOEXEC, (mode_t)(o->mode & 0777));
	if (fd < 0) return errno_code();
	set_cloexec(fd);
	int rc = SHMCHAN_OK;
	void *mem = MAP_FAILED;
	/* shm_open applies the umask; the caller asked for exactly this mode. */
	if (fchmod(fd, (mode_t)(o->mode & 0777)) < 0 || ftruncate(fd, (off_t)size) < 0) {
		rc = errno_code();
		goto fail;
	}
#if defined(__linux__)
	/* Commit the memory now, so a full /dev/shm fails here and not as SIGBUS on first touch. */
	int r;
	do {
		r = posix_fallocate(fd, 0, (off_t)size);
	} while (r == EINTR);
	if (r != 0) {
		errno = r;
		rc = errno_code();
		goto fail;
	}
#endif
	mem = mmap(NULL, (size_t)size, PROT_READ | (o->read_only ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		rc = errno_code();
		goto fail;
	}
	return new_segment(name, fd, mem, size, o, out);
fail : {
	int saved = errno;
	close(fd);
	shm_unlink(oname);
	errno = saved;
	return rc;
}
}

static int open_segment(const char *name, const shmchan_options *o, shmchan_segment **out) {
	char oname[SHMCHAN_MAX_NAME_LEN + 2];
	object_name(oname, name);
	int fd = shm_open(oname, (o->read_only ? O_RDONLY : O_RDWR) | SHM_CLOEXEC, 0);
	if (fd < 0) return errno_code();
	set_cloexec(fd);
	/* A creator sizes the object right after creating it: wait for that. */
	int64_t deadline = deadline_of(o->open_timeout_ns);
	struct stat st;
	for (int64_t delay = OPEN_POLL_FIRST_NS;; delay = delay * 2 < OPEN_POLL_MAX_NS ? delay * 2 : OPEN_POLL_MAX_NS) {
		if (fstat(fd, &st) < 0) {
			int rc = errno_code(), saved = errno;
			close(fd);
			errno = saved;
			return rc;
		}
		/* The owner check (docs/layout.md, "Owner check"): a squatter's object is refused. */
		if (st.st_uid != geteuid() && (o->allow_owner < 0 || (uint64_t)st.st_uid != (uint64_t)o->allow_owner)) {
			close(fd);
			errno = EACCES;
			return SHMCHAN_ERR_PERMISSION;
		}
		if (st.st_size > 0) break;
		if (deadline >= 0 && mono_ns() >= deadline) {
			close(fd);
			return SHMCHAN_ERR_NOT_READY;
		}
		sleep_ns(delay);
	}
	if ((uint64_t)st.st_size > MAX_SEGMENT_SIZE || (uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
		close(fd);
		return SHMCHAN_ERR_INVALID_SIZE;
	}
	uint64_t size = (uint64_t)st.st_size;
	void *mem = mmap(NULL, (size_t)size, PROT_READ | (o->read_only ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int rc = errno_code(), saved = errno;
		close(fd);
		errno = saved;
		return rc;
	}
	return new_segment(name, fd, mem, size, o, out);
}
#endif

static int check_size(uint64_t size) {
	return size == 0 || size > MAX_SEGMENT_SIZE || size > (uint64_t)SIZE_MAX ? SHMCHAN_ERR_INVALID_SIZE : SHMCHAN_OK;
}

int shmchan_segment_create(const char *name, uint64_t size, const shmchan_options *opts, shmchan_segment **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	int rc = check_size(size);
	if (rc != SHMCHAN_OK) return rc;
	shmchan_options o = options_or_default(opts);
	return create_segment(name, size, &o, out);
}

int shmchan_segment_open(const char *name, const shmchan_options *opts, shmchan_segment **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	shmchan_options o = options_or_default(opts);
	return open_segment(name, &o, out);
}

int shmchan_segment_open_or_create(const char *name, uint64_t size, const shmchan_options *opts,
                                   shmchan_segment **out, int *created) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (created != NULL) *created = 0;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	int rc = check_size(size);
	if (rc != SHMCHAN_OK) return rc;
	shmchan_options o = options_or_default(opts);
	int64_t deadline = deadline_of(o.open_timeout_ns);
	for (;;) {
		rc = create_segment(name, size, &o, out);
		if (rc == SHMCHAN_OK) {
			if (created != NULL) *created = 1;
			return rc;
		}
		if (rc != SHMCHAN_ERR_EXIST) return rc;
		rc = open_segment(name, &o, out);
		/* Removed between our create and open: try again, within the deadline. */
		if (rc != SHMCHAN_ERR_NOT_EXIST || (deadline >= 0 && mono_ns() >= deadline)) return rc;
	}
}

#if defined(_WIN32)
static void roles_close(shmchan_segment *seg);

int shmchan_segment_close(shmchan_segment *seg) {
	if (seg == NULL) return SHMCHAN_OK;
	int rc = SHMCHAN_OK;
	roles_close(seg); /* releases a role still held (close.4) and closes the mutexes */
	if (!UnmapViewOfFile(seg->mem)) rc = win_code(GetLastError());
	AcquireSRWLockExclusive(&segments_lock);
	for (shmchan_segment **p = &segments; *p != NULL; p = &(*p)->next) {
		if (*p == seg) {
			*p = seg->next;
			break;
		}
	}
	HANDLE h = seg->mapping; /* NULL if shmchan_segment_remove closed it */
	ReleaseSRWLockExclusive(&segments_lock);
	if (h != NULL && !CloseHandle(h) && rc == SHMCHAN_OK) rc = win_code(GetLastError());
	/* remove_on_close: release the process's other handles for the name as well. */
	if (seg->remove_on_close) release_all(seg->name);
	free(seg);
	return rc;
}

/*
 * shmchan_segment_remove closes this process's handles for name (its
 * segments stay mapped and usable). If it holds none it only reports whether
 * the name exists, in either namespace: another process's handles keep it
 * alive and cannot be closed from here.
 */
int shmchan_segment_remove(const char *name) {
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	if (release_all(name) > 0) return SHMCHAN_OK;
	for (int global = 0; global < 2; global++) {
		WCHAR obj[SHMCHAN_MAX_NAME_LEN + 8];
		object_name(obj, name, global);
		HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, obj);
		if (h != NULL) {
			CloseHandle(h);
			return SHMCHAN_OK;
		}
		DWORD e = GetLastError();
		if (e != ERROR_FILE_NOT_FOUND) return win_code(e);
	}
	return win_code(ERROR_FILE_NOT_FOUND);
}
#else
int shmchan_segment_close(shmchan_segment *seg) {
	if (seg == NULL) return SHMCHAN_OK;
	int rc = SHMCHAN_OK, saved = 0;
	if (munmap(seg->mem, (size_t)seg->size) < 0) {
		rc = errno_code();
		saved = errno;
	}
	/* Closing the descriptor releases any role lock still held through it (docs/layout.md, close.4). */
	close(seg->fd);
	if (seg->remove_on_close) {
		char oname[SHMCHAN_MAX_NAME_LEN + 2];
		object_name(oname, seg->name);
		if (shm_unlink(oname) < 0 && rc == SHMCHAN_OK) {
			rc = errno_code();
			saved = errno;
		}
	}
	free(seg);
	if (rc != SHMCHAN_OK) errno = saved;
	return rc;
}

int shmchan_segment_remove(const char *name) {
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	char oname[SHMCHAN_MAX_NAME_LEN + 2];
	object_name(oname, name);
	return shm_unlink(oname) < 0 ? errno_code() : SHMCHAN_OK;
}
#endif

void *shmchan_segment_data(const shmchan_segment *seg) { return seg == NULL ? NULL : seg->mem; }

uint64_t shmchan_segment_size(const shmchan_segment *seg) { return seg == NULL ? 0 : seg->size; }

const char *shmchan_segment_name(const shmchan_segment *seg) { return seg == NULL ? NULL : seg->name; }

/* ---- Channels: create and open ------------------------------------------------ */

static int valid_capacity(uint64_t cap) {
	return cap >= SHMCHAN_MIN_CAPACITY && cap <= SHMCHAN_MAX_CAPACITY && (cap & (cap - 1)) == 0;
}

/* init_header fills a fresh, zero-filled segment and stores the version last. */
static void init_header(struct chan_header *h, uint64_t cap) {
	/* STEP(create.2) SYNC(version): relaxed; published by the release store of version below. */
	atomic_store_explicit(&h->magic, SHMCHAN_MAGIC, memory_order_relaxed);
	h->header_size = SHMCHAN_HEADER_SIZE;
	h->flags = SHMCHAN_FLAG_STATS; /* the counter lines are zero, as the segment is */
	h->capacity = cap;
	h->data_offset = SHMCHAN_OFF_DATA;
	h->max_message = cap / 2 - SHMCHAN_RECORD_HEADER;
	h->creator = shmchan_self_token();
	/* STEP(create.3) SYNC(version): release, stored last; pairs with the acquire in check_header (and Go's opener). */
	atomic_store_explicit(&h->version, SHMCHAN_LAYOUT_VERSION, memory_order_release);
}

/*
 * check_header runs the opener's checks of docs/layout.md, in order, and
 * returns the checked capacity in *capacity: the caller uses that copy and
 * never reads the peer-writable field again.
 */
static int check_header(const shmchan_segment *seg, int64_t open_timeout_ns, uint64_t *capacity) {
	/* STEP(open.1) */
	if (seg->size < SHMCHAN_HEADER_SIZE) return SHMCHAN_ERR_NOT_CHANNEL;
	struct chan_header *h = (struct chan_header *)seg->mem;
	int64_t deadline = deadline_of(open_timeout_ns);
	uint32_t magic, version;
	for (int64_t delay = OPEN_POLL_FIRST_NS;; delay = delay * 2 < OPEN_POLL_MAX_NS ? delay * 2 : OPEN_POLL_MAX_NS) {
		/* STEP(open.2) SYNC(version): acquire; pairs with the creator's release store of version. */
		version = atomic_load_explicit(&h->version, memory_order_acquire);
		/* SYNC(version): relaxed peek at magic; the creator writes it before the version. */
		magic = atomic_load_explicit(&h->magic, memory_order_relaxed);
		if (magic != 0 && magic != SHMCHAN_MAGIC) return SHMCHAN_ERR_NOT_CHANNEL;
		if (version != 0) break;
		if (deadline >= 0 && mono_ns() >= deadline) return SHMCHAN_ERR_NOT_READY;
		sleep_ns(delay);
	}
	/* STEP(open.3) */
	if (magic != SHMCHAN_MAGIC) return SHMCHAN_ERR_NOT_CHANNEL;
	if (version != SHMCHAN_LAYOUT_VERSION || !little_endian()) return SHMCHAN_ERR_VERSION_MISMATCH;
	/* STEP(open.4) */
	if (h->header_size != SHMCHAN_HEADER_SIZE || h->data_offset != SHMCHAN_OFF_DATA ||
	    (h->flags & SHMCHAN_FLAGS_INCOMPATIBLE_MASK) != 0)
		return SHMCHAN_ERR_VERSION_MISMATCH;
	/* STEP(open.5) */
	uint64_t cap = h->capacity;
	if (!valid_capacity(cap) || cap > seg->size - SHMCHAN_OFF_DATA ||
	    h->max_message != cap / 2 - SHMCHAN_RECORD_HEADER)
		return SHMCHAN_ERR_CORRUPT;
	*capacity = cap;
	return SHMCHAN_OK;
}

static int new_channel(shmchan_segment *seg, uint64_t cap, const shmchan_options *o, shmchan_channel **out) {
	shmchan_channel *ch = (shmchan_channel *)calloc(1, sizeof *ch);
	if (ch == NULL) {
		errno = ENOMEM;
		return SHMCHAN_ERR_SYSTEM;
	}
	ch->seg = seg;
	ch->h = (struct chan_header *)seg->mem;
	ch->data = (uint8_t *)seg->mem + SHMCHAN_OFF_DATA;
	/* STEP(open.6) Checked by check_header or written by us: never re-read from shared memory. */
	ch->cap = cap;
	ch->mask = cap - 1;
	ch->max_msg = cap / 2 - SHMCHAN_RECORD_HEADER < MAX_RECORD_LEN ? cap / 2 - SHMCHAN_RECORD_HEADER : MAX_RECORD_LEN;
	ch->wait = o->wait;
	ch->tx_st = &ch->local[0];
	ch->rx_st = &ch->local[1];
	if (ch->h->flags & SHMCHAN_FLAG_STATS) {
		ch->tx_st = &ch->h->tx_stats;
		ch->rx_st = &ch->h->rx_stats;
	}
	/* The wait words, named (on Windows) as Go's channel names them: name + ".data", name + ".space". */
	int rc = wword_open(&ch->data_word, &ch->h->data_seq, seg, ".data", 1);
	if (rc == SHMCHAN_OK) {
		rc = wword_open(&ch->space_word, &ch->h->space_seq, seg, ".space", 1);
		if (rc != SHMCHAN_OK) wword_close(&ch->data_word);
	}
	/* The role locks (Windows: the mutexes, which the segment's close closes). */
	if (rc == SHMCHAN_OK && ((rc = role_open(seg, SHMCHAN_LOCK_TX)) != SHMCHAN_OK ||
	                         (rc = role_open(seg, SHMCHAN_LOCK_RX)) != SHMCHAN_OK)) {
		wword_close(&ch->space_word);
		wword_close(&ch->data_word);
	}
	if (rc != SHMCHAN_OK) {
		free(ch);
		return rc;
	}
	*out = ch;
	return SHMCHAN_OK;
}

static int channel_options(const shmchan_options *opts, shmchan_options *o) {
	*o = options_or_default(opts);
	if (o->read_only) return SHMCHAN_ERR_READ_ONLY;
	if (o->wait != SHMCHAN_WAIT_ADAPTIVE && o->wait != SHMCHAN_WAIT_SPIN && o->wait != SHMCHAN_WAIT_BLOCK)
		return SHMCHAN_ERR_INVALID;
	return SHMCHAN_OK;
}

/* finish_open wraps seg in a channel or, on failure, closes seg (removing it if we created it). */
static int finish_open(shmchan_segment *seg, int created, uint64_t want_cap, const shmchan_options *o,
                       shmchan_channel **out) {
	int rc = SHMCHAN_OK;
	uint64_t cap = want_cap;
	if (created) {
		GUARD_CALL(seg, rc, (init_header((struct chan_header *)seg->mem, want_cap), SHMCHAN_OK));
	} else {
		GUARD_CALL(seg, rc, check_header(seg, o->open_timeout_ns, &cap));
		if (rc == SHMCHAN_OK && want_cap != 0 && cap != want_cap) rc = SHMCHAN_ERR_INCOMPATIBLE;
	}
	if (rc == SHMCHAN_OK) rc = new_channel(seg, cap, o, out);
	if (rc != SHMCHAN_OK) {
		int saved = errno;
		if (created) seg->remove_on_close = 1;
		shmchan_segment_close(seg);
		errno = saved;
	}
	return rc;
}

int shmchan_channel_create(const char *name, uint64_t capacity, const shmchan_options *opts,
                           shmchan_channel **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	shmchan_options o;
	int rc = channel_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	if (!valid_capacity(capacity)) return SHMCHAN_ERR_INVALID_SIZE;
	if (!little_endian()) return SHMCHAN_ERR_UNSUPPORTED;
	shmchan_segment *seg;
	/* STEP(create.1) Create exclusively, size and map: the bytes are zero. */
	rc = create_segment(name, SHMCHAN_HEADER_SIZE + capacity, &o, &seg);
	if (rc != SHMCHAN_OK) return rc;
	return finish_open(seg, 1, capacity, &o, out);
}

int shmchan_channel_open(const char *name, const shmchan_options *opts, shmchan_channel **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	shmchan_options o;
	int rc = channel_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	shmchan_segment *seg;
	/* STEP(open.1) Open, the owner check, map; the kind's check tests the size. */
	rc = open_segment(name, &o, &seg);
	if (rc != SHMCHAN_OK) return rc;
	return finish_open(seg, 0, 0, &o, out);
}

int shmchan_channel_open_or_create(const char *name, uint64_t capacity, const shmchan_options *opts,
                                   shmchan_channel **out, int *created) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (created != NULL) *created = 0;
	shmchan_options o;
	int rc = channel_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	if (!valid_capacity(capacity)) return SHMCHAN_ERR_INVALID_SIZE;
	if (!little_endian()) return SHMCHAN_ERR_UNSUPPORTED;
	shmchan_segment *seg;
	int made = 0;
	/* STEP(create.1) STEP(open.1) Whichever applies, without a race. */
	rc = shmchan_segment_open_or_create(name, SHMCHAN_HEADER_SIZE + capacity, &o, &seg, &made);
	if (rc != SHMCHAN_OK) return rc;
	rc = finish_open(seg, made, capacity, &o, out);
	if (rc == SHMCHAN_OK && created != NULL) *created = made;
	return rc;
}

int shmchan_channel_close(shmchan_channel *ch) {
	if (ch == NULL) return SHMCHAN_OK;
	if (ch->tx.open) shmchan_sender_close(&ch->tx);
	if (ch->rx.open) shmchan_receiver_close(&ch->rx);
	wword_close(&ch->space_word);
	wword_close(&ch->data_word);
	int rc = shmchan_segment_close(ch->seg);
	free(ch);
	return rc;
}

uint64_t shmchan_channel_capacity(const shmchan_channel *ch) { return ch == NULL ? 0 : ch->cap; }

uint64_t shmchan_channel_max_message(const shmchan_channel *ch) { return ch == NULL ? 0 : ch->max_msg; }

shmchan_segment *shmchan_channel_segment(const shmchan_channel *ch) { return ch == NULL ? NULL : ch->seg; }

/* ---- Records -------------------------------------------------------------------- */

/*
 * Records are published in line (docs/layout.md, "Data region"): the header
 * of a record is one little-endian u64 (length in the low half, kind in the
 * high half) stored atomically after the payload and after a zero
 * terminator where the next record will go. The receiver polls the header
 * word at its own position: zero is empty, anything else a complete record.
 */

/* word returns the header word at ring position at (a multiple of 8 below the capacity). */
static _Atomic uint64_t *word(const shmchan_channel *ch, uint64_t at) {
	return (_Atomic uint64_t *)(void *)(ch->data + at);
}

static uint64_t record_header(uint64_t len, uint64_t kind) { return kind << 32 | len; }

/*
 * record checks the header hdr found at ring position at and returns the
 * bytes the record occupies (*step), whether it is padding, and its payload
 * length. A padding record never sits at 0 and fills the region to its end;
 * a message is at most max_message bytes and does not cross the end.
 */
static int record(const shmchan_channel *ch, uint64_t hdr, uint64_t at, uint64_t *step, int *pad, uint64_t *len) {
	uint64_t n = hdr & 0xFFFFFFFFu, kind = hdr >> 32, room = ch->cap - at;
	if (kind == SHMCHAN_KIND_PADDING) {
		if (at == 0 || n != room - SHMCHAN_RECORD_HEADER) return SHMCHAN_ERR_CORRUPT;
		*step = room;
		*pad = 1;
		*len = 0;
		return SHMCHAN_OK;
	}
	if (kind == SHMCHAN_KIND_MESSAGE) {
		uint64_t s = SHMCHAN_RECORD_HEADER + align8(n);
		if (n > ch->max_msg || s > room) return SHMCHAN_ERR_CORRUPT;
		*step = s;
		*pad = 0;
		*len = n;
		return SHMCHAN_OK;
	}
	return SHMCHAN_ERR_CORRUPT;
}

/* ---- Roles --------------------------------------------------------------------- */

/*
 * Role locks (docs/layout.md, "Role locks"). On Linux a role is held by an
 * open-file-description lock on the 8 bytes of its owner field, taken
 * through the segment's descriptor; on Windows by a named mutex per role,
 * owned by a thread kept for the purpose. The kernel releases either when
 * the holder dies, whatever its PID namespace, and it is what a waiter asks
 * about the peer. Elsewhere (macOS) the owner token is judged, as in layout
 * version 1.
 */
#if defined(__linux__) && defined(F_OFD_SETLK)
#define ROLE_LOCKS 1
#elif defined(_WIN32)
#define ROLE_LOCKS 1
#else
#define ROLE_LOCKS 0
#endif

int shmchan_role_locks(void) { return ROLE_LOCKS; }

#if defined(_WIN32)
/*
 * Windows, as Go's internal/platform/lock_windows.go: the role of segment
 * "x" is the mutex "Local\shmchan.role:x.sender" (".receiver", ".writer"),
 * or "Global\..." for a Global segment, created or opened by every handle of
 * the channel or mailbox. A claim asks the slot's owner thread (started by
 * the first claim, ended by roles_close) to wait for the mutex (WAIT_OBJECT_0,
 * or WAIT_ABANDONED when the previous owner died holding it); the thread keeps
 * it until role_unlock asks it to release: a mutex belongs to a thread, and
 * the caller's thread may exit, or close the role from another thread. The kernel abandons the mutex when its thread or
 * process ends, so a holder's death frees the role.
 *
 * role_held asks without a query call (the documented API has none): a wait
 * with a zero timeout that, if it succeeds, is released at once. For that
 * instant the probe owns the mutex, so a claim waits up to CLAIM_WAIT_MS
 * for it before it says BUSY.
 */
#define CLAIM_WAIT_MS 20

static const char *const role_names[ROLE_COUNT] = {"sender", "receiver", "writer"};

/* role_index maps a role's lock offset (SHMCHAN_LOCK_*) to its slot in seg->roles. */
static int role_index(uint64_t start) {
	return start == SHMCHAN_LOCK_TX ? 0 : start == SHMCHAN_LOCK_RX ? 1 : 2;
}

/* role_open creates the role's mutex, or opens it if a peer created it first. */
static int role_open(shmchan_segment *seg, uint64_t start) {
	struct role_mutex *r = &seg->roles[role_index(start)];
	char obj[128];
	WCHAR wobj[128];
	int n = snprintf(obj, sizeof obj, "%s\\shmchan.role:%s.%s", seg->global ? "Global" : "Local", seg->name,
	                 role_names[role_index(start)]);
	if (n < 0 || (size_t)n >= sizeof obj) return SHMCHAN_ERR_INVALID_NAME;
	for (int i = 0; i <= n; i++) wobj[i] = (WCHAR)(unsigned char)obj[i];
	/* Not owned, default security (the current user), not inheritable; ERROR_ALREADY_EXISTS with a
	 * valid handle is success. */
	r->mutex = CreateMutexW(NULL, FALSE, wobj);
	if (r->mutex == NULL && GetLastError() == ERROR_ACCESS_DENIED)
		r->mutex = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, wobj);
	if (r->mutex == NULL) return win_code(GetLastError());
	return SHMCHAN_OK;
}

enum { ROLE_OP_CLAIM, ROLE_OP_RELEASE, ROLE_OP_EXIT };

/*
 * role_owner is a role slot's owner thread: it takes and releases the mutex
 * on request, so that both happen on one thread, and blocks in between. It
 * lives from the slot's first claim to roles_close, so that a claim costs one
 * event round trip and a wait, not a thread creation. Under Wine 8.0 the
 * 40 000 claims and releases of test_fuzz took 134.6 s with a thread per
 * claim, 19.7 s with this thread and SetEvent plus WaitForSingleObject, and
 * 10.3 s with SignalObjectAndWait, which sets one event and waits on the
 * other in one call (0.59 s with layout-1 tokens). The events order op and
 * result between the two threads.
 */
static DWORD WINAPI role_owner(LPVOID arg) {
	struct role_mutex *r = (struct role_mutex *)arg;
	WaitForSingleObject(r->request, INFINITE);
	for (;;) {
		int op = r->op;
		if (op == ROLE_OP_CLAIM) {
			DWORD w = WaitForSingleObject(r->mutex, CLAIM_WAIT_MS);
			/* WAIT_ABANDONED: the previous holder died holding it; the role is ours all the same. */
			r->result = w == WAIT_OBJECT_0 || w == WAIT_ABANDONED ? SHMCHAN_OK
			            : w == WAIT_TIMEOUT                       ? SHMCHAN_ERR_BUSY
			                                                      : SHMCHAN_ERR_SYSTEM;
		} else if (op == ROLE_OP_RELEASE) {
			/* Should it fail, the thread's exit at roles_close abandons the mutex all the same. */
			r->result = ReleaseMutex(r->mutex) ? SHMCHAN_OK : SHMCHAN_ERR_SYSTEM;
		} else {
			r->result = SHMCHAN_OK;
		}
		if (op == ROLE_OP_EXIT) {
			SetEvent(r->reply);
			return 0;
		}
		SignalObjectAndWait(r->reply, r->request, INFINITE, FALSE);
	}
}

/* role_call asks the owner thread to carry out op and returns its result. */
static int role_call(struct role_mutex *r, int op) {
	r->op = op;
	SignalObjectAndWait(r->request, r->reply, INFINITE, FALSE);
	return r->result;
}

/* role_lock takes the role's mutex on the owner thread: OK, BUSY if another thread holds it. */
static int role_lock(shmchan_segment *seg, uint64_t start) {
	struct role_mutex *r = &seg->roles[role_index(start)];
	if (r->mutex == NULL) return SHMCHAN_ERR_INVALID;
	if (r->held) return SHMCHAN_ERR_BUSY; /* this handle holds it already */
	if (r->thread == NULL) {
		if (r->request == NULL) r->request = CreateEventW(NULL, FALSE, FALSE, NULL);
		if (r->reply == NULL) r->reply = CreateEventW(NULL, FALSE, FALSE, NULL);
		if (r->request != NULL && r->reply != NULL)
			r->thread = CreateThread(NULL, 64 * 1024, role_owner, r, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
		if (r->thread == NULL) return win_code(GetLastError()); /* the events are closed by roles_close */
	}
	int rc = role_call(r, ROLE_OP_CLAIM);
	r->held = rc == SHMCHAN_OK;
	return rc;
}

/* role_unlock makes the owner thread release the mutex and waits until it has (close.4). */
static void role_unlock(shmchan_segment *seg, uint64_t start) {
	struct role_mutex *r = &seg->roles[role_index(start)];
	if (!r->held) return;
	r->held = 0;
	(void)role_call(r, ROLE_OP_RELEASE);
}

/* role_held reports whether some thread holds the role's mutex (live.2); a dead holder's reads as free. */
static int role_held(shmchan_segment *seg, uint64_t start) {
	struct role_mutex *r = &seg->roles[role_index(start)];
	if (r->mutex == NULL) return 1;
	DWORD w = WaitForSingleObject(r->mutex, 0);
	if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) {
		/* Free, or abandoned by a dead holder: ours now; give it back at once (same thread). */
		ReleaseMutex(r->mutex);
		return 0;
	}
	/* WAIT_TIMEOUT: held. A failed wait says "held" too: a false "dead" would hand a live role away. */
	return 1;
}

/* roles_close releases a role this segment handle still holds, ends the owner threads, closes the mutexes. */
static void roles_close(shmchan_segment *seg) {
	for (int i = 0; i < ROLE_COUNT; i++) {
		struct role_mutex *r = &seg->roles[i];
		if (r->held) {
			r->held = 0;
			(void)role_call(r, ROLE_OP_RELEASE);
		}
		if (r->thread != NULL) {
			(void)role_call(r, ROLE_OP_EXIT);
			WaitForSingleObject(r->thread, INFINITE);
			CloseHandle(r->thread);
		}
		if (r->request != NULL) CloseHandle(r->request);
		if (r->reply != NULL) CloseHandle(r->reply);
		if (r->mutex != NULL) CloseHandle(r->mutex);
		memset(r, 0, sizeof *r);
	}
}
#elif ROLE_LOCKS
static int role_open(shmchan_segment *seg, uint64_t start) {
	(void)seg;
	(void)start;
	return SHMCHAN_OK; /* the range needs nothing opened: the segment keeps its descriptor */
}

static struct flock role_range(short type, uint64_t start) {
	struct flock fl;
	memset(&fl, 0, sizeof fl); /* l_pid must be 0 for the OFD commands */
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)start;
	fl.l_len = SHMCHAN_LOCK_LEN;
	return fl;
}

/* role_lock takes the role's lock without waiting: OK, BUSY if another description holds it. */
static int role_lock(shmchan_segment *seg, uint64_t start) {
	struct flock fl = role_range(F_WRLCK, start);
	int r;
	do {
		r = fcntl(seg->fd, F_OFD_SETLK, &fl);
	} while (r < 0 && errno == EINTR);
	if (r == 0) return SHMCHAN_OK;
	if (errno == EAGAIN || errno == EACCES) return SHMCHAN_ERR_BUSY;
	if (errno == EINVAL) return SHMCHAN_ERR_UNSUPPORTED; /* no F_OFD_* before Linux 3.15 */
	return SHMCHAN_ERR_SYSTEM;
}

static void role_unlock(shmchan_segment *seg, uint64_t start) {
	struct flock fl = role_range(F_UNLCK, start);
	(void)fcntl(seg->fd, F_OFD_SETLK, &fl);
}

/* role_held reports whether another open file description holds the role's lock (live.2). */
static int role_held(shmchan_segment *seg, uint64_t start) {
	struct flock fl = role_range(F_WRLCK, start);
	int r;
	do {
		r = fcntl(seg->fd, F_OFD_GETLK, &fl);
	} while (r < 0 && errno == EINTR);
	/* A failed test says "held": a false "dead" would hand a live peer's role to another process. */
	return r < 0 || fl.l_type != F_UNLCK;
}
#else
static int role_open(shmchan_segment *seg, uint64_t start) {
	(void)seg;
	(void)start;
	return SHMCHAN_OK;
}

static void role_unlock(shmchan_segment *seg, uint64_t start) {
	(void)seg;
	(void)start;
}
#endif

/*
 * claim takes a role (docs/layout.md, "Roles (all objects)"): the role lock,
 * then the owner field for diagnostics; without locks, a compare-and-swap of
 * the owner field from 0 or from a dead owner's token. A held role is BUSY,
 * a closed end CLOSED. The closed flag is re-checked after the swap, because
 * a closer stores closed = 1 before it stores the owner back to 0.
 */
static int claim(shmchan_segment *seg, uint64_t lock, _Atomic uint64_t *owner, _Atomic uint32_t *closed,
                 uint64_t self, int *takeover) {
	*takeover = 0;
	/* STEP(claim.1) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst; pairs with the store in
	 * close_end (shmchan_mailbox_close). */
	if (atomic_load_explicit(closed, memory_order_seq_cst)) return SHMCHAN_ERR_CLOSED;
#if ROLE_LOCKS
	/* STEP(claim.2) */
	int rc = role_lock(seg, lock);
	if (rc != SHMCHAN_OK) return rc;
	/* STEP(claim.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire load, then acq_rel CAS to our
	 * token; we hold the lock, so whatever token is there is stale. Pairs with close's CAS to 0. */
	uint64_t cur = atomic_load_explicit(owner, memory_order_acquire);
	while (!atomic_compare_exchange_strong_explicit(owner, &cur, self, memory_order_acq_rel, memory_order_acquire)) {
	}
#else
	(void)seg;
	(void)lock;
	uint64_t cur = 0;
	/* STEP(claim.2) STEP(claim.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): CAS, acq_rel; pairs with
	 * other claimers and the owner's release in close_end (shmchan_mailbox_close). */
	while (!atomic_compare_exchange_strong_explicit(owner, &cur, self, memory_order_acq_rel, memory_order_acquire)) {
		/* cur now holds the owner we saw: retry from 0, take a dead owner's place, or give up. */
		if (cur != 0 && shmchan_token_alive(cur)) return SHMCHAN_ERR_BUSY;
	}
#endif
	*takeover = cur != 0; /* a holder died with the role: its token was still there */
	/* STEP(claim.4) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst re-check after the swap. */
	if (atomic_load_explicit(closed, memory_order_seq_cst)) {
		*takeover = 0;
		uint64_t mine = self;
		/* SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): release the role we just took. */
		atomic_compare_exchange_strong_explicit(owner, &mine, 0, memory_order_acq_rel, memory_order_relaxed);
		role_unlock(seg, lock);
		return SHMCHAN_ERR_CLOSED;
	}
	return SHMCHAN_OK;
}

/* unclaim gives a role back if we still hold it (close.3, close.4). */
static void unclaim(shmchan_segment *seg, uint64_t lock, _Atomic uint64_t *owner, uint64_t self) {
	uint64_t mine = self;
	/* STEP(close.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS, only if still ours; pairs
	 * with a claimer's load and CAS. */
	atomic_compare_exchange_strong_explicit(owner, &mine, 0, memory_order_acq_rel, memory_order_relaxed);
	/* STEP(close.4) */
	role_unlock(seg, lock);
}

/*
 * peer_gone answers the liveness question of docs/layout.md (live.1 to
 * live.4) about the role whose lock is at lock: 1 if its holder died
 * without closing. self_holds is whether this handle holds that role itself.
 */
static int peer_gone(shmchan_segment *seg, uint64_t lock, _Atomic uint64_t *owner, _Atomic uint32_t *closed,
                     int self_holds) {
	/* STEP(live.1) */
	if (self_holds) return 0;
#if ROLE_LOCKS
	/* STEP(live.2) */
	if (role_held(seg, lock)) return 0;
#else
	(void)seg;
	(void)lock;
#endif
	/* STEP(live.3) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst, before the owner; a holder that
	 * closed is not gone (the caller's next attempt sees the close). Pairs with the store in close. */
	if (atomic_load_explicit(closed, memory_order_seq_cst)) return 0;
	/* SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire; pairs with the claim CAS and close's CAS.
	 * 0 is no peer yet: keep waiting. */
	uint64_t tok = atomic_load_explicit(owner, memory_order_acquire);
	if (tok == 0) return 0;
#if ROLE_LOCKS
	/* STEP(live.4) tok may be a claimer's that locked after live.2: ask the lock again, then whether the
	 * token is still there, before calling it dead. SYNC as in live.3. */
	if (role_held(seg, lock)) return 0;
	if (atomic_load_explicit(closed, memory_order_seq_cst)) return 0;
	return atomic_load_explicit(owner, memory_order_acquire) == tok;
#else
	return !shmchan_token_alive(tok);
#endif
}

/* ---- BEGIN internal: role locks for shmchan_net.c (issue 11 for the listener) ------ */
/*
 * The listener's owner and each slot's client hold role locks on the listener
 * segment (docs/layout.md, "Listener"). shmchan_net.c takes them through these
 * three functions, which are the role-lock primitives above on any range. They
 * are internal to the library: not in shmchan.h, declared again in
 * shmchan_net.c. Where there are no role locks (ROLE_LOCKS 0) they do nothing
 * and the caller judges tokens (shmchan_role_locks() says which).
 */
int shmchan_internal_role_lock(const shmchan_segment *seg, uint64_t start);
void shmchan_internal_role_unlock(const shmchan_segment *seg, uint64_t start);
int shmchan_internal_role_held(const shmchan_segment *seg, uint64_t start);

/*
 * The listener's locks are byte ranges of its segment's descriptor (Linux,
 * docs/layout.md "Listener", "Lock ranges"); Windows' role locks are named
 * mutexes per channel role, which listeners do not use (the C client is not
 * built for Windows). The Linux lock functions only read seg->fd, so the
 * const is cast away for them alone.
 */
#if ROLE_LOCKS && !defined(_WIN32)
#define LISTENER_LOCKS 1
#else
#define LISTENER_LOCKS 0
#endif

/* shmchan_internal_role_lock: OK, BUSY (another description holds it), UNSUPPORTED, SYSTEM. */
int shmchan_internal_role_lock(const shmchan_segment *seg, uint64_t start) {
#if LISTENER_LOCKS
	return role_lock((shmchan_segment *)seg, start);
#else
	(void)seg;
	(void)start;
	return SHMCHAN_ERR_UNSUPPORTED;
#endif
}

void shmchan_internal_role_unlock(const shmchan_segment *seg, uint64_t start) {
#if LISTENER_LOCKS
	role_unlock((shmchan_segment *)seg, start);
#else
	(void)seg;
	(void)start;
#endif
}

/* shmchan_internal_role_held: 1 if another description holds it (or the test failed), else 0. */
int shmchan_internal_role_held(const shmchan_segment *seg, uint64_t start) {
#if LISTENER_LOCKS
	return role_held((shmchan_segment *)seg, start);
#else
	(void)seg;
	(void)start;
	return 0;
#endif
}
/* ---- END internal: role locks for shmchan_net.c ------------------------------------ */

static int channel_sender_impl(shmchan_channel *ch, shmchan_sender **out) {
	if (ch == NULL || out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (ch->tx.open) return SHMCHAN_ERR_BUSY;
	struct chan_header *h = ch->h;
	uint64_t self = shmchan_self_token();
	int took;
	int rc = claim(ch->seg, SHMCHAN_LOCK_TX, &h->tx_owner, &h->tx_closed, self, &took);
	if (rc != SHMCHAN_OK) return rc;
	/*
	 * Take up the stream where the records end: from head, walk the published
	 * records to the first zero header. A new sender continues after the last
	 * record its dead predecessor published, and overwrites nothing unread.
	 */
	/* STEP(takeover_tx.1) SYNC(head): acquire; pairs with the receiver's seq_cst store of head. */
	uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
	uint64_t pos = head;
	rc = head % 8 == 0 ? SHMCHAN_OK : SHMCHAN_ERR_CORRUPT;
	while (rc == SHMCHAN_OK) {
		uint64_t at = pos & ch->mask, step, n;
		int pad;
		/* STEP(takeover_tx.2) SYNC(record): acquire; pairs with the header store in tx_commit (ours or a predecessor's). */
		uint64_t hdr = atomic_load_explicit(word(ch, at), memory_order_acquire);
		if (hdr == 0) break;
		rc = record(ch, hdr, at, &step, &pad, &n);
		if (rc == SHMCHAN_OK && pos + step - head > ch->cap - SHMCHAN_RECORD_HEADER) rc = SHMCHAN_ERR_CORRUPT;
		pos += step;
	}
	if (rc != SHMCHAN_OK) {
		unclaim(ch->seg, SHMCHAN_LOCK_TX, &h->tx_owner, self);
		return rc;
	}
	/* STEP(takeover_tx.3) SYNC(tx_parked): seq_cst; a dead predecessor may have left it set; pairs with the
	 * load in rx_consume. */
	atomic_store_explicit(&h->tx_parked, 0, memory_order_seq_cst);
	/* STEP(takeover_tx.4) SYNC(data_seq): release increment, then wake the receiver, parked or not: a predecessor
	 * that died in notify after taking the receiver's announcement down (notify.1) and before its wake would leave
	 * it asleep until its 50 ms tick. */
	atomic_fetch_add_explicit(&h->data_seq, 1, memory_order_release);
	wword_wake(&ch->data_word);
	memset(&ch->tx, 0, sizeof ch->tx);
	ch->tx.ch = ch;
	ch->tx.token = self;
	ch->tx.pos = pos;
	ch->tx.cached_head = head;
	ch->tx.open = 1;
	if (took) count(&ch->tx_st->takeovers, 1);
	*out = &ch->tx;
	return SHMCHAN_OK;
}

static int channel_receiver_impl(shmchan_channel *ch, shmchan_receiver **out) {
	if (ch == NULL || out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (ch->rx.open) return SHMCHAN_ERR_BUSY;
	struct chan_header *h = ch->h;
	uint64_t self = shmchan_self_token();
	int took;
	int rc = claim(ch->seg, SHMCHAN_LOCK_RX, &h->rx_owner, &h->rx_closed, self, &took);
	if (rc != SHMCHAN_OK) return rc;
	/* The new receiver continues from head: a dead receiver's unreleased peek is delivered again. */
	/* STEP(takeover_rx.1) SYNC(head): acquire; our own (or a dead predecessor's) last store. */
	uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
	if (head % 8 != 0) {
		unclaim(ch->seg, SHMCHAN_LOCK_RX, &h->rx_owner, self);
		return SHMCHAN_ERR_CORRUPT;
	}
	/* STEP(takeover_rx.2) SYNC(rx_parked): seq_cst; a dead predecessor may have left it set; pairs with the
	 * load in tx_commit. */
	atomic_store_explicit(&h->rx_parked, 0, memory_order_seq_cst);
	/* STEP(takeover_rx.3) SYNC(space_seq): release increment, then wake the sender, parked or not (as takeover_tx.4). */
	atomic_fetch_add_explicit(&h->space_seq, 1, memory_order_release);
	wword_wake(&ch->space_word);
	memset(&ch->rx, 0, sizeof ch->rx);
	ch->rx.ch = ch;
	ch->rx.token = self;
	ch->rx.pos = head;
	ch->rx.released = head;
	ch->rx.open = 1;
	if (took) count(&ch->rx_st->takeovers, 1);
	*out = &ch->rx;
	return SHMCHAN_OK;
}

/* ---- Sending --------------------------------------------------------------------- */

/*
 * tx_reserve finds room for a record of len payload bytes, plus the padding
 * that reaches a contiguous stretch and the 8-byte terminator after it, and
 * makes it the pending reservation (replacing any earlier one: none of it was
 * published). It is the non-blocking core of send and reserve: FULL, CLOSED,
 * TOO_LARGE or CORRUPT.
 */
static int tx_reserve(shmchan_sender *tx, size_t len, void **buf) {
	shmchan_channel *ch = tx->ch;
	struct chan_header *h = ch->h;
	tx->reserving = 0;
	/* STEP(send.1) SYNC(rx_closed): seq_cst; pairs with the receiver's store in shmchan_receiver_close. */
	if (atomic_load_explicit(&h->rx_closed, memory_order_seq_cst)) return SHMCHAN_ERR_CLOSED;
	if ((uint64_t)len > ch->max_msg) return SHMCHAN_ERR_TOO_LARGE;
	uint64_t rec = SHMCHAN_RECORD_HEADER + align8((uint64_t)len);
	uint64_t at = tx->pos & ch->mask;
	uint64_t pad = at + rec > ch->cap ? ch->cap - at : 0;
	uint64_t need = pad + rec + SHMCHAN_RECORD_HEADER; /* and the terminator after it */
	if (tx->pos + need - tx->cached_head > ch->cap) {
		/* STEP(send.2) SYNC(head): seq_cst (acquire would do but for the park re-check, park.3, where it is the load of
		 * the Dekker pair after the store of tx_parked; on x86 and arm64 the two cost the same); pairs with the
		 * receiver's seq_cst store: it is done with every byte before it. */
		uint64_t head = atomic_load_explicit(&h->head, memory_order_seq_cst);
		if (head < tx->cached_head || head > tx->pos || head % 8 != 0) return SHMCHAN_ERR_CORRUPT;
		tx->cached_head = head;
		if (tx->pos + need - head > ch->cap) return SHMCHAN_ERR_FULL;
	}
	tx->reserving = 1;
	tx->res_pad = pad;
	tx->res_len = len;
	*buf = ch->data + ((tx->pos + pad) & ch->mask) + SHMCHAN_RECORD_HEADER;
	return SHMCHAN_OK;
}

/*
 * tx_commit publishes the first len bytes of the reservation: the zero
 * terminator where the next record goes, then the header (behind padding,
 * the record's header first and the padding's last), then wakes a parked
 * receiver.
 */
static void tx_commit(shmchan_sender *tx, size_t len) {
	shmchan_channel *ch = tx->ch;
	struct chan_header *h = ch->h;
	uint64_t at = tx->pos & ch->mask;
	uint64_t rec_at = (tx->pos + tx->res_pad) & ch->mask;
	uint64_t step = SHMCHAN_RECORD_HEADER + align8((uint64_t)len);
	/* STEP(send.4) SYNC(record): relaxed; the terminator is published by the header store below. */
	atomic_store_explicit(word(ch, (rec_at + step) & ch->mask), 0, memory_order_relaxed);
	uint64_t hdr = record_header(len, SHMCHAN_KIND_MESSAGE);
	if (tx->res_pad > 0) {
		/* STEP(send.5) SYNC(record): relaxed; the record at 0 is published by the padding's header store below. */
		atomic_store_explicit(word(ch, rec_at), hdr, memory_order_relaxed);
		hdr = record_header(tx->res_pad - SHMCHAN_RECORD_HEADER, SHMCHAN_KIND_PADDING);
	}
	tx->pos += tx->res_pad + step;
	tx->reserving = 0;
	/* STEP(send.6) SYNC(record): seq_cst store. Publishes the payload, the terminator (and a record behind padding);
	 * pairs with the receiver's acquire load in rx_next and, as a Dekker pair with the load of rx_parked
	 * below, with the receiver's park in rx_wait. */
	atomic_store_explicit(word(ch, at), hdr, memory_order_seq_cst);
	count(&ch->tx_st->messages, 1);
	count(&ch->tx_st->bytes, (uint64_t)len);
	/* STEP(send.7) STEP(notify.1) SYNC(rx_parked): seq_cst load after the header store; pairs with the
	 * receiver's store in rx_wait. Found set, the exchange (seq_cst) takes the announcement down, so that the
	 * receiver is woken once per park, not once per message until it runs again (as Go's notify). Written out
	 * rather than notify_parked: with the call, the per-message loop (build/hotloop copy 64) measured 1 more
	 * instruction here and 5 more in rx_consume (callgrind). */
	if (atomic_load_explicit(&h->rx_parked, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&h->rx_parked, 0, memory_order_seq_cst)) {
		/* STEP(notify.2) SYNC(data_seq): release increment before the wake; pairs with the receiver's load in rx_wait. */
		atomic_fetch_add_explicit(&h->data_seq, 1, memory_order_release);
		/* STEP(notify.3) */
		wword_wake(&ch->data_word);
		count(&ch->tx_st->wakes, 1);
	}
}

static int tx_send(shmchan_sender *tx, const void *msg, size_t len) {
	void *buf;
	int rc = tx_reserve(tx, len, &buf);
	if (rc != SHMCHAN_OK) return rc;
	/* STEP(send.3) */
	if (len > 0) memcpy(buf, msg, len);
	tx_commit(tx, len);
	return SHMCHAN_OK;
}

static int tx_check(const shmchan_sender *tx) {
	if (tx == NULL) return SHMCHAN_ERR_INVALID;
	return tx->open ? SHMCHAN_OK : SHMCHAN_ERR_CLOSED;
}

/*
 * WAIT_LOOP returns the result of attempt, retrying it after wait_fn(end, &w) while attempt returns again
 * (the ring is full for the sender, empty for the receiver); st names the end's stats line. After a wait
 * that announced a park (park.1-2), the retry is the re-check (park.3); the park is withdrawn (park.5) by
 * disarm_fn whichever way the loop ends. TX_WAIT_LOOP and RX_WAIT_LOOP fill it in for each end.
 */
#define WAIT_LOOP(end, st, wait_fn, disarm_fn, again, timeout_ns, attempt)     \
	do {                                                                   \
		int rc_ = (attempt);                                           \
		if (rc_ != (again)) return rc_;                                \
		count(&(end)->ch->st->waits, 1);                               \
		struct waiter w_;                                              \
		waiter_init(&w_, (timeout_ns));                                \
		for (;;) {                                                     \
			if (w_.peer_dead) {                                    \
				rc_ = SHMCHAN_ERR_PEER_GONE;                   \
				break;                                         \
			}                                                      \
			rc_ = wait_fn((end), &w_);                             \
			if (rc_ != SHMCHAN_OK) break;                          \
			/* STEP(park.3) after a wait that armed */             \
			rc_ = (attempt);                                       \
			if (rc_ != (again)) break;                             \
		}                                                              \
		disarm_fn((end), &w_);                                         \
		return rc_;                                                    \
	} while (0)

#define TX_WAIT_LOOP(tx, timeout_ns, attempt) \
	WAIT_LOOP(tx, tx_st, tx_wait, tx_disarm, SHMCHAN_ERR_FULL, timeout_ns, attempt)

static int try_send_impl(shmchan_sender *tx, const void *msg, size_t len) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (msg == NULL && len > 0) return SHMCHAN_ERR_INVALID;
	return tx_send(tx, msg, len);
}

static int send_impl(shmchan_sender *tx, const void *msg, size_t len, int64_t timeout_ns) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (msg == NULL && len > 0) return SHMCHAN_ERR_INVALID;
	TX_WAIT_LOOP(tx, timeout_ns, tx_send(tx, msg, len));
}

static int try_reserve_impl(shmchan_sender *tx, size_t len, void **buf) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (buf == NULL) return SHMCHAN_ERR_INVALID;
	*buf = NULL;
	return tx_reserve(tx, len, buf);
}

static int reserve_impl(shmchan_sender *tx, size_t len, void **buf, int64_t timeout_ns) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (buf == NULL) return SHMCHAN_ERR_INVALID;
	*buf = NULL;
	TX_WAIT_LOOP(tx, timeout_ns, tx_reserve(tx, len, buf));
}

static int commit_impl(shmchan_sender *tx, size_t len) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (!tx->reserving) return SHMCHAN_ERR_INVALID;
	if (len > tx->res_len) return SHMCHAN_ERR_TOO_LARGE;
	tx_commit(tx, len);
	return SHMCHAN_OK;
}

/*
 * tx_send_batch copies as many of the nmsgs messages as fit now into the
 * ring and publishes them with one store (docs/layout.md, "Send a batch"):
 * the records after the first are written whole, their headers with relaxed
 * stores, then one terminator after the last, then the first record's
 * header (seq_cst). A receiver that loads it sees the whole batch, so any
 * receiver reads a batch. *sent is how many; FULL, TOO_LARGE or INVALID only
 * if the first message fails (a later one ends the batch before it).
 */
static int tx_send_batch(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs, size_t *sent) {
	shmchan_channel *ch = tx->ch;
	struct chan_header *h = ch->h;
	tx->reserving = 0;
	*sent = 0;
	if (nmsgs == 0) return SHMCHAN_OK;
	/* STEP(send.1) SYNC(rx_closed): seq_cst; pairs with the receiver's store in shmchan_receiver_close. */
	if (atomic_load_explicit(&h->rx_closed, memory_order_seq_cst)) return SHMCHAN_ERR_CLOSED;
	uint64_t pos = tx->pos, first_at = 0, first_hdr = 0, bytes = 0;
	size_t n = 0;
	for (; n < nmsgs; n++) {
		uint64_t len = (uint64_t)lens[n];
		int bad = len > ch->max_msg ? SHMCHAN_ERR_TOO_LARGE : len > 0 && msgs[n] == NULL ? SHMCHAN_ERR_INVALID : 0;
		if (bad != 0) {
			if (n == 0) return bad;
			break;
		}
		uint64_t rec = SHMCHAN_RECORD_HEADER + align8(len);
		uint64_t at = pos & ch->mask;
		uint64_t pad = at + rec > ch->cap ? ch->cap - at : 0;
		uint64_t need = pad + rec + SHMCHAN_RECORD_HEADER; /* and the terminator after it */
		if (pos + need - tx->cached_head > ch->cap) {
			/* STEP(send_batch.1) SYNC(head): acquire; pairs with the receiver's seq_cst store (rx_consume,
			 * rx_recv_batch): it is done with every byte before it. */
			uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
			if (head < tx->cached_head || head > tx->pos || head % 8 != 0) return SHMCHAN_ERR_CORRUPT;
			tx->cached_head = head;
			if (pos + need - head > ch->cap) {
				if (n == 0) return SHMCHAN_ERR_FULL;
				break;
			}
		}
		uint64_t rec_at = (pos + pad) & ch->mask;
		/* STEP(send_batch.2) */
		if (len > 0) memcpy(ch->data + rec_at + SHMCHAN_RECORD_HEADER, msgs[n], (size_t)len);
		uint64_t hdr = record_header(len, SHMCHAN_KIND_MESSAGE), hdr_at = rec_at;
		if (pad > 0) {
			/* STEP(send_batch.3) SYNC(record): relaxed; the record at 0 is published by the padding's header. */
			atomic_store_explicit(word(ch, rec_at), hdr, memory_order_relaxed);
			hdr_at = at;
			hdr = record_header(pad - SHMCHAN_RECORD_HEADER, SHMCHAN_KIND_PADDING);
		}
		if (n == 0) {
			first_at = hdr_at;
			first_hdr = hdr;
		} else {
			/* STEP(send_batch.4) SYNC(record): relaxed; a later record's header, published by the first one's
			 * store below (the receiver cannot reach it before). */
			atomic_store_explicit(word(ch, hdr_at), hdr, memory_order_relaxed);
		}
		pos += pad + rec;
		bytes += len;
	}
	/* STEP(send_batch.5) SYNC(record): relaxed; the one terminator, after the last record. */
	atomic_store_explicit(word(ch, pos & ch->mask), 0, memory_order_relaxed);
	tx->pos = pos;
	/* STEP(send_batch.6) SYNC(record): seq_cst store of the first record's header, last. Publishes the whole
	 * batch; pairs with the receiver's acquire load (rx_next, rx_recv_batch) and, as a Dekker pair with the
	 * load of rx_parked below, with the receiver's park in rx_wait. */
	atomic_store_explicit(word(ch, first_at), first_hdr, memory_order_seq_cst);
	count(&ch->tx_st->messages, (uint64_t)n);
	count(&ch->tx_st->bytes, bytes);
	/* STEP(send_batch.7) notify.1-3 with rx_parked, data_seq: once for the batch. */
	notify_parked(&h->rx_parked, &h->data_seq, &ch->data_word, ch->tx_st);
	*sent = n;
	return SHMCHAN_OK;
}

static int send_batch_args(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs, size_t *sent) {
	int rc = tx_check(tx);
	if (rc != SHMCHAN_OK) return rc;
	if (sent == NULL || (nmsgs > 0 && (msgs == NULL || lens == NULL))) return SHMCHAN_ERR_INVALID;
	*sent = 0;
	return SHMCHAN_OK;
}

static int try_send_batch_impl(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs,
                               size_t *sent) {
	int rc = send_batch_args(tx, msgs, lens, nmsgs, sent);
	if (rc != SHMCHAN_OK) return rc;
	return tx_send_batch(tx, msgs, lens, nmsgs, sent);
}

static int send_batch_impl(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs,
                           size_t *sent, int64_t timeout_ns) {
	int rc = send_batch_args(tx, msgs, lens, nmsgs, sent);
	if (rc != SHMCHAN_OK) return rc;
	TX_WAIT_LOOP(tx, timeout_ns, tx_send_batch(tx, msgs, lens, nmsgs, sent));
}

/* close_end stores closed = 1, wakes the peer, and then gives the role back. */
static void close_end(shmchan_segment *seg, uint64_t lock, _Atomic uint32_t *closed, struct wword *peer,
                      _Atomic uint64_t *owner, uint64_t self) {
	/* STEP(close.1) SYNC(tx_closed)/SYNC(rx_closed): seq_cst store (for the sender, after its last header store);
	 * pairs with the peer's loads (send, receive, park). */
	atomic_store_explicit(closed, 1, memory_order_seq_cst);
	/* STEP(close.2) SYNC(data_seq)/SYNC(space_seq): release increment, then wake the peer whether or not it
	 * is parked. */
	atomic_fetch_add_explicit(peer->addr, 1, memory_order_release);
	wword_wake(peer);
	unclaim(seg, lock, owner, self);
}

static int sender_close_impl(shmchan_sender *tx) {
	if (tx == NULL) return SHMCHAN_ERR_INVALID;
	if (!tx->open) return SHMCHAN_OK;
	struct chan_header *h = tx->ch->h;
	tx->reserving = 0; /* an uncommitted reservation is dropped: it was never published */
	close_end(tx->ch->seg, SHMCHAN_LOCK_TX, &h->tx_closed, &tx->ch->data_word, &h->tx_owner, tx->token);
	tx->open = 0;
	return SHMCHAN_OK;
}

/* ---- Receiving ------------------------------------------------------------------- */

/*
 * rx_next finds the next message without consuming it: its payload at ring
 * offset *off, its length *len, and the position after it *next. It skips
 * padding (in the local position only; the next release publishes it). It
 * returns EMPTY, EOF or CORRUPT. Every header is read once and checked.
 */
static int rx_next(shmchan_receiver *rx, uint64_t *off, uint64_t *len, uint64_t *next) {
	shmchan_channel *ch = rx->ch;
	struct chan_header *h = ch->h;
	for (;;) {
		uint64_t at = rx->pos & ch->mask;
		/* STEP(recv.1) SYNC(record): seq_cst (acquire would do but for the park re-check, park.3, where it is the
		 * load of the Dekker pair after the store of rx_parked; on x86 and arm64 the two cost the same); pairs with
		 * the sender's header store in tx_commit: the payload and the terminator are written. */
		uint64_t hdr = atomic_load_explicit(word(ch, at), memory_order_seq_cst);
		if (hdr == 0) {
			/* STEP(recv.2) SYNC(tx_closed): seq_cst, loaded after finding the ring empty; the sender stores it after
			 * its last header. */
			if (!atomic_load_explicit(&h->tx_closed, memory_order_seq_cst)) return SHMCHAN_ERR_EMPTY;
			/* STEP(recv.2) SYNC(record): acquire; re-read after seeing tx_closed, so nothing published is missed. */
			hdr = atomic_load_explicit(word(ch, at), memory_order_acquire);
			if (hdr == 0) return SHMCHAN_EOF;
		}
		uint64_t step, n;
		int pad;
		/* STEP(recv.3) */
		if (record(ch, hdr, at, &step, &pad, &n) != SHMCHAN_OK) return SHMCHAN_ERR_CORRUPT;
		/* STEP(recv.3) A record must lie within one capacity (less the terminator) of the last released position. */
		if (rx->pos + step - rx->released > ch->cap - SHMCHAN_RECORD_HEADER) return SHMCHAN_ERR_CORRUPT;
		/* STEP(recv.4) */
		if (pad) {
			rx->pos += step;
			continue;
		}
		/* STEP(recv.5) */
		*off = at + SHMCHAN_RECORD_HEADER;
		*len = n;
		*next = rx->pos + step;
		return SHMCHAN_OK;
	}
}

/* rx_consume stores the new head, freeing the bytes before it, then wakes a parked sender. */
static void rx_consume(shmchan_receiver *rx, uint64_t next, uint64_t len) {
	struct chan_header *h = rx->ch->h;
	rx->pos = next;
	rx->released = next;
	rx->peeking = 0;
	/* STEP(release.1) SYNC(head): seq_cst store. Hands the bytes back to the sender (our reads are done); pairs with the
	 * sender's acquire load of head and, as a Dekker pair with the load of tx_parked below, its park. */
	atomic_store_explicit(&h->head, next, memory_order_seq_cst);
	count(&rx->ch->rx_st->messages, 1);
	count(&rx->ch->rx_st->bytes, len);
	/* STEP(release.2) STEP(notify.1) SYNC(tx_parked): seq_cst load after the head store; pairs with the
	 * sender's store in tx_wait. Found set, the exchange (seq_cst) takes the announcement down: one wake per
	 * park (as Go's notify). Written out, as in tx_commit. */
	if (atomic_load_explicit(&h->tx_parked, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&h->tx_parked, 0, memory_order_seq_cst)) {
		/* STEP(notify.2) SYNC(space_seq): release increment before the wake; pairs with the sender's load in tx_wait. */
		atomic_fetch_add_explicit(&h->space_seq, 1, memory_order_release);
		/* STEP(notify.3) */
		wword_wake(&rx->ch->space_word);
		count(&rx->ch->rx_st->wakes, 1);
	}
}

static int rx_recv(shmchan_receiver *rx, void *buf, size_t cap, size_t *len) {
	uint64_t off, n, next;
	int rc = rx_next(rx, &off, &n, &next);
	if (rc != SHMCHAN_OK) return rc;
	*len = (size_t)n;
	if (n > (uint64_t)cap) return SHMCHAN_ERR_SHORT_BUFFER;
	if (n > 0) memcpy(buf, rx->ch->data + off, (size_t)n);
	rx_consume(rx, next, n);
	return SHMCHAN_OK;
}

static int rx_peek(shmchan_receiver *rx, const void **msg, size_t *len) {
	uint64_t off, n, next;
	int rc = rx_next(rx, &off, &n, &next);
	if (rc != SHMCHAN_OK) return rc;
	rx->peeking = 1;
	rx->peek_next = next;
	rx->peek_len = n;
	*msg = rx->ch->data + off;
	*len = (size_t)n;
	return SHMCHAN_OK;
}

/*
 * rx_recv_batch copies up to nmsgs messages out, the i-th into bufs[i]
 * (caps[i] bytes, its length into lens[i]), and hands their space back
 * with one store of head and at most one wake of a parked sender
 * (docs/layout.md, "Receive a batch"). It reads records of any sender,
 * batched or not. *received is how many; EMPTY, EOF, CORRUPT or
 * SHORT_BUFFER (lens[0] is the length needed; nothing consumed) only if
 * the first fails: a later record that is corrupt or does not fit its
 * buffer ends the batch before it.
 */
static int rx_recv_batch(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                         size_t *received) {
	shmchan_channel *ch = rx->ch;
	struct chan_header *h = ch->h;
	*received = 0;
	if (nmsgs == 0) return SHMCHAN_OK;
	rx->peeking = 0; /* a peeked message is received again, as the first */
	uint64_t pos = rx->pos, bytes = 0;
	size_t n = 0;
	while (n < nmsgs) {
		uint64_t at = pos & ch->mask;
		/* STEP(recv_batch.1) SYNC(record): acquire; pairs with the sender's header store (tx_commit,
		 * tx_send_batch, whose later headers were stored before the first one's). */
		uint64_t hdr = atomic_load_explicit(word(ch, at), memory_order_acquire);
		if (hdr == 0) {
			if (n > 0) break;
			rx->pos = pos;
			/* STEP(recv.2) SYNC(tx_closed): seq_cst, loaded after finding the ring empty; the sender stores it
			 * after its last header. */
			if (!atomic_load_explicit(&h->tx_closed, memory_order_seq_cst)) return SHMCHAN_ERR_EMPTY;
			/* STEP(recv.2) SYNC(record): acquire; re-read after seeing tx_closed, so nothing published is missed. */
			hdr = atomic_load_explicit(word(ch, at), memory_order_acquire);
			if (hdr == 0) return SHMCHAN_EOF;
		}
		uint64_t step, len;
		int pad;
		/* STEP(recv_batch.2) Check the record as recv.3 does, against the released position. */
		if (record(ch, hdr, at, &step, &pad, &len) != SHMCHAN_OK ||
		    pos + step - rx->released > ch->cap - SHMCHAN_RECORD_HEADER) {
			if (n > 0) break;
			rx->pos = pos;
			return SHMCHAN_ERR_CORRUPT;
		}
		if (pad) {
			pos += step;
			continue;
		}
		if (len > (uint64_t)caps[n] || (len > 0 && bufs[n] == NULL)) {
			if (n > 0) break;
			rx->pos = pos;
			lens[0] = (size_t)len;
			return bufs[0] == NULL && len <= (uint64_t)caps[0] ? SHMCHAN_ERR_INVALID : SHMCHAN_ERR_SHORT_BUFFER;
		}
		/* STEP(recv_batch.3) */
		if (len > 0) memcpy(bufs[n], ch->data + at + SHMCHAN_RECORD_HEADER, (size_t)len);
		lens[n] = (size_t)len;
		bytes += len;
		pos += step;
		n++;
	}
	rx->pos = pos;
	rx->released = pos;
	/* STEP(recv_batch.4) SYNC(head): seq_cst store, one for the batch. Hands the bytes back to the sender (our
	 * reads are done); pairs with the sender's acquire load of head and, as a Dekker pair with the load of
	 * tx_parked below, its park. */
	atomic_store_explicit(&h->head, pos, memory_order_seq_cst);
	count(&ch->rx_st->messages, (uint64_t)n);
	count(&ch->rx_st->bytes, bytes);
	/* STEP(recv_batch.5) notify.1-3 with tx_parked, space_seq: once for the batch. */
	notify_parked(&h->tx_parked, &h->space_seq, &ch->space_word, ch->rx_st);
	*received = n;
	return SHMCHAN_OK;
}

static int rx_check(const shmchan_receiver *rx) {
	if (rx == NULL) return SHMCHAN_ERR_INVALID;
	return rx->open ? SHMCHAN_OK : SHMCHAN_ERR_CLOSED;
}

#define RX_WAIT_LOOP(rx, timeout_ns, attempt) \
	WAIT_LOOP(rx, rx_st, rx_wait, rx_disarm, SHMCHAN_ERR_EMPTY, timeout_ns, attempt)

static int try_recv_impl(shmchan_receiver *rx, void *buf, size_t cap, size_t *len) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (len == NULL || (buf == NULL && cap > 0)) return SHMCHAN_ERR_INVALID;
	*len = 0;
	return rx_recv(rx, buf, cap, len);
}

static int recv_impl(shmchan_receiver *rx, void *buf, size_t cap, size_t *len, int64_t timeout_ns) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (len == NULL || (buf == NULL && cap > 0)) return SHMCHAN_ERR_INVALID;
	*len = 0;
	RX_WAIT_LOOP(rx, timeout_ns, rx_recv(rx, buf, cap, len));
}

static int try_peek_impl(shmchan_receiver *rx, const void **msg, size_t *len) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (msg == NULL || len == NULL) return SHMCHAN_ERR_INVALID;
	*msg = NULL;
	*len = 0;
	return rx_peek(rx, msg, len);
}

static int peek_impl(shmchan_receiver *rx, const void **msg, size_t *len, int64_t timeout_ns) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (msg == NULL || len == NULL) return SHMCHAN_ERR_INVALID;
	*msg = NULL;
	*len = 0;
	RX_WAIT_LOOP(rx, timeout_ns, rx_peek(rx, msg, len));
}

static int recv_batch_args(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                           size_t *received) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (received == NULL || (nmsgs > 0 && (bufs == NULL || caps == NULL || lens == NULL))) return SHMCHAN_ERR_INVALID;
	*received = 0;
	return SHMCHAN_OK;
}

static int try_recv_batch_impl(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                               size_t *received) {
	int rc = recv_batch_args(rx, bufs, caps, lens, nmsgs, received);
	if (rc != SHMCHAN_OK) return rc;
	return rx_recv_batch(rx, bufs, caps, lens, nmsgs, received);
}

static int recv_batch_impl(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                           size_t *received, int64_t timeout_ns) {
	int rc = recv_batch_args(rx, bufs, caps, lens, nmsgs, received);
	if (rc != SHMCHAN_OK) return rc;
	RX_WAIT_LOOP(rx, timeout_ns, rx_recv_batch(rx, bufs, caps, lens, nmsgs, received));
}

static int release_impl(shmchan_receiver *rx) {
	int rc = rx_check(rx);
	if (rc != SHMCHAN_OK) return rc;
	if (!rx->peeking) return SHMCHAN_ERR_INVALID;
	rx_consume(rx, rx->peek_next, rx->peek_len);
	return SHMCHAN_OK;
}

static int receiver_close_impl(shmchan_receiver *rx) {
	if (rx == NULL) return SHMCHAN_ERR_INVALID;
	if (!rx->open) return SHMCHAN_OK;
	struct chan_header *h = rx->ch->h;
	rx->peeking = 0; /* an unreleased peek is not consumed */
	close_end(rx->ch->seg, SHMCHAN_LOCK_RX, &h->rx_closed, &rx->ch->space_word, &h->rx_owner, rx->token);
	rx->open = 0;
	return SHMCHAN_OK;
}

/* ---- Mailboxes: layout ---------------------------------------------------------- */

/*
 * The mailbox (docs/layout.md, "Mailbox (magic SHMB)") is a triple buffer of
 * seqlocks; package sync/seqlock documents the algorithm and why each
 * ordering below is what it is. The C side follows the Go side access for
 * access, with the same SYNC tags:
 *
 *   - The writer marks the slot odd with atomic_exchange (seq_cst, a
 *     read-modify-write like Go's atomic.SwapUint64), followed by
 *     atomic_thread_fence(memory_order_release), as docs/layout.md asks.
 *   - The reader's second check is atomic_fetch_add(seq, 0) (seq_cst), the
 *     read-modify-write that Go's atomic.AddUint64(seq, 0) is. It reads the
 *     value written by a mark it precedes in the word's modification order,
 *     or the mark reads its write: in the second case the check (release)
 *     synchronises with the mark (acquire), so the copy happened before
 *     every store the writer makes after the mark and saw none of them; in
 *     the first the check sees the odd sequence and the copy is discarded.
 *     This is the check that is correct against a Go writer too, whose mark
 *     is a seq_cst swap with no fence after it; the fenced variant (acquire
 *     fence + relaxed load) relies on the writer's release fence, which Go
 *     does not issue. It needs the mapping writable, which a mailbox is.
 *   - latest, closed and waiters are seq_cst where Go's are part of the
 *     Dekker handshake between publish and park.
 */
struct mb_header {
	/* Header line: written once by the creator, then version is stored last. */
	_Atomic uint32_t magic;   /* 0x000 "SHMB" */
	_Atomic uint32_t version; /* 0x004 stored last, release */
	uint32_t header_size;     /* 0x008 4096 */
	uint32_t flags;           /* 0x00C no flags in v1 */
	uint64_t max_value;       /* 0x010 largest value */
	uint64_t slot_size;       /* 0x018 128 + align128(max_value) */
	uint32_t slot_count;      /* 0x020 2 to 16 (3 when created) */
	uint32_t reserved_count;  /* 0x024 */
	uint64_t slots_offset;    /* 0x028 4096 */
	uint64_t creator;         /* 0x030 creator's process token */
	uint8_t reserved0[SHMCHAN_MB_OFF_LATEST - 0x038];

	/* Writer line. */
	_Atomic uint64_t latest;  /* 0x080 newest complete version */
	_Atomic uint32_t closed;  /* 0x088 1 once the writer closed the mailbox */
	uint32_t reserved_closed; /* 0x08C */
	_Atomic uint64_t owner;   /* 0x090 writer's token */
	uint8_t reserved1[SHMCHAN_MB_OFF_WAKE_SEQ - 0x098];

	/* Reader line. */
	_Atomic uint32_t wake_seq; /* 0x100 futex word of the readers */
	_Atomic uint32_t waiters;  /* 0x104 readers parked or about to park */
	uint8_t reserved2[SHMCHAN_MB_OFF_WRITER_STATS - 0x108];

	struct stats_line writer_stats; /* 0x180 the writer's counters */
	uint8_t reserved3[SHMCHAN_MB_OFF_SLOTS - SHMCHAN_MB_OFF_WRITER_STATS - SHMCHAN_STATS_SIZE];
};

/* The header of one slot; the value bytes follow it. */
struct mb_slot {
	_Atomic uint64_t seq; /* 2v+1 while version v is written, 2v once complete */
	_Atomic uint64_t len; /* value length, written inside the odd window */
	uint8_t reserved[SHMCHAN_MAILBOX_SLOT_HEADER - 16];
};

_Static_assert(offsetof(struct mb_header, magic) == SHMCHAN_MB_OFF_MAGIC, "mb magic");
_Static_assert(offsetof(struct mb_header, version) == SHMCHAN_MB_OFF_VERSION, "mb version");
_Static_assert(offsetof(struct mb_header, header_size) == SHMCHAN_MB_OFF_HEADER_SIZE, "mb header_size");
_Static_assert(offsetof(struct mb_header, flags) == SHMCHAN_MB_OFF_FLAGS, "mb flags");
_Static_assert(offsetof(struct mb_header, max_value) == SHMCHAN_MB_OFF_MAX_VALUE, "mb max_value");
_Static_assert(offsetof(struct mb_header, slot_size) == SHMCHAN_MB_OFF_SLOT_SIZE, "mb slot_size");
_Static_assert(offsetof(struct mb_header, slot_count) == SHMCHAN_MB_OFF_SLOT_COUNT, "mb slot_count");
_Static_assert(offsetof(struct mb_header, slots_offset) == SHMCHAN_MB_OFF_SLOTS_OFFSET, "mb slots_offset");
_Static_assert(offsetof(struct mb_header, creator) == SHMCHAN_MB_OFF_CREATOR, "mb creator");
_Static_assert(offsetof(struct mb_header, latest) == SHMCHAN_MB_OFF_LATEST, "mb latest");
_Static_assert(offsetof(struct mb_header, closed) == SHMCHAN_MB_OFF_CLOSED, "mb closed");
_Static_assert(offsetof(struct mb_header, owner) == SHMCHAN_MB_OFF_OWNER, "mb owner");
_Static_assert(offsetof(struct mb_header, wake_seq) == SHMCHAN_MB_OFF_WAKE_SEQ, "mb wake_seq");
_Static_assert(offsetof(struct mb_header, waiters) == SHMCHAN_MB_OFF_WAITERS, "mb waiters");
_Static_assert(offsetof(struct mb_header, writer_stats) == SHMCHAN_MB_OFF_WRITER_STATS, "mb writer_stats");
_Static_assert(sizeof(struct mb_header) == SHMCHAN_MAILBOX_HEADER_SIZE, "mb header page");
_Static_assert(SHMCHAN_MB_OFF_SLOTS == SHMCHAN_MAILBOX_HEADER_SIZE, "slots follow the header page");
_Static_assert(SHMCHAN_MB_OFF_LATEST == 1 * SHMCHAN_LINE && SHMCHAN_MB_OFF_WAKE_SEQ == 2 * SHMCHAN_LINE,
               "one 128-byte line per writer");
_Static_assert(offsetof(struct mb_slot, seq) == SHMCHAN_MB_SLOT_OFF_SEQ, "slot seq");
_Static_assert(offsetof(struct mb_slot, len) == SHMCHAN_MB_SLOT_OFF_LEN, "slot len");
_Static_assert(sizeof(struct mb_slot) == SHMCHAN_MAILBOX_SLOT_HEADER, "slot header");
_Static_assert(SHMCHAN_MAILBOX_MIN_SLOTS <= SHMCHAN_MAILBOX_SLOTS && SHMCHAN_MAILBOX_SLOTS <= SHMCHAN_MAILBOX_MAX_SLOTS,
               "slot counts");

#define MB_RETRIES_BEFORE_YIELD 16 /* failed copies before a read yields between attempts (Go's retriesBeforeYield) */

struct shmchan_mailbox {
	shmchan_segment *seg;
	struct mb_header *h;
	uint8_t *slots;
	uint64_t max, stride, nslots; /* read once at open and checked: never re-read from shared memory */
	int wait;
	struct wword word; /* wake_seq: readers sleep on it, the writer wakes them */
	int writer;        /* this handle holds the writer role */
	uint64_t token; /* our token, stored in owner while we are the writer */
	/* The writer's counter line: in the header if its creator set SHMCHAN_FLAG_STATS, else local. */
	struct stats_line *st, local;
};

static uint64_t align128(uint64_t n) { return (n + 127) & ~(uint64_t)127; }

/* mb_stride returns the bytes of one slot for values of up to max_value, 0 if out of range. */
static uint64_t mb_stride(uint64_t max_value) {
	if (max_value < 1 || max_value > MAX_SEGMENT_SIZE) return 0;
	return SHMCHAN_MAILBOX_SLOT_HEADER + align128(max_value);
}

uint64_t shmchan_mailbox_size(uint64_t max_value) {
	uint64_t stride = mb_stride(max_value);
	if (stride == 0 || stride > (MAX_SEGMENT_SIZE - SHMCHAN_MAILBOX_HEADER_SIZE) / SHMCHAN_MAILBOX_SLOTS) return 0;
	uint64_t size = SHMCHAN_MAILBOX_HEADER_SIZE + SHMCHAN_MAILBOX_SLOTS * stride;
	return size > (uint64_t)SIZE_MAX ? 0 : size;
}

/* mb_init fills the header of a fresh, zero-filled mailbox segment and stores the version last. */
static void mb_init(struct mb_header *h, uint64_t max_value) {
	/* STEP(create.2) SYNC(mb_version): relaxed; published by the release store of version below. */
	atomic_store_explicit(&h->magic, SHMCHAN_MAILBOX_MAGIC, memory_order_relaxed);
	h->header_size = SHMCHAN_MAILBOX_HEADER_SIZE;
	h->flags = SHMCHAN_FLAG_STATS; /* the counter line is zero, as the segment is */
	h->max_value = max_value;
	h->slot_size = mb_stride(max_value);
	h->slot_count = SHMCHAN_MAILBOX_SLOTS;
	h->slots_offset = SHMCHAN_MB_OFF_SLOTS;
	h->creator = shmchan_self_token();
	/* STEP(create.3) SYNC(mb_version): release, stored last; pairs with the acquire in mb_check (and Go's
	 * checkMailbox). */
	atomic_store_explicit(&h->version, SHMCHAN_MAILBOX_VERSION, memory_order_release);
}

/*
 * mb_check runs the opener's checks of docs/layout.md ("What an opener
 * checks", mailbox), in order, and returns the checked geometry: the caller
 * keeps these copies and never reads the peer-writable fields again.
 */
static int mb_check(const shmchan_segment *seg, int64_t open_timeout_ns, uint64_t *max_value, uint64_t *stride,
                    uint64_t *nslots) {
	/* STEP(open.1) */
	if (seg->size < SHMCHAN_MAILBOX_HEADER_SIZE) return SHMCHAN_ERR_NOT_CHANNEL;
	struct mb_header *h = (struct mb_header *)seg->mem;
	int64_t deadline = deadline_of(open_timeout_ns);
	uint32_t magic, version;
	for (int64_t delay = OPEN_POLL_FIRST_NS;; delay = delay * 2 < OPEN_POLL_MAX_NS ? delay * 2 : OPEN_POLL_MAX_NS) {
		/* STEP(open.2) SYNC(mb_version): acquire; pairs with the creator's release store of version. */
		version = atomic_load_explicit(&h->version, memory_order_acquire);
		/* SYNC(mb_version): relaxed peek at magic; the creator writes it before the version. */
		magic = atomic_load_explicit(&h->magic, memory_order_relaxed);
		if (magic != 0 && magic != SHMCHAN_MAILBOX_MAGIC) return SHMCHAN_ERR_NOT_CHANNEL;
		if (version != 0) break;
		if (deadline >= 0 && mono_ns() >= deadline) return SHMCHAN_ERR_NOT_READY;
		sleep_ns(delay);
	}
	/* STEP(open.3) */
	if (magic != SHMCHAN_MAILBOX_MAGIC) return SHMCHAN_ERR_NOT_CHANNEL;
	if (version != SHMCHAN_MAILBOX_VERSION || !little_endian()) return SHMCHAN_ERR_VERSION_MISMATCH;
	/* STEP(open.4) */
	if (h->header_size != SHMCHAN_MAILBOX_HEADER_SIZE || h->slots_offset != SHMCHAN_MB_OFF_SLOTS ||
	    (h->flags & SHMCHAN_FLAGS_INCOMPATIBLE_MASK) != 0)
		return SHMCHAN_ERR_VERSION_MISMATCH;
	/* STEP(open.5) */
	uint64_t max = h->max_value, size = h->slot_size, n = h->slot_count;
	uint64_t room = seg->size - SHMCHAN_MAILBOX_HEADER_SIZE;
	if (max < 1 || max > MAX_SEGMENT_SIZE || n < SHMCHAN_MAILBOX_MIN_SLOTS || n > SHMCHAN_MAILBOX_MAX_SLOTS ||
	    size != mb_stride(max) || size > room / n)
		return SHMCHAN_ERR_CORRUPT;
	/* STEP(open.6) The caller keeps these copies. */
	*max_value = max;
	*stride = size;
	*nslots = n;
	return SHMCHAN_OK;
}

static int mailbox_options(const shmchan_options *opts, shmchan_options *o) {
	*o = options_or_default(opts);
	if (o->read_only) return SHMCHAN_ERR_READ_ONLY; /* readers write too: the check and the wait count */
	if (o->wait != SHMCHAN_WAIT_ADAPTIVE && o->wait != SHMCHAN_WAIT_SPIN && o->wait != SHMCHAN_WAIT_BLOCK)
		return SHMCHAN_ERR_INVALID;
	return SHMCHAN_OK;
}

/* mb_finish wraps seg in a mailbox or, on failure, closes seg (removing it if we created it). */
static int mb_finish(shmchan_segment *seg, int created, uint64_t want_max, const shmchan_options *o,
                     shmchan_mailbox **out) {
	int rc = SHMCHAN_OK;
	uint64_t max = want_max, stride = mb_stride(want_max), n = SHMCHAN_MAILBOX_SLOTS;
	shmchan_mailbox *mb = NULL;
	if (created) {
		GUARD_CALL(seg, rc, (mb_init((struct mb_header *)seg->mem, want_max), SHMCHAN_OK));
	} else {
		GUARD_CALL(seg, rc, mb_check(seg, o->open_timeout_ns, &max, &stride, &n));
		if (rc == SHMCHAN_OK && want_max != 0 && max != want_max) rc = SHMCHAN_ERR_INCOMPATIBLE;
	}
	if (rc == SHMCHAN_OK && (max > (uint64_t)SIZE_MAX || (mb = (shmchan_mailbox *)calloc(1, sizeof *mb)) == NULL)) {
		errno = ENOMEM;
		rc = SHMCHAN_ERR_SYSTEM;
	}
	/* The wait word, named (on Windows) as Go's mailbox names it: name + ".mbwake". */
	if (rc == SHMCHAN_OK && (rc = wword_open(&mb->word, &((struct mb_header *)seg->mem)->wake_seq, seg, ".mbwake",
	                                        SHMCHAN_MAILBOX_MAX_WAITERS)) != SHMCHAN_OK) {
		free(mb);
		mb = NULL;
	}
	/* The writer's role lock (Windows: the mutex, which the segment's close closes). */
	if (rc == SHMCHAN_OK && (rc = role_open(seg, SHMCHAN_LOCK_MB_WRITER)) != SHMCHAN_OK) {
		wword_close(&mb->word);
		free(mb);
		mb = NULL;
	}
	if (rc != SHMCHAN_OK) {
		int saved = errno;
		if (created) seg->remove_on_close = 1;
		shmchan_segment_close(seg);
		errno = saved;
		return rc;
	}
	mb->seg = seg;
	mb->h = (struct mb_header *)seg->mem;
	mb->slots = (uint8_t *)seg->mem + SHMCHAN_MB_OFF_SLOTS;
	mb->max = max;
	mb->stride = stride;
	mb->nslots = n;
	mb->wait = o->wait;
	mb->st = (mb->h->flags & SHMCHAN_FLAG_STATS) ? &mb->h->writer_stats : &mb->local;
	*out = mb;
	return SHMCHAN_OK;
}

int shmchan_mailbox_create(const char *name, uint64_t max_value, const shmchan_options *opts, shmchan_mailbox **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	shmchan_options o;
	int rc = mailbox_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	uint64_t size = shmchan_mailbox_size(max_value);
	if (size == 0) return SHMCHAN_ERR_INVALID_SIZE;
	if (!little_endian()) return SHMCHAN_ERR_UNSUPPORTED;
	shmchan_segment *seg;
	/* STEP(create.1) Create exclusively, size and map: the bytes are zero. */
	rc = create_segment(name, size, &o, &seg);
	if (rc != SHMCHAN_OK) return rc;
	return mb_finish(seg, 1, max_value, &o, out);
}

int shmchan_mailbox_open(const char *name, const shmchan_options *opts, shmchan_mailbox **out) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	shmchan_options o;
	int rc = mailbox_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	shmchan_segment *seg;
	/* STEP(open.1) Open, the owner check, map; the kind's check tests the size. */
	rc = open_segment(name, &o, &seg);
	if (rc != SHMCHAN_OK) return rc;
	return mb_finish(seg, 0, 0, &o, out);
}

int shmchan_mailbox_open_or_create(const char *name, uint64_t max_value, const shmchan_options *opts,
                                   shmchan_mailbox **out, int *created) {
	if (out == NULL) return SHMCHAN_ERR_INVALID;
	*out = NULL;
	if (created != NULL) *created = 0;
	shmchan_options o;
	int rc = mailbox_options(opts, &o);
	if (rc != SHMCHAN_OK) return rc;
	if (!valid_name(name)) return SHMCHAN_ERR_INVALID_NAME;
	uint64_t size = shmchan_mailbox_size(max_value);
	if (size == 0) return SHMCHAN_ERR_INVALID_SIZE;
	if (!little_endian()) return SHMCHAN_ERR_UNSUPPORTED;
	shmchan_segment *seg;
	int made = 0;
	/* STEP(create.1) STEP(open.1) Whichever applies, without a race. */
	rc = shmchan_segment_open_or_create(name, size, &o, &seg, &made);
	if (rc != SHMCHAN_OK) return rc;
	rc = mb_finish(seg, made, max_value, &o, out);
	if (rc == SHMCHAN_OK && created != NULL) *created = made;
	return rc;
}

uint64_t shmchan_mailbox_max_value(const shmchan_mailbox *mb) { return mb == NULL ? 0 : mb->max; }

shmchan_segment *shmchan_mailbox_segment(const shmchan_mailbox *mb) { return mb == NULL ? NULL : mb->seg; }

/* ---- Mailboxes: the seqlock slots -------------------------------------------------- */

static struct mb_slot *mb_slot_of(const shmchan_mailbox *mb, uint64_t v) {
	return (struct mb_slot *)(void *)(mb->slots + (v % mb->nslots) * mb->stride);
}

static uint8_t *mb_value_of(struct mb_slot *s) { return (uint8_t *)s + SHMCHAN_MAILBOX_SLOT_HEADER; }

/* mb_load_latest loads latest and checks it; order is acquire or seq_cst (see the callers). */
static int mb_load_latest(const shmchan_mailbox *mb, memory_order order, uint64_t *v) {
	/* SYNC(mb_latest): acquire (seq_cst in the park re-check); pairs with the writer's seq_cst store at
	 * the end of mb_publish (or Go's Buffer.Publish). */
	uint64_t x = atomic_load_explicit(&mb->h->latest, order);
	if (x > SHMCHAN_MAILBOX_MAX_VERSION) return SHMCHAN_ERR_CORRUPT;
	*v = x;
	return SHMCHAN_OK;
}

/* mb_stable reports whether the slot's sequence still holds s, with the read-modify-write check. */
static int mb_stable(struct mb_slot *slot, uint64_t s) {
	/* STEP(read.3) STEP(read.5) SYNC(mb_seq): read-modify-write check; pairs with the writer's exchange to odd. */
	return atomic_fetch_add_explicit(&slot->seq, 0, memory_order_seq_cst) == s;
}

/*
 * mb_lapped checks a slot sequence s that differs from 2v, where v is the
 * latest version just loaded: OK if the writer has lapped the reader (try
 * again), CORRUPT if no correct writer could have left s there.
 */
static int mb_lapped(const shmchan_mailbox *mb, uint64_t v, uint64_t s) {
	/* STEP(read.2) A correct writer completes slot v (2v) before it stores latest = v, and then writes v+N, marking
	 * 2(v+N)+1, in this slot before any other value: s is 2v, or at least 2(v+N). No overflow: v is at
	 * most 2^62-1 and N at most 16. */
	if (s < 2 * (v + mb->nslots)) return SHMCHAN_ERR_CORRUPT;
	/* The writer stored latest = v+N-1 before it marked the slot for v+N. */
	uint64_t w;
	int rc = mb_load_latest(mb, memory_order_acquire, &w);
	if (rc != SHMCHAN_OK) return rc;
	return w < v + mb->nslots - 1 ? SHMCHAN_ERR_CORRUPT : SHMCHAN_OK;
}

/*
 * mb_try_read is one attempt at copying the newest value into buf: *ok is 0
 * if the writer overwrote the slot during the copy (buf then holds garbage).
 * A value longer than cap gives SHORT_BUFFER with its length in *len, once a
 * stable read confirms the length.
 */
static int mb_try_read(const shmchan_mailbox *mb, void *buf, size_t cap, size_t *len, uint64_t *version, int *ok) {
	uint64_t v;
	*ok = 0;
	/* STEP(read.1) */
	int rc = mb_load_latest(mb, memory_order_acquire, &v);
	if (rc != SHMCHAN_OK) return rc;
	*version = v;
	*len = 0;
	if (v == 0) {
		*ok = 1;
		return SHMCHAN_OK;
	}
	struct mb_slot *slot = mb_slot_of(mb, v);
	/* STEP(read.2) SYNC(mb_seq): acquire; pairs with the writer's release store of 2v, which precedes its store of
	 * latest = v. */
	uint64_t s = atomic_load_explicit(&slot->seq, memory_order_acquire);
	if (s != 2 * v) return mb_lapped(mb, v, s);
	/* STEP(read.3) SYNC(mb_len): read inside the seqlock window; checked below before use. */
	uint64_t n = atomic_load_explicit(&slot->len, memory_order_acquire);
	if (n > mb->max || n > (uint64_t)cap) {
		/* A torn read or a real length: settle it first. */
		if (!mb_stable(slot, s)) return SHMCHAN_OK;
		if (n > mb->max) return SHMCHAN_ERR_CORRUPT;
		*len = (size_t)n;
		*ok = 1;
		return SHMCHAN_ERR_SHORT_BUFFER;
	}
	/* STEP(read.4) */
	if (n > 0) memcpy(buf, mb_value_of(slot), (size_t)n);
	/* STEP(read.5) SYNC(mb_seq): read-modify-write check ("read-don't-modify-write"), seq_cst; pairs with the writer's
	 * exchange to odd (see "Mailboxes: layout" above and package sync/seqlock). */
	uint64_t again = atomic_fetch_add_explicit(&slot->seq, 0, memory_order_seq_cst);
	if (again != s) return SHMCHAN_OK;
	*len = (size_t)n;
	*ok = 1;
	return SHMCHAN_OK;
}

/* mb_read copies the newest value, retrying while the writer laps the reader, yielding after a few tries. */
static int mb_read(const shmchan_mailbox *mb, void *buf, size_t cap, size_t *len, uint64_t *version) {
	for (int try = 0;; try++) {
		int ok;
		int rc = mb_try_read(mb, buf, cap, len, version, &ok);
		if (ok || rc != SHMCHAN_OK) {
			if (rc != SHMCHAN_OK && rc != SHMCHAN_ERR_SHORT_BUFFER) {
				*len = 0;
				*version = 0;
			}
			return rc;
		}
		if (try >= MB_RETRIES_BEFORE_YIELD) yield_cpu();
	}
}

/* ---- Mailboxes: publish, read, wait, close ------------------------------------------- */

/* mb_wake_all bumps the wait word and wakes every reader sleeping on it. */
static void mb_wake_all(shmchan_mailbox *mb) {
	/* STEP(publish.6) STEP(close.2) SYNC(mb_wake_seq): bump before waking (seq_cst, as Go's atomic.AddUint32),
	 * so that a reader between its wake_seq load and its futex wait does not sleep; pairs with the load in
	 * mb_park. */
	atomic_fetch_add_explicit(&mb->h->wake_seq, 1, memory_order_seq_cst);
	/* SYNC(mb_waiters): seq_cst; how many readers to release where a wake is counted (Windows). */
	wword_wake_n(&mb->word, atomic_load_explicit(&mb->h->waiters, memory_order_seq_cst));
}

static int mailbox_publish_impl(shmchan_mailbox *mb, const void *value, size_t len, uint64_t *version) {
	if (version != NULL) *version = 0;
	if (mb == NULL || (value == NULL && len > 0)) return SHMCHAN_ERR_INVALID;
	if ((uint64_t)len > mb->max) return SHMCHAN_ERR_TOO_LARGE;
	struct mb_header *h = mb->h;
	if (!mb->writer) {
		uint64_t self = shmchan_self_token();
		int took;
		int rc = claim(mb->seg, SHMCHAN_LOCK_MB_WRITER, &h->owner, &h->closed, self, &took);
		if (rc != SHMCHAN_OK) return rc;
		mb->token = self;
		mb->writer = 1;
		if (took) count(&mb->st->takeovers, 1);
	}
	/* STEP(publish.1) Continue from the version in the region: a writer that takes over from a dead one carries on
	 * where that one left off (a half-written slot is simply written again). */
	uint64_t v;
	int rc = mb_load_latest(mb, memory_order_acquire, &v);
	if (rc != SHMCHAN_OK) return rc;
	if (v == SHMCHAN_MAILBOX_MAX_VERSION) return SHMCHAN_ERR_CORRUPT;
	v++;
	struct mb_slot *slot = mb_slot_of(mb, v);
	/* STEP(publish.2) SYNC(mb_seq): read-modify-write (seq_cst exchange), so that no store below is ordered before it,
	 * then a release fence; pairs with the reader's read-modify-write check in mb_try_read and Go's
	 * Buffer.TryRead (and with a fenced C reader's acquire fence). */
	atomic_exchange_explicit(&slot->seq, 2 * v + 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_release);
	/* STEP(publish.3) SYNC(mb_len): written inside the odd window; pairs with the load in mb_try_read. */
	atomic_store_explicit(&slot->len, (uint64_t)len, memory_order_relaxed);
	if (len > 0) memcpy(mb_value_of(slot), value, len);
	/* STEP(publish.4) SYNC(mb_seq): release; publishes the bytes to a reader that loads 2v. */
	atomic_store_explicit(&slot->seq, 2 * v, memory_order_release);
	/* STEP(publish.5) SYNC(mb_latest): seq_cst store after the slot is complete; pairs with the readers' loads and, as a
	 * Dekker pair with the load of waiters below, with the reader's park. */
	atomic_store_explicit(&h->latest, v, memory_order_seq_cst);
	count(&mb->st->messages, 1);
	count(&mb->st->bytes, (uint64_t)len);
	/* STEP(publish.6) SYNC(mb_waiters): seq_cst load after the seq_cst store of latest; pairs with the reader's increment
	 * then latest load in mb_park (Dekker). Only a parked reader costs a system call. */
	if (atomic_load_explicit(&h->waiters, memory_order_seq_cst) != 0) {
		mb_wake_all(mb);
		count(&mb->st->wakes, 1);
	}
	if (version != NULL) *version = v;
	return SHMCHAN_OK;
}

static int mailbox_version_impl(shmchan_mailbox *mb, uint64_t *version) {
	if (mb == NULL || version == NULL) return SHMCHAN_ERR_INVALID;
	*version = 0;
	return mb_load_latest(mb, memory_order_acquire, version);
}

static int mb_read_args(const shmchan_mailbox *mb, const void *buf, size_t cap, size_t *len, uint64_t *version) {
	if (mb == NULL || len == NULL || version == NULL || (buf == NULL && cap > 0)) return SHMCHAN_ERR_INVALID;
	*len = 0;
	*version = 0;
	return SHMCHAN_OK;
}

static int mailbox_latest_impl(shmchan_mailbox *mb, void *buf, size_t cap, size_t *len, uint64_t *version) {
	int rc = mb_read_args(mb, buf, cap, len, version);
	if (rc != SHMCHAN_OK) return rc;
	/* SYNC(mb_closed): seq_cst, loaded before latest, so that a closed mailbox's final value is the one
	 * read below; pairs with the store in shmchan_mailbox_close (and Go's Mailbox.Close). */
	int closed = atomic_load_explicit(&mb->h->closed, memory_order_seq_cst) != 0;
	rc = mb_read(mb, buf, cap, len, version);
	if (rc != SHMCHAN_OK) return rc;
	return closed ? SHMCHAN_EOF : SHMCHAN_OK;
}

/* mb_poll reports whether a version newer than version is complete, and whether the writer closed. */
static int mb_poll(const shmchan_mailbox *mb, uint64_t version, int *newer, int *closed) {
	/* SYNC(mb_closed): seq_cst load before latest; pairs with the store in shmchan_mailbox_close. */
	*closed = atomic_load_explicit(&mb->h->closed, memory_order_seq_cst) != 0;
	uint64_t v;
	int rc = mb_load_latest(mb, memory_order_seq_cst, &v);
	if (rc != SHMCHAN_OK) return rc;
	*newer = v > version;
	return SHMCHAN_OK;
}

/*
 * mb_writer_dead reports whether the writer's process is dead without having
 * closed. No writer yet (owner 0) counts as alive: one may come. The wait
 * asks it on the table's schedule: from LIVENESS_TICK_NS into the wait, then
 * every LIVENESS_TICK_NS (as Go's livenessTick).
 */
static int mb_writer_dead(shmchan_mailbox *mb) {
	return peer_gone(mb->seg, SHMCHAN_LOCK_MB_WRITER, &mb->h->owner, &mb->h->closed, mb->writer);
}

/*
 * mb_park sleeps on the wait word until the writer publishes or closes, the
 * deadline, or 50 ms, whichever comes first; the caller re-checks everything.
 *
 * The handshake with publish: the reader increments waiters (seq_cst), then
 * re-checks closed and latest (seq_cst); the writer stores latest (seq_cst),
 * then loads waiters. One of the two sees the other's store: either the
 * re-check sees the new version, or the writer sees a waiter and bumps
 * wake_seq, which makes the futex wait return at once or wakes it. Loading
 * wake_seq before the re-check closes the window between re-check and sleep.
 */
static int mb_park(shmchan_mailbox *mb, uint64_t version, int64_t deadline) {
	struct mb_header *h = mb->h;
	/* STEP(mbwait.1) SYNC(mb_wake_seq): acquire; loaded before the re-check, so that a bump after it makes the wait
	 * return at once. */
	uint32_t s = atomic_load_explicit(&h->wake_seq, memory_order_acquire);
	/* STEP(mbwait.2) SYNC(mb_waiters): seq_cst increment, then the re-check loads latest; pairs with the store of latest
	 * then the load of waiters in shmchan_mailbox_publish (Dekker). */
	atomic_fetch_add_explicit(&h->waiters, 1, memory_order_seq_cst);
	int newer = 0, closed = 0;
	/* STEP(mbwait.3) */
	int rc = mb_poll(mb, version, &newer, &closed);
	if (rc == SHMCHAN_OK && !newer && !closed) {
		int64_t ns = MAX_SLEEP_NS;
		if (deadline >= 0) {
			int64_t left = deadline - mono_ns();
			if (left < ns) ns = left;
		}
		/* STEP(mbwait.4) */
		wword_wait(&mb->word, s, ns);
	}
	/* STEP(mbwait.5) SYNC(mb_waiters): the matching seq_cst decrement. */
	atomic_fetch_sub_explicit(&h->waiters, 1, memory_order_seq_cst);
	return rc;
}

static int mailbox_wait_newer_impl(shmchan_mailbox *mb, uint64_t version, void *buf, size_t cap, size_t *len,
                               uint64_t *new_version, int64_t timeout_ns) {
	int rc = mb_read_args(mb, buf, cap, len, new_version);
	if (rc != SHMCHAN_OK) return rc;
	struct waiter w;
	waiter_init(&w, timeout_ns);
	for (;;) {
		int newer, closed;
		rc = mb_poll(mb, version, &newer, &closed);
		if (rc != SHMCHAN_OK) return rc;
		if (newer) {
			rc = mb_read(mb, buf, cap, len, new_version);
			if (rc == SHMCHAN_OK && *new_version <= version) {
				/* latest went back below what the caller already had. */
				*len = 0;
				*new_version = 0;
				rc = SHMCHAN_ERR_CORRUPT;
			}
			return rc;
		}
		if (closed) {
			*new_version = version;
			return SHMCHAN_EOF;
		}
		w.spins++;
		if (quick_retry(mb->wait, w.spins)) {
			cpu_relax(); /* cheap spin, or Block's re-poll: poll again at once */
			continue;
		}
		int64_t now = mono_ns();
		if (w.began == 0) {
			w.began = now;
			w.next_check = now + LIVENESS_TICK_NS;
		}
		if (w.deadline >= 0 && now >= w.deadline) return SHMCHAN_ERR_TIMEOUT;
		int check = now >= w.next_check;
		if (check) w.next_check = now + LIVENESS_TICK_NS;
		if (check && mb_writer_dead(mb)) {
			/* One more poll: what the writer published (or a close) before it died still counts. */
			rc = mb_poll(mb, version, &newer, &closed);
			if (rc != SHMCHAN_OK) return rc;
			if (!newer && !closed) return SHMCHAN_ERR_PEER_GONE;
			continue;
		}
		int64_t waited = now - w.began;
		if (mb->wait == SHMCHAN_WAIT_SPIN) {
			/* Never sleep; from SPIN_YIELD_NS on, let a peer sharing our core run (as Go's Spin). */
			if (waited >= SPIN_YIELD_NS) yield_cpu();
			continue;
		}
		if (mb->wait == SHMCHAN_WAIT_ADAPTIVE && waited < ADAPTIVE_SPIN_NS) continue;
		if (mb->wait == SHMCHAN_WAIT_ADAPTIVE && waited < ADAPTIVE_YIELD_NS) {
			yield_cpu();
			continue;
		}
		rc = mb_park(mb, version, w.deadline);
		if (rc != SHMCHAN_OK) return rc;
	}
}

/* mb_close_writer is close.1 to close.4 for the writer role. */
static int mb_close_writer(shmchan_mailbox *mb) {
	struct mb_header *h = mb->h;
	/* STEP(close.1) SYNC(mb_closed): seq_cst store, after the last publish; pairs with the loads in mb_poll,
	 * shmchan_mailbox_latest and mb_writer_dead (and Go's), which load it before latest. */
	atomic_store_explicit(&h->closed, 1, memory_order_seq_cst);
	/* STEP(close.2) */
	mb_wake_all(mb);
	unclaim(mb->seg, SHMCHAN_LOCK_MB_WRITER, &h->owner, mb->token);
	return SHMCHAN_OK;
}

int shmchan_mailbox_close(shmchan_mailbox *mb) {
	if (mb == NULL) return SHMCHAN_OK;
	if (mb->writer) {
		int rc;
		GUARD_CALL(mb->seg, rc, mb_close_writer(mb));
		(void)rc; /* a fault: the descriptor's close below releases the lock */
		mb->writer = 0;
	}
	wword_close(&mb->word);
	int rc = shmchan_segment_close(mb->seg);
	free(mb);
	return rc;
}

/* ---- Guarded entry points ----------------------------------------------------------- */

/* Each public call that touches a mapping: its _impl under the fault guard (a no-op unless fault_guard). */

int shmchan_try_send(shmchan_sender *tx, const void *msg, size_t len) {
	if (tx == NULL) return try_send_impl(tx, msg, len);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, try_send_impl(tx, msg, len));
	return rc;
}

int shmchan_send(shmchan_sender *tx, const void *msg, size_t len, int64_t timeout_ns) {
	if (tx == NULL) return send_impl(tx, msg, len, timeout_ns);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, send_impl(tx, msg, len, timeout_ns));
	return rc;
}

int shmchan_try_reserve(shmchan_sender *tx, size_t len, void **buf) {
	if (tx == NULL) return try_reserve_impl(tx, len, buf);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, try_reserve_impl(tx, len, buf));
	return rc;
}

int shmchan_reserve(shmchan_sender *tx, size_t len, void **buf, int64_t timeout_ns) {
	if (tx == NULL) return reserve_impl(tx, len, buf, timeout_ns);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, reserve_impl(tx, len, buf, timeout_ns));
	return rc;
}

int shmchan_commit(shmchan_sender *tx, size_t len) {
	if (tx == NULL) return commit_impl(tx, len);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, commit_impl(tx, len));
	return rc;
}

int shmchan_try_send_batch(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs,
                           size_t *sent) {
	if (tx == NULL) return try_send_batch_impl(tx, msgs, lens, nmsgs, sent);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, try_send_batch_impl(tx, msgs, lens, nmsgs, sent));
	return rc;
}

int shmchan_send_batch(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs, size_t *sent,
                       int64_t timeout_ns) {
	if (tx == NULL) return send_batch_impl(tx, msgs, lens, nmsgs, sent, timeout_ns);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, send_batch_impl(tx, msgs, lens, nmsgs, sent, timeout_ns));
	return rc;
}

int shmchan_sender_close(shmchan_sender *tx) {
	if (tx == NULL) return sender_close_impl(tx);
	int rc;
	GUARD_CALL(tx->ch->seg, rc, sender_close_impl(tx));
	if (rc == SHMCHAN_ERR_CORRUPT && tx->open) { /* faulted: give the role up without touching the mapping */
		tx->open = 0;
		role_unlock(tx->ch->seg, SHMCHAN_LOCK_TX);
	}
	return rc;
}

int shmchan_channel_sender(shmchan_channel *ch, shmchan_sender **out) {
	if (ch == NULL) return channel_sender_impl(ch, out);
	int rc;
	GUARD_CALL(ch->seg, rc, channel_sender_impl(ch, out));
	if (rc == SHMCHAN_ERR_CORRUPT && !ch->tx.open) role_unlock(ch->seg, SHMCHAN_LOCK_TX); /* a fault after claim.2 */
	return rc;
}

int shmchan_channel_receiver(shmchan_channel *ch, shmchan_receiver **out) {
	if (ch == NULL) return channel_receiver_impl(ch, out);
	int rc;
	GUARD_CALL(ch->seg, rc, channel_receiver_impl(ch, out));
	if (rc == SHMCHAN_ERR_CORRUPT && !ch->rx.open) role_unlock(ch->seg, SHMCHAN_LOCK_RX); /* a fault after claim.2 */
	return rc;
}

int shmchan_try_recv(shmchan_receiver *rx, void *buf, size_t cap, size_t *len) {
	if (rx == NULL) return try_recv_impl(rx, buf, cap, len);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, try_recv_impl(rx, buf, cap, len));
	return rc;
}

int shmchan_recv(shmchan_receiver *rx, void *buf, size_t cap, size_t *len, int64_t timeout_ns) {
	if (rx == NULL) return recv_impl(rx, buf, cap, len, timeout_ns);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, recv_impl(rx, buf, cap, len, timeout_ns));
	return rc;
}

int shmchan_try_peek(shmchan_receiver *rx, const void **msg, size_t *len) {
	if (rx == NULL) return try_peek_impl(rx, msg, len);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, try_peek_impl(rx, msg, len));
	return rc;
}

int shmchan_peek(shmchan_receiver *rx, const void **msg, size_t *len, int64_t timeout_ns) {
	if (rx == NULL) return peek_impl(rx, msg, len, timeout_ns);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, peek_impl(rx, msg, len, timeout_ns));
	return rc;
}

int shmchan_try_recv_batch(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                           size_t *received) {
	if (rx == NULL) return try_recv_batch_impl(rx, bufs, caps, lens, nmsgs, received);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, try_recv_batch_impl(rx, bufs, caps, lens, nmsgs, received));
	return rc;
}

int shmchan_recv_batch(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                       size_t *received, int64_t timeout_ns) {
	if (rx == NULL) return recv_batch_impl(rx, bufs, caps, lens, nmsgs, received, timeout_ns);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, recv_batch_impl(rx, bufs, caps, lens, nmsgs, received, timeout_ns));
	return rc;
}

int shmchan_release(shmchan_receiver *rx) {
	if (rx == NULL) return release_impl(rx);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, release_impl(rx));
	return rc;
}

int shmchan_receiver_close(shmchan_receiver *rx) {
	if (rx == NULL) return receiver_close_impl(rx);
	int rc;
	GUARD_CALL(rx->ch->seg, rc, receiver_close_impl(rx));
	if (rc == SHMCHAN_ERR_CORRUPT && rx->open) { /* faulted: give the role up without touching the mapping */
		rx->open = 0;
		role_unlock(rx->ch->seg, SHMCHAN_LOCK_RX);
	}
	return rc;
}

/* load_stats reads a counter line, each count with one relaxed load (not one snapshot). */
static void load_stats(struct stats_line *l, shmchan_stats *out) {
	if (out == NULL) return;
	/* SYNC(stats): relaxed loads; pair with the stores in count (and Go's), by the end's holder. */
	out->messages = atomic_load_explicit(&l->messages, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&l->bytes, memory_order_relaxed);
	out->waits = atomic_load_explicit(&l->waits, memory_order_relaxed);
	out->parks = atomic_load_explicit(&l->parks, memory_order_relaxed);
	out->wakes = atomic_load_explicit(&l->wakes, memory_order_relaxed);
	out->takeovers = atomic_load_explicit(&l->takeovers, memory_order_relaxed);
}

static int channel_stats_impl(const shmchan_channel *ch, shmchan_stats *sender, shmchan_stats *receiver) {
	if (ch->tx_st == &ch->local[0]) return SHMCHAN_ERR_UNSUPPORTED;
	load_stats(ch->tx_st, sender);
	load_stats(ch->rx_st, receiver);
	return SHMCHAN_OK;
}

int shmchan_channel_stats(const shmchan_channel *ch, shmchan_stats *sender, shmchan_stats *receiver) {
	if (ch == NULL) return SHMCHAN_ERR_INVALID;
	int rc;
	GUARD_CALL(ch->seg, rc, channel_stats_impl(ch, sender, receiver));
	return rc;
}

static int mailbox_stats_impl(const shmchan_mailbox *mb, shmchan_stats *writer) {
	if (mb->st == &mb->local) return SHMCHAN_ERR_UNSUPPORTED;
	load_stats(mb->st, writer);
	return SHMCHAN_OK;
}

int shmchan_mailbox_stats(const shmchan_mailbox *mb, shmchan_stats *writer) {
	if (mb == NULL) return SHMCHAN_ERR_INVALID;
	int rc;
	GUARD_CALL(mb->seg, rc, mailbox_stats_impl(mb, writer));
	return rc;
}

int shmchan_mailbox_publish(shmchan_mailbox *mb, const void *value, size_t len, uint64_t *version) {
	if (mb == NULL) return mailbox_publish_impl(mb, value, len, version);
	int rc;
	GUARD_CALL(mb->seg, rc, mailbox_publish_impl(mb, value, len, version));
	if (rc == SHMCHAN_ERR_CORRUPT && !mb->writer) role_unlock(mb->seg, SHMCHAN_LOCK_MB_WRITER); /* a fault after claim.2 */
	return rc;
}

int shmchan_mailbox_version(shmchan_mailbox *mb, uint64_t *version) {
	if (mb == NULL) return mailbox_version_impl(mb, version);
	int rc;
	GUARD_CALL(mb->seg, rc, mailbox_version_impl(mb, version));
	return rc;
}

int shmchan_mailbox_latest(shmchan_mailbox *mb, void *buf, size_t cap, size_t *len, uint64_t *version) {
	if (mb == NULL) return mailbox_latest_impl(mb, buf, cap, len, version);
	int rc;
	GUARD_CALL(mb->seg, rc, mailbox_latest_impl(mb, buf, cap, len, version));
	return rc;
}

int shmchan_mailbox_wait_newer(shmchan_mailbox *mb, uint64_t version, void *buf, size_t cap, size_t *len,
                               uint64_t *new_version, int64_t timeout_ns) {
	if (mb == NULL) return mailbox_wait_newer_impl(mb, version, buf, cap, len, new_version, timeout_ns);
	int rc;
	GUARD_CALL(mb->seg, rc, mailbox_wait_newer_impl(mb, version, buf, cap, len, new_version, timeout_ns));
	return rc;
}

/* ---- Wait words ------------------------------------------------------------------ */

/*
 * wword_wait: atomically, if *addr == val then sleep up to ns; spurious
 * wakeups allowed (the contract of Go's sync/wake and the runtime's
 * futexsleep). The caller re-checks its condition afterwards.
 */
#if defined(_WIN32)
/*
 * Windows: a named auto-reset event per word, named as Go's wake.Open names
 * it: "Local\shmchan.wake:" + segment name + suffix (".data", ".space",
 * ".mbwake"), or "Global\..." for a Global segment. WaitOnAddress cannot
 * wake another process; the event can. A waker increments the word, then
 * sets the event, which stays set until a waiter consumes it, so a wakeup
 * between the word check and the sleep is not lost. One SetEvent releases
 * one waiter; several waiters (mailbox readers) bound their sleeps by 50 ms.
 */
static int win_code(DWORD e);

static int wword_open(struct wword *w, _Atomic uint32_t *addr, const shmchan_segment *seg, const char *suffix,
                      unsigned max_waiters) {
	char obj[128];
	WCHAR wobj[128];
	int n = snprintf(obj, sizeof obj, "%s\\shmchan.wake:%s%s", seg->global ? "Global" : "Local", seg->name, suffix);
	if (n < 0 || (size_t)n >= sizeof obj) return SHMCHAN_ERR_INVALID_NAME;
	for (int i = 0; i <= n; i++) wobj[i] = (WCHAR)(unsigned char)obj[i];
	w->addr = addr;
	/* A semaphore of count 0 and maximum max_waiters, default security (the current user), as Go's
	 * sync/wake names and makes it: a wake releases as many sleepers as it says (one per channel word,
	 * every parked reader of a mailbox). If the peer created it first, CreateSemaphoreW opens it
	 * (ERROR_ALREADY_EXISTS with a valid handle): that is success. */
	w->ev = CreateSemaphoreW(NULL, 0, (LONG)(max_waiters < 1 ? 1 : max_waiters), wobj);
	if (w->ev == NULL && GetLastError() == ERROR_ACCESS_DENIED)
		w->ev = OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, wobj);
	if (w->ev == NULL) return win_code(GetLastError());
	return SHMCHAN_OK;
}

static void wword_wait(struct wword *w, uint32_t val, int64_t ns) {
	if (ns <= 0) return;
	/* SYNC(data_seq)/SYNC(space_seq)/SYNC(mb_wake_seq): acquire; pairs with the waker's increment. */
	if (atomic_load_explicit(w->addr, memory_order_acquire) != val) return;
	int64_t ms = (ns + 999999) / 1000000; /* round up, so that a short timeout sleeps */
	/* Woken (perhaps by a stale signal) or timed out: the caller re-checks. */
	(void)WaitForSingleObject(w->ev, (DWORD)(ms < INFINITE - 1 ? ms : INFINITE - 1));
}

static void wword_wake_n(struct wword *w, uint32_t n) {
	if (n < 1) n = 1;
	if (ReleaseSemaphore(w->ev, (LONG)n, NULL) || GetLastError() != ERROR_TOO_MANY_POSTS) return;
	/* The count would pass the maximum (some are stale already): release what still fits. */
	for (uint32_t i = 0; i < n && ReleaseSemaphore(w->ev, 1, NULL); i++) {
	}
}

static void wword_wake(struct wword *w) { wword_wake_n(w, 1); }

static void wword_close(struct wword *w) {
	if (w->ev != NULL) CloseHandle(w->ev);
	w->ev = NULL;
}
#else
/* POSIX: the futex is keyed by the word itself (the name is Windows' business). */
static int wword_open(struct wword *w, _Atomic uint32_t *addr, const shmchan_segment *seg, const char *suffix,
                      unsigned max_waiters) {
	(void)max_waiters;
	(void)seg;
	(void)suffix;
	w->addr = addr;
	return SHMCHAN_OK;
}

static void wword_close(struct wword *w) { (void)w; }

/* Never FUTEX_PRIVATE_FLAG: the word is shared between processes, and the private flag would key the
 * futex on this address space. */
static void wword_wait(struct wword *w, uint32_t val, int64_t ns) {
	if (ns <= 0) return;
	_Atomic uint32_t *addr = w->addr;
#if defined(__linux__)
	struct timespec ts = {(time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC)};
	/* Woken, value changed (EAGAIN), signal (EINTR) or timeout: the caller re-checks. */
	(void)syscall(SYS_futex, (void *)addr, FUTEX_WAIT, val, &ts, NULL, 0);
#else
	/* No cross-process wait primitive wired in: poll the word, as Go's sync/wake does. */
	int64_t deadline = mono_ns() + ns;
	for (int64_t d = WAKE_POLL_FIRST_NS;; d = d * 2 < WAKE_POLL_MAX_NS ? d * 2 : WAKE_POLL_MAX_NS) {
		/* SYNC(data_seq)/SYNC(space_seq)/SYNC(mb_wake_seq): acquire; pairs with the waker's increment. */
		if (atomic_load_explicit(addr, memory_order_acquire) != val) return;
		int64_t left = deadline - mono_ns();
		if (left <= 0) return;
		sleep_ns(d < left ? d : left);
	}
#endif
}

/* wword_wake wakes every waiter on the word. */
/* wword_wake_n wakes every sleeper: a futex wake is not counted. */
static void wword_wake_n(struct wword *w, uint32_t n) {
	(void)n;
	wword_wake(w);
}

static void wword_wake(struct wword *w) {
#if defined(__linux__)
	(void)syscall(SYS_futex, (void *)w->addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
	(void)w;
#endif
}
#endif

/* ---- Waiting ------------------------------------------------------------------- */

static void waiter_init(struct waiter *w, int64_t timeout_ns) {
	w->deadline = deadline_of(timeout_ns); /* reads the clock only for a finite timeout */
	w->began = 0;
	w->next_check = 0;
	w->spins = 0;
	w->peer_dead = 0;
	w->armed = 0;
	w->armed_seq = 0;
}

/* sleep_budget is how long one futex wait may last: up to 50 ms, and not past the deadline. */
static int64_t sleep_budget(const struct waiter *w, int64_t now) {
	int64_t ns = MAX_SLEEP_NS;
	if (w->deadline >= 0 && w->deadline - now < ns) ns = w->deadline - now;
	return ns;
}

/*
 * quick_retry says whether attempt spins (1, 2, ...) of a wait retries at once, without reading the clock:
 * a cheap spin between clock readings, or one of Block's re-polls before it announces a park (as Go's
 * waiter.pause). Without them a receiver that keeps up with its sender parks, and costs the sender a wake,
 * per message.
 */
static int quick_retry(int wait, unsigned spins) {
	if (wait == SHMCHAN_WAIT_BLOCK) return spins < BLOCK_POLLS;
	return spins % CHECK_EVERY != 1;
}

/*
 * wait_common runs the parts of a wait that do not depend on the side: the
 * deadline, the liveness check (at most every 50 ms), and the spin and yield
 * phases. It returns 1 when the caller should park, 0 to try again, or an error.
 * Spinning reads the clock only every CHECK_EVERY attempts, as Go's waiter does.
 */
static int wait_common(const shmchan_channel *ch, struct waiter *w, uint64_t peer_lock, _Atomic uint64_t *peer_owner,
                       _Atomic uint32_t *peer_closed, int self_holds_peer) {
	unsigned i = ++w->spins;
	if (!w->armed && quick_retry(ch->wait, i)) {
		cpu_relax();
		return 0;
	}
	int64_t now = mono_ns();
	if (w->began == 0) {
		w->began = now;
		w->next_check = now + LIVENESS_TICK_NS;
	}
	if (w->deadline >= 0 && now >= w->deadline) return SHMCHAN_ERR_TIMEOUT;
	if (now >= w->next_check) {
		w->next_check = now + LIVENESS_TICK_NS;
		/* No peer yet, or one that closed, is not gone: keep waiting, or see the close next attempt. */
		if (peer_gone(ch->seg, peer_lock, peer_owner, peer_closed, self_holds_peer)) {
			w->peer_dead = 1;
			return 0;
		}
	}
	switch (ch->wait) {
	case SHMCHAN_WAIT_SPIN:
		/* Never sleep, but from SPIN_YIELD_NS on let a peer that shares our core run (as Go's Spin). */
		if (now - w->began >= SPIN_YIELD_NS) yield_cpu();
		else cpu_relax();
		return 0;
	case SHMCHAN_WAIT_BLOCK:
		return 1;
	default:
		if (now - w->began < ADAPTIVE_SPIN_NS) {
			cpu_relax();
			return 0;
		}
		if (now - w->began < ADAPTIVE_YIELD_NS) {
			yield_cpu();
			return 0;
		}
		return 1;
	}
}

/*
 * park is the parking half of rx_wait and tx_wait, for the end whose wait word is seq (data_seq for the
 * receiver, space_seq for the sender), woken through word, whose announcement is parked (rx_parked,
 * tx_parked) and whose counters are st. Parking is Go's store-then-load (shm/wait.go): the first call that
 * parks announces it (park.1-2) and returns, so that the caller's retry of the whole attempt is the
 * re-check (park.3, in WAIT_LOOP); only the next call, if that retry still failed, sleeps (park.4) and
 * withdraws the announcement (park.5). Sleeping at once after a re-check of the header alone, as the
 * receiver did before, parked after nearly every message when it kept up with its sender
 * (docs/design.md, "Waits").
 */
static int park(struct waiter *w, _Atomic uint32_t *seq, _Atomic uint32_t *parked, struct wword *word,
                struct stats_line *st) {
	if (!w->armed) {
		/* Park: the peer's publish (the sender stores the header, the receiver head; then it loads this
		 * end's parked flag) is the other half. */
		/* STEP(park.1) SYNC(data_seq)/SYNC(space_seq): acquire; loaded before the re-check, so a bump after it
		 * makes the sleep return. */
		w->armed_seq = atomic_load_explicit(seq, memory_order_acquire);
		/* STEP(park.2) SYNC(rx_parked)/SYNC(tx_parked): seq_cst store, then the caller's retry loads, for the
		 * receiver, the header (seq_cst, recv.1) and tx_closed (recv.2); for the sender, rx_closed (send.1) and
		 * head (seq_cst, send.2: the cached head says full). Pairs with the peer's store then load of this flag
		 * (the sender's header store then rx_parked load in tx_commit, the receiver's head store then
		 * tx_parked load in rx_consume: Dekker). */
		atomic_store_explicit(parked, 1, memory_order_seq_cst);
		w->armed = 1;
		return 0;
	}
	/* STEP(park.4) */
	count(&st->parks, 1);
	wword_wait(word, w->armed_seq, sleep_budget(w, mono_ns()));
	disarm(parked, w);
	return 0;
}

/* disarm withdraws an end's park announcement parked (rx_parked, tx_parked), if made. */
static void disarm(_Atomic uint32_t *parked, struct waiter *w) {
	if (!w->armed) return;
	/* STEP(park.5) SYNC(rx_parked)/SYNC(tx_parked): seq_cst; no longer parked; pairs with the load in the
	 * peer's notify. */
	atomic_store_explicit(parked, 0, memory_order_seq_cst);
	w->armed = 0;
}

/* rx_wait waits for data after an attempt found the ring empty: wait_common, then park. */
static int rx_wait(shmchan_receiver *rx, struct waiter *w) {
	shmchan_channel *ch = rx->ch;
	struct chan_header *h = ch->h;
	int rc = wait_common(ch, w, SHMCHAN_LOCK_TX, &h->tx_owner, &h->tx_closed, ch->tx.open);
	if (rc <= 0) return rc;
	return park(w, &h->data_seq, &h->rx_parked, &ch->data_word, ch->rx_st);
}

/* rx_disarm withdraws the receiver's park announcement, if made. */
static void rx_disarm(shmchan_receiver *rx, struct waiter *w) { disarm(&rx->ch->h->rx_parked, w); }

/* tx_wait waits for room after an attempt found the ring full; it parks as rx_wait does. */
static int tx_wait(shmchan_sender *tx, struct waiter *w) {
	shmchan_channel *ch = tx->ch;
	struct chan_header *h = ch->h;
	int rc = wait_common(ch, w, SHMCHAN_LOCK_RX, &h->rx_owner, &h->rx_closed, ch->rx.open);
	if (rc <= 0) return rc;
	return park(w, &h->space_seq, &h->tx_parked, &ch->space_word, ch->tx_st);
}

/* tx_disarm withdraws the sender's park announcement, if made. */
static void tx_disarm(shmchan_sender *tx, struct waiter *w) { disarm(&tx->ch->h->tx_parked, w); }

/* ---- Process tokens ----------------------------------------------------------- */

#if defined(_WIN32)
/* creation_time returns the process's creation FILETIME (100 ns units), as internal/platform does. */
static int creation_time(HANDLE h, uint64_t *start) {
	FILETIME created, exited, kernel, user;
	if (!GetProcessTimes(h, &created, &exited, &kernel, &user)) return -1;
	*start = (uint64_t)created.dwHighDateTime << 32 | created.dwLowDateTime;
	return 0;
}

static uint64_t make_token(uint32_t pid, uint64_t start) { return (uint64_t)pid | (uint64_t)(uint32_t)start << 32; }

static uint64_t compute_self_token(void) {
	uint64_t start = 0;
	if (creation_time(GetCurrentProcess(), &start) < 0) start = 0;
	return make_token(self_pid(), start);
}
#else
#if defined(__linux__)
/*
 * read_stat reads the state letter and start time (field 22) of process pid
 * from its main thread's /proc/PID/task/PID/stat (the same task and fields as
 * /proc/PID/stat): qemu-user fakes /proc/PID/stat for the emulated process
 * itself, with a start time often one tick off the kernel's (as the Go side,
 * internal/platform/token_linux.go).
 */
static int read_stat(pid_t pid, char *state, uint64_t *start) {
	char path[80], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/task/%ld/stat", (long)pid, (long)pid);
	int fd;
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) return -1;
	ssize_t n;
	do {
		n = read(fd, buf, sizeof buf - 1);
	} while (n < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	/* The command name (field 2) is in parentheses and may hold anything: parse from the last ')'. */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0') {
		errno = EINVAL;
		return -1;
	}
	p += 2;
	*state = *p;
	/* Fields 3 (state) .. 22 (starttime): skip 19 separators. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL) {
			errno = EINVAL;
			return -1;
		}
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno != 0) {
		errno = EINVAL;
		return -1;
	}
	*start = (uint64_t)v;
	return 0;
}
#endif

static uint64_t make_token(pid_t pid, uint64_t start) {
	return (uint64_t)(uint32_t)pid | (uint64_t)(uint32_t)start << 32;
}

static uint64_t compute_self_token(void) {
	pid_t pid = getpid();
	uint64_t start = 0;
#if defined(__linux__)
	char state;
	if (read_stat(pid, &state, &start) < 0) start = 0;
#elif defined(__APPLE__)
	struct kinfo_proc kp;
	size_t len = sizeof kp;
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
	if (sysctl(mib, 4, &kp, &len, NULL, 0) == 0 && len == sizeof kp)
		start = (uint64_t)kp.kp_proc.p_starttime.tv_sec * 1000000u + (uint64_t)kp.kp_proc.p_starttime.tv_usec;
#endif
	return make_token(pid, start);
}

#endif

/* The token is cached per process; a forked child sees another pid and recomputes it. */
static _Atomic uint64_t self_token_cache;

uint64_t shmchan_self_token(void) {
	uint64_t t = atomic_load_explicit(&self_token_cache, memory_order_relaxed); /* process-local cache, no SYNC partner */
	if (t == 0 || (uint32_t)t != self_pid()) {
		t = compute_self_token();
		atomic_store_explicit(&self_token_cache, t, memory_order_relaxed); /* process-local cache, no SYNC partner */
	}
	return t;
}

#if defined(_WIN32)
/*
 * shmchan_token_alive opens the process with just the rights it needs, as
 * internal/platform does. ERROR_INVALID_PARAMETER names no process; any other
 * failure (another user's or a protected process) counts as alive, since a
 * false "dead" would hand a live peer's role to another process. A process
 * that exited but whose object is still held open is signalled: dead.
 */
int shmchan_token_alive(uint64_t token) {
	uint32_t pid = (uint32_t)token;
	if (token == 0 || pid == 0 || pid > (uint32_t)INT_MAX) return 0;
	HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
	if (h == NULL) return GetLastError() != ERROR_INVALID_PARAMETER;
	int alive = 1;
	uint64_t start;
	if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0) alive = 0; /* exited */
	else if (creation_time(h, &start) == 0) alive = (uint32_t)(token >> 32) == 0 || (uint32_t)start == (uint32_t)(token >> 32);
	CloseHandle(h);
	return alive;
}
#else
int shmchan_token_alive(uint64_t token) {
	if (token == 0) return 0;
	uint32_t upid = (uint32_t)token;
	if (upid == 0 || upid > (uint32_t)INT_MAX) return 0;
	pid_t pid = (pid_t)upid;
	if (kill(pid, 0) < 0 && errno == ESRCH) return 0;
#if defined(__linux__)
	char state;
	uint64_t start;
	if (read_stat(pid, &state, &start) < 0) {
		/* Gone between kill and read, or /proc hidden from us (hidepid=2, another PID namespace's
		 * /proc): ask kill again, which sees the process whether or not /proc shows it. */
		return !(kill(pid, 0) < 0 && errno == ESRCH);
	}
	if (state == 'Z' || state == 'X') return 0;
	/* A token whose start is 0 was made where the start was unknown: judge it by PID alone. */
	return (uint32_t)(token >> 32) == 0 || (uint32_t)start == (uint32_t)(token >> 32);
#else
	return 1;
#endif
}
#endif
