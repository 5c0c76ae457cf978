/*
 * mailbox.pml: the shmchan mailbox (a triple-buffered seqlock), checked by
 * SPIN.
 *
 * What it models is docs/layout.md, "Mailbox" and "Procedures, step by
 * step" (Claim, Publish, Read, Wait, Close); every STEP(x.y) tag
 * names the step the statement carries out. One word of the model is one
 * 8-byte word of a slot's value. As channel.pml, the model is sequentially
 * consistent: it checks the protocol's interleavings; the package doc of
 * sync/seqlock argues the memory orders (Boehm's read-modify-write check).
 *
 * Processes: two writer processes (the second takes over the role when the
 * first dies; the crasher kills the holder once, after any step, also in
 * the middle of a publish) and, by default, two readers that make READS
 * read attempts each; with -DWAIT, instead, one reader that waits for each
 * new version with WaitNewer's park (waiters count, futex word, re-check),
 * and a writer that may close early. Role locks are kernel locks, as in
 * channel.pml.
 *
 * Mutants (see README.md):
 *   MUT_READER_NO_RECHECK  a reader accepts its copy without the second
 *                          check of the slot's sequence
 *   MUT_LATEST_FIRST       the writer stores latest before the slot's even
 *                          sequence
 *   MUT_WAIT_NO_RECHECK    a waiting reader sleeps without re-checking latest
 *                          after announcing itself in waiters
 */

#define NSLOT	3		/* slots, as a creator makes them */
#ifndef NV
#ifndef WAIT
#define NV	4		/* versions published: enough to lap a reader */
#else
#define NV	3
#endif
#endif
#define NW	2		/* words of a value */
#define READS	2		/* read attempts of each reader */

/* A value word of version v written by writer me holds v + 16*me: a torn
 * copy mixes versions (or writers), and every word says its version. */
#define WORD(v, me)	((v) + 16 * (me))
#define VER(x)		((x) & 15)

/* ---- Shared memory (the segment) ---- */
byte latest;		/* SYNC(mb_latest) */
byte seq[NSLOT];	/* SYNC(mb_seq) */
byte val[NSLOT * NW];	/* the slots' value bytes */
bit closed;		/* SYNC(mb_closed) */
byte owner;		/* SYNC(mb_owner): token, for diagnostics */
byte wake_seq;		/* SYNC(mb_wake_seq) */
byte waiters;		/* SYNC(mb_waiters) */

/* ---- The kernel ---- */
byte lock;		/* the writer role's lock: holder's id, 0 when free */
bit asleep;		/* the waiting reader is in FUTEX_WAIT on wake_seq */

/* ---- Ghosts ---- */
#ifdef WAIT
#define RET(x)	w_returned = x
#else
#define RET(x)	skip	/* only the WAIT configuration's claim looks at it */
#endif
byte crash;		/* the id of the writer the crasher kills now */
byte crashes;
bit w_returned = 1;	/* no publish or close is between its first store and its wake */
byte waited;		/* the version the waiting reader waits to pass */

/* No lost wakeup: the waiting reader sleeps, nothing but its timeout can
 * wake it, and yet a version newer than the one it waits for is complete
 * (or the mailbox is closed) and the writer has returned. */
#define stuck	(asleep && w_returned && (latest > waited || closed))
/* latest always names a complete slot: a reader that loads latest = v
 * finds 2v in slot v mod N unless the writer has lapped it since. */
#define latest_complete	(latest == 0 || seq[latest % NSLOT] == 2 * latest)

ltl no_lost_wakeup { [] !stuck }
ltl latest_names_complete { [] latest_complete }
ltl all { [] (!stuck && latest_complete) }

/* futex_wait: atomically, if word == val then sleep, until FUTEX_WAKE, the
 * (bounded) timeout or a spurious wakeup; the caller re-checks. */
inline futex_wait(word, want, slept) {
	if
	:: atomic { word == want -> slept = 1 };
		if
		:: slept == 0	/* FUTEX_WAKE */
		:: slept = 0	/* the timeout, or a spurious wakeup */
		fi
	:: word != want	/* EAGAIN: the word changed */
	fi
}

proctype Writer(byte me) {
	byte v, w;	/* reset to 0 once dead */

	{
	if
	:: closed -> goto gone			/* STEP(claim.1) */
	:: else
	fi;
end_claim:
	atomic { lock == 0 -> lock = me };	/* STEP(claim.2) */
	owner = me;				/* STEP(claim.3) */
	if
	:: closed -> owner = 0; lock = 0; goto gone	/* STEP(claim.4) */
	:: else
	fi;

	do
	:: latest < NV ->
		d_step { RET(0); v = latest + 1 };	/* STEP(publish.1) */
		seq[v % NSLOT] = 2 * v + 1;		/* STEP(publish.2) swap to odd */
		do
		:: d_step { w < NW -> val[(v % NSLOT) * NW + w] = WORD(v, me); w++ }	/* STEP(publish.3) */
		:: else -> break
		od;
		w = 0;
#ifndef MUT_LATEST_FIRST
		seq[v % NSLOT] = 2 * v;			/* STEP(publish.4) */
		latest = v;				/* STEP(publish.5) */
#else
		latest = v;
		seq[v % NSLOT] = 2 * v;
#endif
		v = 0;
		if					/* STEP(publish.6) */
		:: atomic { waiters != 0 -> skip }; wake_seq++; d_step { asleep = 0; RET(1) }
		:: atomic { waiters == 0 -> RET(1) }
		fi
#ifdef WAIT
	:: latest > 0 && latest < NV -> break	/* close early */
#endif
	:: else -> break
	od;

#ifdef WAIT
	skip;
	d_step { RET(0); closed = 1 };	/* STEP(close.1) */
	wake_seq++;				/* STEP(close.2) */
	d_step { asleep = 0; RET(1) };
#endif
	owner = 0;				/* STEP(close.3) */
	lock = 0				/* STEP(close.4) */
	} unless {
		d_step { crash == me -> lock = 0; crash = 0; v = 0; w = 0 }
	};
gone:	skip
}

/* read: one attempt of Read (read.1-5); ok says whether it accepted a value
 * of version v (v = 0: nothing published yet). */
#define SLOT	(v % NSLOT)
inline read(v, s, c0, c1, ok) {
	ok = 0;
	v = latest;					/* STEP(read.1) */
	if
	:: v == 0 -> ok = 1
	:: else ->
		s = seq[SLOT];				/* STEP(read.2) */
		if
		:: s != 2 * v ->
			/* lapped: a correct writer has gone a whole lap past v */
			assert(s >= 2 * (v + NSLOT));		/* PROP(corrupt) */
			assert(latest >= v + NSLOT - 1)		/* PROP(corrupt) */
		:: else ->
			/* read.3: the length is not modelled (values have NW words) */
			c0 = val[SLOT * NW];			/* STEP(read.4) */
			c1 = val[SLOT * NW + 1];
#ifndef MUT_READER_NO_RECHECK
			if
			:: seq[SLOT] == s -> ok = 1		/* STEP(read.5) */
			:: else
			fi
#else
			ok = 1
#endif
		fi
	fi;
	if
	:: ok && v > 0 -> assert(VER(c0) == v && c1 == c0)	/* PROP(torn) */
	:: else
	fi;
	d_step { s = 0; c0 = 0; c1 = 0 }
}

proctype Reader() {
	byte v, s, c0, c1, last, tries;
	bit ok;
	do
	:: tries < READS ->
		read(v, s, c0, c1, ok);
		if
		:: ok -> assert(v >= last); last = v	/* PROP(monotonic) */
		:: else
		fi;
		d_step { tries++; v = 0; ok = 0 }
	:: else -> break
	od
}

/* Waiter: WaitNewer for each version in turn (Block: it parks at once). */
proctype Waiter() {
	byte v, s, c0, c1, last, ws;
	bit ok, cl;
	do
	:: last < NV ->
		/* poll: closed before latest */
		cl = closed;
		if
		:: latest > last ->
			read(v, s, c0, c1, ok);
			if
			:: ok -> assert(v > last); d_step { last = v; v = 0; ok = 0 }	/* PROP(monotonic) */
			:: else -> d_step { v = 0; ok = 0 }
			fi
		:: else ->
			if
			:: cl -> break	/* EOF */
			:: else
			fi;
			/* park */
			ws = wake_seq;			/* STEP(mbwait.1) */
			d_step { waiters++; waited = last };	/* STEP(mbwait.2) */
#ifndef MUT_WAIT_NO_RECHECK
			cl = closed;			/* STEP(mbwait.3) */
			if
			:: latest > last || cl -> skip
			:: else -> futex_wait(wake_seq, ws, asleep)	/* STEP(mbwait.4) */
			fi;
#else
			futex_wait(wake_seq, ws, asleep);
#endif
			d_step { waiters--; ws = 0; cl = 0 }	/* STEP(mbwait.5) */
		fi
	:: else -> break
	od
}

active proctype Crasher() {
end:
	do
	:: atomic { crashes < 1 && lock != 0 && crash == 0 -> crash = lock; crashes++ }
	od
}

init {
	atomic {
		run Writer(1); run Writer(2);
#ifndef WAIT
		run Reader(); run Reader()
#else
		run Waiter()
#endif
	}
}
