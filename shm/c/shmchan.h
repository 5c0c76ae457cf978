/*
 * shmchan.h: the C API of shmchan, speaking shared-memory layout version 2
 * (docs/layout.md): segments, channels and mailboxes. A C program on one end
 * of a channel (or writing or reading a mailbox) and a Go program
 * (github.com/shmchan/shmchan/shm) on the other behave exactly as two Go
 * programs would.
 *
 * The header is C11 and C++ (g++ -std=c++17). Every handle is opaque: the
 * shared header and its atomics live in shmchan.c, which asserts each offset
 * of shmchan_layout.h (generated from internal/layout) with
 * _Static_assert(offsetof(...)); a Go test compares the same macros with the
 * Go constants.
 *
 * Conventions:
 *   - Functions return 0 (SHMCHAN_OK) or a negative enum shmchan_error.
 *     shmchan_strerror() names it. After SHMCHAN_ERR_SYSTEM (and the errno
 *     classes EXIST, NOT_EXIST, PERMISSION, NO_SPACE) errno holds the cause.
 *   - Timeouts are nanoseconds: a negative timeout waits without limit
 *     (SHMCHAN_FOREVER), 0 makes one attempt, and an expired timeout returns
 *     SHMCHAN_ERR_TIMEOUT.
 *   - Names follow the Go rule: 1 to 30 bytes of [A-Za-z0-9_.-], not starting
 *     with '.' or '-'. The POSIX object is "/" + name (on Linux the file
 *     /dev/shm/name), with no hidden prefix, so Go and C open the same object.
 *
 * See docs/c-api.md for each function, its errors and its thread rules.
 */
#ifndef SHMCHAN_H
#define SHMCHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Layout v2: the numbers of docs/layout.md ---------------------------- */

/*
 * SHMCHAN_OFF_*, SHMCHAN_MB_OFF_*, the magics, versions, sizes and lock
 * ranges: generated from internal/layout/layout.go (go generate
 * ./internal/layout), so that Go and C take them from one place.
 */
#include "shmchan_layout.h"

/* ---- Errors ---------------------------------------------------------------- */

/* Error codes. Each mirrors the Go error named in its comment. */
enum shmchan_error {
	SHMCHAN_OK = 0,
	SHMCHAN_EOF = -1,                  /* io.EOF: the sender closed and every message was received */
	SHMCHAN_ERR_CLOSED = -2,           /* ErrClosed: the end or the peer's end is closed */
	SHMCHAN_ERR_BUSY = -3,             /* ErrBusy: the role is held by a live process or handle */
	SHMCHAN_ERR_FULL = -4,             /* ErrFull: try-send found no room */
	SHMCHAN_ERR_EMPTY = -5,            /* ErrEmpty: try-receive found no message */
	SHMCHAN_ERR_TOO_LARGE = -6,        /* ErrTooLarge: message larger than the maximum */
	SHMCHAN_ERR_PEER_GONE = -7,        /* ErrPeerGone: the peer died without closing */
	SHMCHAN_ERR_CORRUPT = -8,          /* ErrCorrupt: shared memory breaks the layout */
	SHMCHAN_ERR_NOT_CHANNEL = -9,      /* ErrNotChannel: no channel magic */
	SHMCHAN_ERR_VERSION_MISMATCH = -10, /* ErrVersionMismatch: unknown layout version or flags */
	SHMCHAN_ERR_NOT_READY = -11,       /* ErrNotReady: the creator did not finish in time */
	SHMCHAN_ERR_TIMEOUT = -12,         /* os.ErrDeadlineExceeded: the timeout expired */
	SHMCHAN_ERR_INVALID_NAME = -13,    /* ErrInvalidName */
	SHMCHAN_ERR_INVALID_SIZE = -14,    /* ErrInvalidSize: bad size or capacity */
	SHMCHAN_ERR_INCOMPATIBLE = -15,    /* ErrIncompatible: existing object has other parameters */
	SHMCHAN_ERR_READ_ONLY = -16,       /* ErrReadOnly */
	SHMCHAN_ERR_EXIST = -17,           /* fs.ErrExist (errno EEXIST) */
	SHMCHAN_ERR_NOT_EXIST = -18,       /* fs.ErrNotExist (errno ENOENT) */
	SHMCHAN_ERR_PERMISSION = -19,      /* fs.ErrPermission (errno EACCES or EPERM) */
	SHMCHAN_ERR_NO_SPACE = -20,        /* ErrNoSpace (errno ENOSPC) */
	SHMCHAN_ERR_SHORT_BUFFER = -21,    /* io.ErrShortBuffer: buffer smaller than the message or value */
	SHMCHAN_ERR_INVALID = -22,         /* invalid argument or call out of sequence (Go panics) */
	SHMCHAN_ERR_UNSUPPORTED = -23,     /* errors.ErrUnsupported: not on this platform */
	SHMCHAN_ERR_SYSTEM = -24           /* another OS error: see errno */
};

/* shmchan_strerror returns a static, human-readable description of err. */
const char *shmchan_strerror(int err);

/* ---- Options ---------------------------------------------------------------- */

/* Wait strategies of blocking calls, as shm.Adaptive, shm.Spin, shm.Block. */
enum shmchan_wait {
	SHMCHAN_WAIT_ADAPTIVE = 0, /* spin briefly, yield, then park on the futex (default) */
	SHMCHAN_WAIT_SPIN = 1,     /* poll the shared indices; never sleeps; yields from 50 us on */
	SHMCHAN_WAIT_BLOCK = 2     /* park on the futex at once */
};

#define SHMCHAN_FOREVER ((int64_t)-1)                        /* timeout: wait without limit */
#define SHMCHAN_DEFAULT_OPEN_TIMEOUT_NS ((int64_t)2000000000) /* as shm.DefaultOpenTimeout */
#define SHMCHAN_MAX_NAME_LEN 30

/*
 * Options of the create and open calls. Fill one with shmchan_options_init;
 * a NULL pointer means the defaults.
 */
typedef struct shmchan_options {
	uint32_t mode;           /* permission bits of a new object, applied exactly; default 0600 */
	int read_only;           /* segments: map without write permission; channels and mailboxes refuse it */
	int remove_on_close;     /* remove the name when the handle is closed */
	int64_t open_timeout_ns; /* how long an opener waits for the creator; default 2 s */
	int wait;                /* enum shmchan_wait for the ends of a channel and a mailbox's waits */
	int global;              /* Windows: the Global\ namespace instead of Local\ (as shm.Global); ignored elsewhere */
	/*
	 * allow_owner: an opener refuses an object whose owner (fstat's st_uid) is
	 * not the caller's effective uid with SHMCHAN_ERR_PERMISSION (errno
	 * EACCES), so that another user cannot squat a name; allow_owner names
	 * one more uid whose objects open (as shm.AllowOwner). Default -1: none.
	 * Ignored on Windows.
	 */
	int64_t allow_owner;
	/*
	 * fault_guard: 1 turns a SIGBUS or SIGSEGV raised by an access to this
	 * handle's mapping (a peer truncated the object) into SHMCHAN_ERR_CORRUPT
	 * from the call that made it, in the thread that made it. The first such
	 * handle installs process-wide handlers that chain to the ones installed
	 * before them for every other fault. Default 0: a fault kills the
	 * process, as any fault does. See docs/c-api.md.
	 */
	int fault_guard;
} shmchan_options;

/* shmchan_options_init fills o with the defaults. */
void shmchan_options_init(shmchan_options *o);

/* ---- Segments ---------------------------------------------------------------- */

typedef struct shmchan_segment shmchan_segment;

/* shmchan_segment_create creates a new zero-filled segment of size bytes (EXIST if the name exists). */
int shmchan_segment_create(const char *name, uint64_t size, const shmchan_options *opts, shmchan_segment **out);
/* shmchan_segment_open maps an existing segment (NOT_EXIST if none; NOT_READY if never sized). */
int shmchan_segment_open(const char *name, const shmchan_options *opts, shmchan_segment **out);
/* shmchan_segment_open_or_create opens the segment or creates it with size bytes; *created tells which. */
int shmchan_segment_open_or_create(const char *name, uint64_t size, const shmchan_options *opts,
                                   shmchan_segment **out, int *created);
/* shmchan_segment_close unmaps the segment and frees seg (NULL is a no-op). */
int shmchan_segment_close(shmchan_segment *seg);
/* shmchan_segment_remove removes the name; mappings stay valid until unmapped. */
int shmchan_segment_remove(const char *name);
/* shmchan_segment_data returns the mapped bytes; not valid after close. */
void *shmchan_segment_data(const shmchan_segment *seg);
/* shmchan_segment_size returns the size read back from the OS. */
uint64_t shmchan_segment_size(const shmchan_segment *seg);
/* shmchan_segment_name returns the segment's name. */
const char *shmchan_segment_name(const shmchan_segment *seg);

/* ---- Channels ---------------------------------------------------------------- */

typedef struct shmchan_channel shmchan_channel;
typedef struct shmchan_sender shmchan_sender;
typedef struct shmchan_receiver shmchan_receiver;

/* shmchan_channel_create creates a channel whose ring holds capacity bytes (a power of two >= 1024). */
int shmchan_channel_create(const char *name, uint64_t capacity, const shmchan_options *opts,
                           shmchan_channel **out);
/* shmchan_channel_open opens an existing channel, checking it as docs/layout.md says. */
int shmchan_channel_open(const char *name, const shmchan_options *opts, shmchan_channel **out);
/* shmchan_channel_open_or_create opens the channel or creates it; INCOMPATIBLE if its capacity differs. */
int shmchan_channel_open_or_create(const char *name, uint64_t capacity, const shmchan_options *opts,
                                   shmchan_channel **out, int *created);
/* shmchan_channel_close closes the ends still open, unmaps, and frees ch (NULL is a no-op). */
int shmchan_channel_close(shmchan_channel *ch);
/*
 * shmchan_stats is one end's counters (docs/layout.md, "Counters"), counted
 * from the object's creation across every process that held the end.
 */
typedef struct shmchan_stats {
	uint64_t messages;  /* messages sent or received; values published (mailbox writer) */
	uint64_t bytes;     /* their payload bytes */
	uint64_t waits;     /* blocking calls that found the ring full (sender) or empty (receiver) and waited */
	uint64_t parks;     /* sleeps on the wait word (futex waits) */
	uint64_t wakes;     /* wakeups of a parked peer */
	uint64_t takeovers; /* claims of the role from a holder that died */
} shmchan_stats;

/*
 * shmchan_channel_stats reads both ends' counters, whichever processes hold
 * them; either pointer may be NULL. SHMCHAN_ERR_UNSUPPORTED for a channel
 * created without counters (flag bit 16 clear).
 */
int shmchan_channel_stats(const shmchan_channel *ch, shmchan_stats *sender, shmchan_stats *receiver);

/* shmchan_channel_capacity returns the ring's size in bytes. */
uint64_t shmchan_channel_capacity(const shmchan_channel *ch);
/* shmchan_channel_max_message returns the largest payload a send accepts. */
uint64_t shmchan_channel_max_message(const shmchan_channel *ch);
/* shmchan_channel_segment returns the underlying segment, owned by ch. */
shmchan_segment *shmchan_channel_segment(const shmchan_channel *ch);

/* shmchan_channel_sender claims the sender role (BUSY if a live owner holds it, CLOSED if closed). */
int shmchan_channel_sender(shmchan_channel *ch, shmchan_sender **out);
/* shmchan_channel_receiver claims the receiver role. */
int shmchan_channel_receiver(shmchan_channel *ch, shmchan_receiver **out);

/* ---- Sending ------------------------------------------------------------------ */

/* shmchan_send copies len bytes into the ring, waiting up to timeout_ns for room. */
int shmchan_send(shmchan_sender *tx, const void *msg, size_t len, int64_t timeout_ns);
/* shmchan_try_send is shmchan_send without waiting: FULL if there is no room. */
int shmchan_try_send(shmchan_sender *tx, const void *msg, size_t len);
/* shmchan_reserve hands out room for len bytes in the ring, at *buf, for shmchan_commit. */
int shmchan_reserve(shmchan_sender *tx, size_t len, void **buf, int64_t timeout_ns);
/* shmchan_try_reserve is shmchan_reserve without waiting: FULL if there is no room. */
int shmchan_try_reserve(shmchan_sender *tx, size_t len, void **buf);
/* shmchan_commit publishes the first len bytes (len <= the reserved length) of the reservation. */
int shmchan_commit(shmchan_sender *tx, size_t len);
/*
 * shmchan_send_batch copies as many of the nmsgs messages (msgs[i], lens[i]
 * bytes) as fit into the ring, in order, and publishes them with one store
 * and at most one wake of a parked receiver; *sent is how many. It waits up
 * to timeout_ns only while not even the first fits. TOO_LARGE (or INVALID,
 * for a NULL msgs[0] with lens[0] > 0) only for the first message: a later
 * one that is too large, or does not fit, ends the batch before it, and the
 * caller sends the rest with another call. nmsgs 0 sends nothing (OK). Any
 * receiver, batched or not, reads the messages (docs/layout.md, "Send a
 * batch"); the counters count each one.
 */
int shmchan_send_batch(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs, size_t *sent,
                       int64_t timeout_ns);
/* shmchan_try_send_batch is shmchan_send_batch without waiting: FULL (*sent 0) if the first does not fit. */
int shmchan_try_send_batch(shmchan_sender *tx, const void *const *msgs, const size_t *lens, size_t nmsgs,
                           size_t *sent);
/* shmchan_sender_close closes the sending end: the receiver gets EOF after the last message. */
int shmchan_sender_close(shmchan_sender *tx);

/* ---- Receiving ---------------------------------------------------------------- */

/* shmchan_recv copies the next message into buf (cap bytes), its length into *len. */
int shmchan_recv(shmchan_receiver *rx, void *buf, size_t cap, size_t *len, int64_t timeout_ns);
/* shmchan_try_recv is shmchan_recv without waiting: EMPTY if there is no message. */
int shmchan_try_recv(shmchan_receiver *rx, void *buf, size_t cap, size_t *len);
/*
 * shmchan_recv_batch copies up to nmsgs messages out, waiting up to
 * timeout_ns while the channel is empty: the i-th into bufs[i] (caps[i]
 * bytes), its length into lens[i]; *received is how many (at least 1 on OK).
 * Their space goes back to the sender with one store of head and at most one
 * wake of a parked sender. EOF, EMPTY, CORRUPT and SHORT_BUFFER (lens[0] is
 * the length needed; nothing is consumed) only for the first message: a
 * later one that does not fit its buffer ends the batch before it. Messages
 * of any sender, batched or not, are read (docs/layout.md, "Receive a
 * batch"); a peeked message is received again, as the first.
 */
int shmchan_recv_batch(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                       size_t *received, int64_t timeout_ns);
/* shmchan_try_recv_batch is shmchan_recv_batch without waiting: EMPTY (*received 0) if there is no message. */
int shmchan_try_recv_batch(shmchan_receiver *rx, void *const *bufs, const size_t *caps, size_t *lens, size_t nmsgs,
                           size_t *received);
/* shmchan_peek points *msg at the next message in the ring, valid until shmchan_release. */
int shmchan_peek(shmchan_receiver *rx, const void **msg, size_t *len, int64_t timeout_ns);
/* shmchan_try_peek is shmchan_peek without waiting: EMPTY if there is no message. */
int shmchan_try_peek(shmchan_receiver *rx, const void **msg, size_t *len);
/* shmchan_release consumes the message that shmchan_peek returned. */
int shmchan_release(shmchan_receiver *rx);
/* shmchan_receiver_close closes the receiving end: the sender gets CLOSED. */
int shmchan_receiver_close(shmchan_receiver *rx);

/* ---- Mailboxes ------------------------------------------------------------------ */

/*
 * A mailbox holds the newest of a series of values, as shm.Mailbox: one
 * writer publishes whole values of up to max_value bytes, any number of
 * readers in any number of processes copy the newest complete one, never
 * torn. Versions count publishes from 1; 0 means nothing published yet.
 */
typedef struct shmchan_mailbox shmchan_mailbox;

/* shmchan_mailbox_size returns the segment size of a mailbox for values of up to max_value bytes, 0 if out of range. */
uint64_t shmchan_mailbox_size(uint64_t max_value);
/* shmchan_mailbox_create creates a mailbox for values of up to max_value bytes (EXIST if the name exists). */
int shmchan_mailbox_create(const char *name, uint64_t max_value, const shmchan_options *opts, shmchan_mailbox **out);
/* shmchan_mailbox_open opens an existing mailbox, checking it as docs/layout.md says. */
int shmchan_mailbox_open(const char *name, const shmchan_options *opts, shmchan_mailbox **out);
/* shmchan_mailbox_open_or_create opens the mailbox or creates it; INCOMPATIBLE if its max_value differs. */
int shmchan_mailbox_open_or_create(const char *name, uint64_t max_value, const shmchan_options *opts,
                                   shmchan_mailbox **out, int *created);
/* shmchan_mailbox_close closes the mailbox for good if mb is the writer, unmaps, and frees mb (NULL is a no-op). */
int shmchan_mailbox_close(shmchan_mailbox *mb);
/* shmchan_mailbox_max_value returns the largest value the mailbox holds, in bytes. */
uint64_t shmchan_mailbox_max_value(const shmchan_mailbox *mb);
/* shmchan_mailbox_stats reads the writer's counters, as shmchan_channel_stats. */
int shmchan_mailbox_stats(const shmchan_mailbox *mb, shmchan_stats *writer);

/* shmchan_mailbox_publish makes a copy of value the newest value; claims the writer role on the first call. */
int shmchan_mailbox_publish(shmchan_mailbox *mb, const void *value, size_t len, uint64_t *version);
/* shmchan_mailbox_version stores the newest complete version (0 if none) in *version: one atomic load. */
int shmchan_mailbox_version(shmchan_mailbox *mb, uint64_t *version);
/* shmchan_mailbox_latest copies the newest value into buf; EOF (with the final value) once the writer closed. */
int shmchan_mailbox_latest(shmchan_mailbox *mb, void *buf, size_t cap, size_t *len, uint64_t *version);
/* shmchan_mailbox_wait_newer waits up to timeout_ns for a version newer than version and copies it. */
int shmchan_mailbox_wait_newer(shmchan_mailbox *mb, uint64_t version, void *buf, size_t cap, size_t *len,
                               uint64_t *new_version, int64_t timeout_ns);
/* shmchan_mailbox_segment returns the underlying segment, owned by mb. */
shmchan_segment *shmchan_mailbox_segment(const shmchan_mailbox *mb);

/* ---- Process tokens ---------------------------------------------------------- */

/* shmchan_self_token returns this process's token: pid | low 32 bits of its start time << 32. */
uint64_t shmchan_self_token(void);
/*
 * shmchan_token_alive reports whether the process named by token is running
 * (not a zombie): by PID alone when the token's start is 0, and alive when
 * the PID exists but its start time is hidden (hidepid). Roles do not use it
 * where shmchan_role_locks() is 1.
 */
int shmchan_token_alive(uint64_t token);
/* shmchan_role_locks returns 1 where roles are held by kernel locks (Linux, Windows), 0 where by tokens (macOS). */
int shmchan_role_locks(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMCHAN_H */
