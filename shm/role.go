package shm

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shmchan/shmchan/internal/platform"
)

// role is one role of docs/layout.md ("Roles (all objects)"): a channel's
// sender or receiver, or a mailbox's writer. It is held by a role lock that
// the kernel releases when the holder dies (platform.RoleLock): on Linux an
// open-file-description lock on the 8 bytes of its owner field, taken
// through the segment's descriptor, whatever the holder's PID namespace or
// /proc mount; on Windows a named mutex owned by a thread kept for the
// purpose. The owner token is then written for diagnostics only. Where there
// are no role locks (macOS: lock is nil) the token decides, as in layout
// version 1.
//
// A listener's owner is a role too (listener.go): its closed flag ends one
// listener's tenure, not the object's, so it is reusable: claim neither
// checks nor re-checks closed (Listen stores closed = 0 after the claim),
// while gone still asks it. A Dial's view of a listener is a role it never
// claims.
type role struct {
	name   string             // "sender", "receiver", "writer", "listener": for errors, and the Windows mutex's name
	lock   *platform.RoleLock // nil where there are none (then tokens decide)
	owner  *uint64            // tx_owner, rx_owner or mb_owner
	closed *uint32            // tx_closed, rx_closed or mb_closed
	held   *atomic.Bool       // this handle holds the role (live.1)
	// reusable: closed ends a tenure, not the role; claim ignores it (the listener).
	reusable bool
}

// newRole returns the role name of seg whose owner field (and lock range)
// is at start, with its lock (platform.NewRoleLock). The caller closes the
// role with close.
func newRole(seg *Segment, o *options, name string, start int64, owner *uint64, closed *uint32, held *atomic.Bool) (role, error) {
	l, err := platform.NewRoleLock(platform.RoleKey{FD: seg.fd, Start: start, Segment: seg.name, Global: o.global, Role: name})
	if err != nil {
		return role{}, fmt.Errorf("%s's role lock: %w", name, err)
	}
	return role{name: name, lock: l, owner: owner, closed: closed, held: held}, nil
}

// close gives the role back if this handle still holds its lock and lets
// go of the lock (the Windows mutex's handle). It is idempotent.
func (r *role) close() error {
	if r.lock == nil {
		return nil
	}
	return r.lock.Close()
}

// locked reports whether the role is held by a lock here.
func (r *role) locked() bool { return r.lock != nil }

// claim takes the role: claim.1 to claim.4. It fails with ErrClosed for a
// closed end (also one closed while we claimed) and ErrBusy for a held one.
// takeover reports that a holder died with the role (its token was still
// there), for the counters.
func (r *role) claim() (takeover bool, err error) {
	self := uint64(platform.Self())
	// STEP(claim.1) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst
	// load; pairs with the store in close.
	if !r.reusable && atomic.LoadUint32(r.closed) != 0 {
		return false, ErrClosed
	}
	var was uint64
	if r.locked() {
		// STEP(claim.2)
		if err := r.lock.Lock(); err != nil {
			if errors.Is(err, platform.ErrLocked) {
				return false, fmt.Errorf("%w: the %s's role lock is held", ErrBusy, r.name)
			}
			return false, err
		}
		// STEP(claim.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): we hold
		// the lock, so any token there is stale; swap ours in. Pairs with
		// the CAS in release and a successor's swap.
		was = atomic.SwapUint64(r.owner, self)
	} else {
		for {
			// STEP(claim.2) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner):
			// acquire; pairs with the CAS below and the CAS in release, in
			// any process.
			cur := atomic.LoadUint64(r.owner)
			if cur != 0 && (cur == self || platform.Alive(platform.Token(cur))) {
				return false, ErrBusy
			}
			// STEP(claim.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner):
			// acq_rel CAS; pairs with the load above.
			if atomic.CompareAndSwapUint64(r.owner, cur, self) {
				was = cur
				break
			}
		}
	}
	// STEP(claim.4) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst
	// re-check after the swap: a close between claim.1 and claim.3 stored
	// closed before its owner store, so we see it here.
	if !r.reusable && atomic.LoadUint32(r.closed) != 0 {
		r.release()
		return false, ErrClosed
	}
	r.held.Store(true)
	return was != 0, nil
}

// release gives the role back if this process still holds it: close.3 and
// close.4. The caller has stored closed (close.1) and woken the peer
// (close.2) when it closes for good.
func (r *role) release() {
	r.held.Store(false)
	// STEP(close.3) SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS,
	// only if still ours; pairs with a claimer's load and swap.
	atomic.CompareAndSwapUint64(r.owner, uint64(platform.Self()), 0)
	if r.locked() {
		// STEP(close.4) A failure leaves the lock to the descriptor's close
		// (Linux) or to close, which ends the owning thread (Windows).
		_ = r.lock.Unlock()
	}
}

// gone answers docs/layout.md's liveness question (live.1 to live.4) about a
// peer's role: an error matching ErrPeerGone only when a holder took the
// role, did not close, and is dead. No holder yet counts as alive: one may
// come. It makes at most one system call; waiters ask every 50 ms.
func (r *role) gone() error {
	// STEP(live.1)
	if r.held.Load() {
		return nil
	}
	if r.locked() {
		// STEP(live.2)
		if held, err := r.lock.Held(); held || err != nil {
			return nil // a failed test says "held": a false "dead" would hand a live role away
		}
	}
	// STEP(live.3) SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst
	// load, before the owner; a peer that closed is not gone. Pairs with the
	// store in close.
	if atomic.LoadUint32(r.closed) != 0 {
		return nil
	}
	// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire; pairs with the
	// claimer's swap and the CAS in release.
	tok := platform.Token(atomic.LoadUint64(r.owner))
	if tok == 0 || (!r.locked() && platform.Alive(tok)) {
		return nil
	}
	if r.locked() {
		// STEP(live.4) The token may be a claimer's that locked after
		// live.2: ask the lock again, then whether the token is still
		// there, before calling anyone dead.
		if held, err := r.lock.Held(); held || err != nil {
			return nil
		}
		// SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst, as in
		// live.3. SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire, as
		// in live.3.
		if atomic.LoadUint32(r.closed) != 0 || platform.Token(atomic.LoadUint64(r.owner)) != tok {
			return nil
		}
	}
	return fmt.Errorf("%s (pid %d): %w", r.name, tok.PID(), ErrPeerGone)
}
