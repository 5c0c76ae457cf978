/*
 * shmchan_net.h: the client side of shmchan's Listen/Dial (docs/layout.md,
 * "Listener"), so that a C program connects to a Go shm.Listener and then
 * talks over the connection's two channels with the usual send/receive calls
 * of shmchan.h.
 *
 *   shmchan_conn *c;
 *   int err = shmchan_dial("my-service", NULL, 0, 5000000000, &c);
 *   if (err == SHMCHAN_OK) {
 *       shmchan_send(shmchan_conn_sender(c), "hi", 2, SHMCHAN_FOREVER);
 *       ...
 *       shmchan_conn_close(c);
 *   }
 *
 * A Go Conn's stream Write sends each chunk (at most capacity/4 bytes) as one
 * message, and its Read consumes messages in order, so a C client may treat
 * the channels as message streams and a Go server as a byte stream.
 */
#ifndef SHMCHAN_NET_H
#define SHMCHAN_NET_H

#include "shmchan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Listener segment layout, version 1 (docs/layout.md; Go: shm/listener_layout.go). */
#define SHMCHAN_LSN_MAGIC 0x4C4D4853u /* "SHML" */
#define SHMCHAN_LSN_VERSION 1u
#define SHMCHAN_LSN_HEADER 0x200u
#define SHMCHAN_LSN_SLOT_SIZE 128u
#define SHMCHAN_LSN_MAX_SLOTS 4096u
/* Header line. */
#define SHMCHAN_LSN_OFF_MAGIC 0x000u     /* u32 */
#define SHMCHAN_LSN_OFF_VERSION 0x004u   /* u32, stored last by the creator */
#define SHMCHAN_LSN_OFF_HDR_SIZE 0x008u  /* u32, 0x200 */
#define SHMCHAN_LSN_OFF_FLAGS 0x00Cu     /* u32 */
#define SHMCHAN_LSN_OFF_SLOTS 0x010u     /* u32, 1..4096 */
#define SHMCHAN_LSN_OFF_SLOT_SIZE 0x014u /* u32, 128 */
#define SHMCHAN_LSN_OFF_CREATOR 0x018u   /* u64 */
/* Listener line. */
#define SHMCHAN_LSN_OFF_OWNER 0x080u  /* u64, process token, CAS */
#define SHMCHAN_LSN_OFF_EPOCH 0x088u  /* u64 */
#define SHMCHAN_LSN_OFF_CLOSED 0x090u /* u32, seq_cst */
/* Doorbell line. */
#define SHMCHAN_LSN_OFF_BELL 0x100u /* u32 futex word */
/* In each slot (slot i at 0x200 + 128*i). */
#define SHMCHAN_SLOT_OFF_CLIENT 0x00u    /* u64, process token, CAS from 0 */
#define SHMCHAN_SLOT_OFF_CONN 0x08u      /* u64, connection id */
#define SHMCHAN_SLOT_OFF_STATE 0x10u     /* u32, CAS */
#define SHMCHAN_SLOT_OFF_STATE_SEQ 0x14u /* u32 futex word */
#define SHMCHAN_SLOT_OFF_CAPACITY 0x18u  /* u64 */
/* Slot states. */
enum shmchan_slot_state {
	SHMCHAN_SLOT_FREE = 0,
	SHMCHAN_SLOT_CLAIMED = 1,
	SHMCHAN_SLOT_READY = 2,
	SHMCHAN_SLOT_ACCEPTED = 3,
	SHMCHAN_SLOT_REFUSED = 4,
	SHMCHAN_SLOT_ABANDONED = 5
};

#define SHMCHAN_DEFAULT_CONN_CAPACITY (64u << 10) /* as shm.DefaultConnCapacity */

typedef struct shmchan_conn shmchan_conn;

/*
 * shmchan_dial connects to the listener serving name, as shm.DialContext:
 * claim a slot, create the two channels (capacity bytes each, a power of
 * two; 0 means SHMCHAN_DEFAULT_CONN_CAPACITY), ring the listener, wait for
 * the accept, for at most timeout_ns (SHMCHAN_FOREVER: no limit). Errors:
 * NOT_EXIST (no listener segment), CLOSED (the listener closed or refused
 * the connection), PEER_GONE (the listener's process died), BUSY (every
 * slot stayed busy until the timeout), TIMEOUT (no accept in time), and the
 * errors of shmchan_channel_create. On failure nothing it created is left.
 */
int shmchan_dial(const char *name, const shmchan_options *opts, uint64_t capacity, int64_t timeout_ns,
                 shmchan_conn **out);

/* shmchan_conn_sender returns the end that sends to the server (owned by the conn). */
shmchan_sender *shmchan_conn_sender(shmchan_conn *c);

/* shmchan_conn_receiver returns the end that receives from the server (owned by the conn). */
shmchan_receiver *shmchan_conn_receiver(shmchan_conn *c);

/* shmchan_conn_close closes both ends (the server reads EOF) and frees c. */
int shmchan_conn_close(shmchan_conn *c);

#ifdef __cplusplus
}
#endif

#endif
