/*
 * channel.pml: the shmchan channel protocol, checked by SPIN.
 *
 * What it models is docs/layout.md, "Channel" and "Procedures, step by
 * step"; every STEP(x.y) tag below names the step of that list that the
 * statement carries out. One word of the model is one 8-byte word of the
 * ring. The model is sequentially consistent: every statement is one atomic
 * step of a seq_cst machine, which is what the layout asks of the fields that
 * take part in the parked-flag handshake (Dekker); what it checks is the
 * protocol's interleavings, not the compilers' and CPUs' orderings.
 *
 * Processes: two sender processes (the second takes over the role when the
 * first dies, or finds the channel closed), two receiver processes (the same),
 * and a crasher that kills the holder of either role once, after any step.
 * The senders send NMSG messages (fewer if they close early or the receiver
 * closed); a receiver reads to EOF, or closes its end once at any point.
 * Role locks are kernel locks (issue 11: an OFD lock on Linux): the kernel
 * releases them when the holder dies; the owner token stays behind.
 *
 * Mutants, one macro each (see README.md):
 *   MUT_NO_PARK_RECHECK   the receiver's park sleeps without re-checking after
 *                         setting the parked flag
 *   MUT_TX_NO_PARK_RECHECK the same for the sender's park (waiting for room)
 *   MUT_NOTIFY_NO_BUMP    notify wakes without incrementing the seq word first
 *   MUT_HEADER_FIRST      the header is stored before the payload
 *   MUT_NO_TERMINATOR     the zero terminator is not written
 *   MUT_CLAIM_NO_RECHECK  a claim does not re-check closed after taking the role
 *   MUT_EOF_NO_RELOAD     EOF without loading the header again after tx_closed
 *   MUT_NO_WALK           a new sender starts at head instead of walking the records
 *   MUT_TAKEOVER_NO_WAKE  a new end does not wake its peer (a predecessor that died in
 *                         notify, after taking the peer's announcement down, leaves it asleep)
 */

#ifndef CAP
#define CAP	8		/* ring capacity in words (a channel's smallest ring, 1 KiB, holds 128) */
#endif
#define MASK	(CAP - 1)
#ifndef NMSG
#define NMSG	3		/* messages the senders send, ids 1..NMSG */
#endif
/* Payload words of message id. 2,2,2: the third message needs padding and
 * waits for a ring drained to its end. SIZES331 (3,3,1): the second
 * message ends exactly at the end of the region, its terminator wraps to
 * place 0, and the third starts there. */
#ifdef SIZES331
#define SIZE(id)	(((id) == 3) -> 1 : 3)
#else
#define SIZE(id)	2
#endif
#define MAXTXCRASH	1
#define MAXRXCRASH	1
#ifndef RXCLOSE
#define RXCLOSE	1		/* 1: a receiver may close its end, once, at any point */
#endif

/* A header word: 0 is "nothing here"; KMSG+n a message of n payload words;
 * KPAD+n padding of n words after its header. Payload words hold the
 * message's id (1..NMSG), so that a torn, stale or misplaced word shows. */
#define KMSG	16
#define KPAD	32
#define STEPOF(hdr)	(1 + ((hdr) & 15))

/* recv.3 and takeover_tx.2: what a reader checks of a header at place at,
 * from released position rel and position pos; a violation would be
 * ErrCorrupt, which a correct peer never causes. */
#define VALID(hdr, at, pos, rel) \
	((((hdr) >= KMSG && (hdr) < KPAD && (at) + STEPOF(hdr) <= CAP) || \
	  ((hdr) >= KPAD && (hdr) < KPAD + 16 && (at) != 0 && (at) + STEPOF(hdr) == CAP)) && \
	 (pos) + STEPOF(hdr) - (rel) <= CAP - 1)

/* ---- Shared memory (the segment) ---- */
byte mem[CAP];		/* the data region; SYNC(record) on header words */
byte head;		/* free-running, in words; SYNC(head) */
byte data_seq;		/* SYNC(data_seq): the receiver's futex word */
byte space_seq;		/* SYNC(space_seq): the sender's futex word */
bit rx_parked;		/* SYNC(rx_parked) */
bit tx_parked;		/* SYNC(tx_parked) */
bit tx_closed;		/* SYNC(tx_closed) */
bit rx_closed;		/* SYNC(rx_closed) */
byte tx_owner;		/* SYNC(tx_owner): token, for diagnostics */
byte rx_owner;		/* SYNC(rx_owner) */

/* ---- The kernel ---- */
byte tx_lock;		/* role locks: the holder's id, 0 when free */
byte rx_lock;
bit rx_asleep;		/* in FUTEX_WAIT on data_seq; FUTEX_WAKE clears it */
bit tx_asleep;		/* in FUTEX_WAIT on space_seq */

/* ---- Process-local state of the role holders, global so that the
 * claims below can read it ---- */
byte rx_pos;		/* the receiver's position */
byte tx_cached;		/* the sender's cached head */

/* ---- Ghosts: not part of the protocol ---- */
byte published;		/* messages whose header store happened */
byte delivered;		/* messages released */
bit eof;		/* a receiver got EOF */
bit tx_returned = 1;	/* no commit or close is between its first store and the end of
			 * its notify (a crash in between leaves it 0) */
bit rx_returned = 1;	/* the same for the receiver's release and close */
byte crash_tx;		/* the id of the process the crasher kills now */
byte crash_rx;
byte txcrashes;
byte rxcrashes;
bit rx_closes = RXCLOSE;	/* the receiver may still close its end */

/* No lost wakeup: the receiver sleeps, nothing but its timeout can wake
 * it (the futex word was unchanged and no FUTEX_WAKE came), yet a message
 * is published at its position, or the channel is closed, and the sender
 * has returned. The mirror for the sender: it sleeps for room although the
 * receiver moved head since the sender's re-check, or closed, and returned. */
#define rx_stuck	(rx_asleep && tx_returned && (mem[rx_pos & MASK] != 0 || tx_closed))
#define tx_stuck	(tx_asleep && rx_returned && (head != tx_cached || rx_closed))

ltl no_lost_wakeup { [] !rx_stuck }
ltl no_lost_wakeup_tx { [] !tx_stuck }
ltl eof_after_all { [] (eof -> delivered == published) }
ltl all { [] (!(rx_stuck || tx_stuck) && (eof -> delivered == published)) }

/* futex_wait: atomically, if word == val then sleep; it returns when woken,
 * at its (bounded) timeout, or spuriously: the caller always re-checks. */
inline futex_wait(word, val, asleep) {
	if
	:: atomic { word == val -> asleep = 1 };
		if
		:: asleep == 0	/* FUTEX_WAKE */
		:: asleep = 0	/* the timeout, or a spurious wakeup */
		fi
	:: word != val	/* EAGAIN: the word changed */
	fi
}

/* notify: wake the peer if it is parked; ret is the ghost that says the
 * caller has returned. The load of the flag, then (found 1) its swap to 0,
 * is one test-and-clear here: the load has no effect of its own, and a swap
 * that finds 0 (the peer withdrew in between) is the second branch at the
 * swap's instant. */
inline notify(parked, seq, asleep, ret) {
	if
	:: atomic { parked == 1 -> parked = 0 };	/* STEP(notify.1) load, swap to 0 */
#ifndef MUT_NOTIFY_NO_BUMP
		seq++;				/* STEP(notify.2) */
#endif
		atomic { asleep = 0; ret = 1 }	/* STEP(notify.3) FUTEX_WAKE */
	:: atomic { parked == 0 -> ret = 1 }
	fi
}

/* The sender's view of the next record, from its position pos and the
 * id of the next message (published + 1, the ghost that tells a sender
 * which message to send next: in a program, its own bookkeeping). */
#define NXT	(published + 1)
#define REC	(1 + SIZE(NXT))				/* header and payload */
#define AT	(pos & MASK)
#define PAD	((AT + REC > CAP) -> CAP - AT : 0)	/* padding before it */
#define NEED	(PAD + REC + 1)				/* and the terminator */
#define RECAT	((pos + PAD) & MASK)			/* where the message goes */
#define HDRAT	((PAD > 0) -> AT : RECAT)		/* the header that publishes */
#define HDR	((PAD > 0) -> KPAD + PAD - 1 : KMSG + SIZE(NXT))

proctype Sender(byte me) {
	byte pos, h, s, w;	/* every local is reset to 0 once dead */

	{
	/* ---- Claim ---- */
	if
	:: tx_closed -> goto gone		/* STEP(claim.1) */
	:: else
	fi;
end_claim:
	atomic { tx_lock == 0 -> tx_lock = me };	/* STEP(claim.2) the lock (held: wait) */
	tx_owner = me;					/* STEP(claim.3) the token */
#ifndef MUT_CLAIM_NO_RECHECK
	if
	:: tx_closed ->				/* STEP(claim.4) */
		tx_owner = 0;
		tx_lock = 0;
		goto gone
	:: else
	fi;
#endif

	/* ---- Takeover: continue after the last published record ---- */
	d_step { h = head; pos = h };		/* STEP(takeover_tx.1) */
#ifndef MUT_NO_WALK
	do
	:: d_step { mem[AT] == 0 -> skip } ; break	/* STEP(takeover_tx.2) */
	:: d_step {
		mem[AT] != 0 ->
		assert(VALID(mem[AT], AT, pos, h));	/* PROP(corrupt) */
		pos = pos + STEPOF(mem[AT])
	   }
	od;
#endif
	skip;
	d_step { tx_cached = h; h = 0 };
	tx_parked = 0;				/* STEP(takeover_tx.3) */
#ifndef MUT_TAKEOVER_NO_WAKE
	data_seq++;				/* STEP(takeover_tx.4) */
	rx_asleep = 0;				/* FUTEX_WAKE */
#endif

	/* ---- Send every message not yet published ---- */
	do
	:: published < NMSG ->
reserve:
		if
		:: rx_closed -> break		/* STEP(send.1) ErrClosed: close */
		:: else
		fi;
		if
		:: pos + NEED - tx_cached > CAP ->	/* STEP(send.2) */
			d_step { h = head; assert(h >= tx_cached && h <= pos); tx_cached = h; h = 0 };	/* PROP(corrupt) */
			if
			:: pos + NEED - tx_cached > CAP ->
				/* full: park for room */
				s = space_seq;		/* STEP(park.1) */
				tx_parked = 1;		/* STEP(park.2) */
#ifndef MUT_TX_NO_PARK_RECHECK
				tx_cached = head;	/* STEP(park.3) */
				if
				:: pos + NEED - tx_cached > CAP && !rx_closed ->
					futex_wait(space_seq, s, tx_asleep)	/* STEP(park.4) */
				:: else
				fi;
#else
				futex_wait(space_seq, s, tx_asleep);
#endif
				d_step { tx_parked = 0; s = 0 };	/* STEP(park.5) */
				goto reserve
			:: else
			fi
		:: else
		fi;

		/* Commit */
#ifdef MUT_HEADER_FIRST
		d_step { tx_returned = 0; mem[HDRAT] = HDR };
#endif
		do
		:: d_step { w < SIZE(NXT) -> tx_returned = 0; mem[RECAT + 1 + w] = NXT; w++ }	/* STEP(send.3) */
		:: else -> break
		od;
		w = 0;
#ifndef MUT_NO_TERMINATOR
		mem[(RECAT + REC) & MASK] = 0;	/* STEP(send.4) */
#endif
		if
		:: PAD > 0 -> mem[RECAT] = KMSG + SIZE(NXT)	/* STEP(send.5) */
		:: else
		fi;
#ifndef MUT_HEADER_FIRST
		d_step { mem[HDRAT] = HDR; pos = pos + PAD + REC; published++ };	/* STEP(send.6) */
#else
		d_step { pos = pos + PAD + REC; published++ };
#endif
		notify(rx_parked, data_seq, rx_asleep, tx_returned)	/* STEP(send.7) */
	:: published < NMSG -> break	/* close early: a later sender must not send */
	:: else -> break
	od;

	/* ---- Close ---- */
	skip;
	d_step { tx_returned = 0; tx_closed = 1 };	/* STEP(close.1) */
	notify(rx_parked, data_seq, rx_asleep, tx_returned);	/* STEP(close.2) */
	tx_owner = 0;					/* STEP(close.3) */
	d_step { tx_lock = 0; pos = 0 }			/* STEP(close.4) */
	} unless {
		/* Killed: the kernel releases the lock and ends the sleep; the
		 * token, the parked flag and the ring stay as they were. */
		d_step { crash_tx == me -> tx_lock = 0; tx_asleep = 0; crash_tx = 0; pos = 0; h = 0; s = 0; w = 0 }
	};
gone:	skip
}

#define RAT	(rx_pos & MASK)

proctype Receiver(byte me) {
	byte hdr, s, w;		/* every local is reset to 0 once dead */

	{
	if
	:: rx_closed -> goto rx_gone		/* STEP(claim.1) */
	:: else
	fi;
end_claim:
	atomic { rx_lock == 0 -> rx_lock = me };	/* STEP(claim.2) */
	rx_owner = me;					/* STEP(claim.3) */
#ifndef MUT_CLAIM_NO_RECHECK
	if
	:: rx_closed ->				/* STEP(claim.4) */
		rx_owner = 0;
		rx_lock = 0;
		goto rx_gone
	:: else
	fi;
#endif
	rx_pos = head;				/* STEP(takeover_rx.1) */
	rx_parked = 0;				/* STEP(takeover_rx.2) */
#ifndef MUT_TAKEOVER_NO_WAKE
	space_seq++;				/* STEP(takeover_rx.3) */
	tx_asleep = 0;				/* FUTEX_WAKE */
#endif
next:
	if
	:: rx_closes -> rx_closes = 0; goto rx_close	/* close, discarding what is left */
	:: true
	fi;
	hdr = mem[RAT];				/* STEP(recv.1) */
	if
	:: hdr != 0 -> goto record
	:: else
	fi;
	if
	:: tx_closed ->				/* STEP(recv.2) */
#ifndef MUT_EOF_NO_RELOAD
		hdr = mem[RAT];
#endif
		if
		:: hdr == 0 -> goto at_eof
		:: else -> goto record
		fi
	:: else
	fi;
	/* empty: park */
	s = data_seq;				/* STEP(park.1) */
	rx_parked = 1;				/* STEP(park.2) */
#ifndef MUT_NO_PARK_RECHECK
	hdr = mem[RAT];				/* STEP(park.3) */
	if
	:: hdr != 0 -> d_step { rx_parked = 0; hdr = 0; s = 0 }; goto next
	:: else
	fi;
	if
	:: tx_closed -> d_step { rx_parked = 0; s = 0 }; goto next
	:: else
	fi;
#endif
	futex_wait(data_seq, s, rx_asleep);	/* STEP(park.4) */
	d_step { rx_parked = 0; s = 0 };	/* STEP(park.5) */
	goto next;

record:
	assert(VALID(hdr, RAT, rx_pos, head));	/* STEP(recv.3) PROP(corrupt) */
	if
	:: hdr >= KPAD -> d_step { rx_pos = rx_pos + CAP - RAT; hdr = 0 }; goto next	/* STEP(recv.4) */
	:: else
	fi;
	/* STEP(recv.5) the next message, whole, in order, once */
	assert(delivered < NMSG && hdr == KMSG + SIZE(delivered + 1));	/* PROP(order) */
	do
	:: d_step { w < hdr - KMSG -> assert(mem[RAT + 1 + w] == delivered + 1); w++ }	/* PROP(torn) */
	:: else -> break
	od;
	/* Release */
	skip;
	d_step { assert(!rx_closed); rx_returned = 0; rx_pos = rx_pos + w + 1; head = rx_pos; delivered++; w = 0; hdr = 0 };	/* STEP(release.1) PROP(closed) */
	notify(tx_parked, space_seq, tx_asleep, rx_returned);	/* STEP(release.2) */
	goto next;

at_eof:	skip;
	d_step { assert(delivered == published); eof = 1 };	/* PROP(eof) */
	rx_owner = 0;
	rx_lock = 0;
	goto rx_gone;

rx_close:
	skip;
	d_step { rx_returned = 0; rx_closed = 1 };	/* STEP(close.1) */
	notify(tx_parked, space_seq, tx_asleep, rx_returned);	/* STEP(close.2) */
	rx_owner = 0;					/* STEP(close.3) */
	rx_lock = 0					/* STEP(close.4) */
	} unless {
		d_step { crash_rx == me -> rx_lock = 0; rx_asleep = 0; crash_rx = 0; hdr = 0; s = 0; w = 0 }
	};
rx_gone:	skip
}

active proctype Crasher() {
end:
	do
	:: atomic { txcrashes < MAXTXCRASH && tx_lock != 0 && crash_tx == 0 -> crash_tx = tx_lock; txcrashes++ }
	:: atomic { rxcrashes < MAXRXCRASH && rx_lock != 0 && crash_rx == 0 -> crash_rx = rx_lock; rxcrashes++ }
	od
}

init {
	atomic {
		run Sender(1); run Sender(2);
		run Receiver(3); run Receiver(4)
	}
}
