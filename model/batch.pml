/*
 * batch.pml: the batch calls of the shmchan channel, checked by SPIN.
 *
 * What it models is docs/layout.md, "Send a batch" and "Receive a batch":
 * a sender publishes up to BMAX records with one header store, the first
 * record's, after writing every later record whole (payload, header) and one
 * terminator after the last; a receiver reads up to 3 records (1 is the
 * plain Receive and Release of recv.1-5, release.1-2: a receiver that knows
 * nothing of batches) and stores head once, then loads tx_parked. Both ends
 * park with the parked-flag handshake (park.1-5) and notify (notify.1-3).
 * The sender closes after its last message; the receiver reads to EOF.
 *
 * As in channel.pml, one word of the model is one 8-byte word of the ring,
 * every statement one step of a sequentially consistent machine, and a
 * payload word holds its message's id. Unlike channel.pml there is one
 * sender, one receiver and no crash (channel.pml checks takeover and
 * crashes for single records; a batch's crash leaves its first header 0,
 * so the walk of takeover_tx.2 stops before it, the case of a crash before
 * send.6). The ring starts as a ring after many laps does: every word but
 * the first terminator holds a stale word, STALE, which reads as a
 * one-word message header; a receiver that reaches a word not yet
 * published reads a wrong record.
 *
 * Sizes 1,1,1,2 (records of 2,2,2,3 words) in a ring of 8: a batch {3,4}
 * sent when head is 4 puts padding inside the batch (record 4 does not fit
 * at place 6 and starts at 0 behind 2 words of padding).
 *
 * Mutants, one macro each:
 *   MUT_BATCH_FIRST_EARLY   the first record's header is stored before the
 *                           later records are written (the publication is
 *                           not the last store)
 *   MUT_BATCH_NOTIFY_FIRST  the batch receiver loads tx_parked before it
 *                           stores head
 */

#define CAP	8
#define MASK	(CAP - 1)
#define NMSG	4
#define BMAX	3		/* the most records a batch sends */
#define SIZE(id)	(((id) == 4) -> 2 : 1)

#define KMSG	16
#define KPAD	32
#define STEPOF(hdr)	(1 + ((hdr) & 15))
#define STALE	(KMSG + 1)	/* an old header (or payload) word of an earlier lap */

/* recv.3 / recv_batch.2, as in channel.pml */
#define VALID(hdr, at, pos, rel) \
	((((hdr) >= KMSG && (hdr) < KPAD && (at) + STEPOF(hdr) <= CAP) || \
	  ((hdr) >= KPAD && (hdr) < KPAD + 16 && (at) != 0 && (at) + STEPOF(hdr) == CAP)) && \
	 (pos) + STEPOF(hdr) - (rel) <= CAP - 1)

byte mem[CAP];		/* SYNC(record) on header words */
byte head;		/* SYNC(head) */
byte data_seq;		/* SYNC(data_seq) */
byte space_seq;		/* SYNC(space_seq) */
bit rx_parked;		/* SYNC(rx_parked) */
bit tx_parked;		/* SYNC(tx_parked) */
bit tx_closed;		/* SYNC(tx_closed) */

bit rx_asleep;		/* the kernel: in FUTEX_WAIT */
bit tx_asleep;

byte rx_pos;		/* process-local, global for the claims */
byte tx_cached;

/* Ghosts */
byte published;		/* messages whose publishing header store happened */
byte delivered;		/* messages released (head stored past them) */
bit eof;
bit tx_returned = 1;	/* no send or close between its first store and the end of its notify */
bit rx_returned = 1;

#define rx_stuck	(rx_asleep && tx_returned && (mem[rx_pos & MASK] != 0 || tx_closed))
#define tx_stuck	(tx_asleep && rx_returned && head != tx_cached)

ltl no_lost_wakeup { [] !rx_stuck }
ltl no_lost_wakeup_tx { [] !tx_stuck }
ltl eof_after_all { [] (eof -> delivered == published) }
ltl all { [] (!(rx_stuck || tx_stuck) && (eof -> delivered == published)) }

inline futex_wait(word, val, asleep) {
	if
	:: atomic { word == val -> asleep = 1 };
		if
		:: asleep == 0
		:: asleep = 0
		fi
	:: word != val
	fi
}

inline notify(parked, seq, asleep, ret) {
	if
	:: atomic { parked == 1 -> skip };	/* STEP(notify.1) */
		seq++;				/* STEP(notify.2) */
		atomic { asleep = 0; ret = 1 }	/* STEP(notify.3) */
	:: atomic { parked == 0 -> ret = 1 }
	fi
}

/* The sender's next record, at local position bpos, message id ID. */
#define ID	(published + 1 + nb)
#define REC	(1 + SIZE(ID))
#define AT	(bpos & MASK)
#define PAD	((AT + REC > CAP) -> CAP - AT : 0)
#define NEED	(PAD + REC + 1)
#define RECAT	((bpos + PAD) & MASK)
#define HDRAT	((PAD > 0) -> AT : RECAT)
#define HDR	((PAD > 0) -> KPAD + PAD - 1 : KMSG + SIZE(ID))

proctype Sender() {
	byte pos, bpos, k, nb, w, s, first_at, first_hdr;

	do
	:: published < NMSG ->
		/* the batch offered: 1..BMAX messages, no more than are left */
		if
		:: k = 1
		:: NMSG - published >= 2 -> k = 2
		:: NMSG - published >= 3 -> k = 3
		fi;
reserve:
		bpos = pos;
		nb = 0;
		do
		:: nb < k ->
			if
			:: bpos + NEED - tx_cached > CAP ->	/* STEP(send_batch.1) */
				d_step { tx_cached = head };
				if
				:: bpos + NEED - tx_cached > CAP && nb == 0 ->
					/* full before the first: park for room */
					s = space_seq;		/* STEP(park.1) */
					tx_parked = 1;		/* STEP(park.2) */
					tx_cached = head;	/* STEP(park.3) */
					if
					:: bpos + NEED - tx_cached > CAP ->
						futex_wait(space_seq, s, tx_asleep)	/* STEP(park.4) */
					:: else
					fi;
					d_step { tx_parked = 0; s = 0 };	/* STEP(park.5) */
					goto reserve
				:: bpos + NEED - tx_cached > CAP && nb > 0 -> break	/* the batch ends before it */
				:: else
				fi
			:: else
			fi;
			do
			:: d_step { w < SIZE(ID) -> tx_returned = 0; mem[RECAT + 1 + w] = ID; w++ }	/* STEP(send_batch.2) */
			:: else -> break
			od;
			w = 0;
			if
			:: PAD > 0 -> mem[RECAT] = KMSG + SIZE(ID)	/* STEP(send_batch.3) */
			:: else
			fi;
			if
			:: nb == 0 ->
#ifdef MUT_BATCH_FIRST_EARLY
				mem[HDRAT] = HDR;
#endif
				d_step { first_at = HDRAT; first_hdr = HDR }
			:: else -> mem[HDRAT] = HDR		/* STEP(send_batch.4) */
			fi;
			skip;
			d_step { bpos = bpos + PAD + REC; nb++ }
		:: else -> break
		od;
		skip;
		mem[bpos & MASK] = 0;			/* STEP(send_batch.5) */
#ifndef MUT_BATCH_FIRST_EARLY
		d_step { mem[first_at] = first_hdr; pos = bpos; published = published + nb; nb = 0; bpos = 0; first_at = 0; first_hdr = 0 };	/* STEP(send_batch.6) */
#else
		d_step { pos = bpos; published = published + nb; nb = 0; bpos = 0; first_at = 0; first_hdr = 0 };
#endif
		notify(rx_parked, data_seq, rx_asleep, tx_returned)	/* STEP(send_batch.7) */
	:: else -> break
	od;
	skip;
	d_step { tx_returned = 0; tx_closed = 1 };	/* STEP(close.1) */
	notify(rx_parked, data_seq, rx_asleep, tx_returned)	/* STEP(close.2) */
}

#define RAT	(rpos & MASK)

proctype Receiver() {
	byte hdr, s, w, k, n, rpos, p;

next:
	/* up to k records: 1 is the plain Receive and Release */
	if
	:: k = 1
	:: k = 2
	:: k = 3
	fi;
	rpos = rx_pos;
	do
	:: n < k ->
		hdr = mem[RAT];				/* STEP(recv_batch.1) */
		if
		:: hdr == 0 -> break
		:: else
		fi;
		assert(VALID(hdr, RAT, rpos, head));	/* STEP(recv_batch.2) PROP(corrupt) */
		if
		:: hdr >= KPAD -> d_step { rpos = rpos + CAP - RAT; hdr = 0 }
		:: else ->
			assert(delivered + n < NMSG && hdr == KMSG + SIZE(delivered + n + 1));	/* PROP(order) */
			do
			:: d_step { w < hdr - KMSG -> assert(mem[RAT + 1 + w] == delivered + n + 1); w++ }	/* STEP(recv_batch.3) PROP(torn) */
			:: else -> break
			od;
			skip;
			d_step { rpos = rpos + w + 1; n++; w = 0; hdr = 0 }
		fi
	:: else -> break
	od;
	if
	:: n > 0 -> goto release
	:: else
	fi;
	rx_pos = rpos;				/* padding skipped, if any: published with the next release */

	/* empty */
	if
	:: tx_closed ->				/* STEP(recv.2) */
		hdr = mem[rx_pos & MASK];
		if
		:: hdr == 0 -> goto at_eof
		:: else -> hdr = 0; goto next
		fi
	:: else
	fi;
	s = data_seq;				/* STEP(park.1) */
	rx_parked = 1;				/* STEP(park.2) */
	hdr = mem[rx_pos & MASK];		/* STEP(park.3) */
	if
	:: hdr != 0 || tx_closed -> d_step { rx_parked = 0; hdr = 0; s = 0 }; goto next
	:: else
	fi;
	futex_wait(data_seq, s, rx_asleep);	/* STEP(park.4) */
	d_step { rx_parked = 0; s = 0 };	/* STEP(park.5) */
	goto next;

release:
	skip;
#ifndef MUT_BATCH_NOTIFY_FIRST
	d_step { rx_returned = 0; rx_pos = rpos; head = rpos; delivered = delivered + n; n = 0; rpos = 0 };	/* STEP(recv_batch.4) */
	notify(tx_parked, space_seq, tx_asleep, rx_returned);	/* STEP(recv_batch.5) */
#else
	d_step { rx_returned = 0; p = tx_parked };
	d_step { rx_pos = rpos; head = rpos; delivered = delivered + n; n = 0; rpos = 0 };
	if
	:: p -> space_seq++; atomic { tx_asleep = 0; rx_returned = 1 }
	:: else -> rx_returned = 1
	fi;
	p = 0;
#endif
	goto next;

at_eof:
	skip;
	d_step { assert(delivered == published); eof = 1 }	/* PROP(eof) */
}

init {
	/* A ring after many laps: stale words everywhere but the terminator at 0. */
	byte i = 1;
	d_step {
		do
		:: i < CAP -> mem[i] = STALE; i++
		:: else -> break
		od;
		i = 0
	};
	atomic { run Sender(); run Receiver() }
}
