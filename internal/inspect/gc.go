package inspect

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/shm"
)

// ErrLive reports an object that a live process holds (or may still claim):
// gc and rm leave it alone.
var ErrLive = errors.New("inspect: object in use by a live process")

// Garbage reports whether no process can be using o any more: it is a sound
// channel or mailbox, no role is held by a live process, and each role is
// dead, closed, or was never claimed by a creator that is itself gone. An
// object that fails the library's checks is never garbage: it is kept for
// whoever investigates (shmchan rm removes it on request). Mailbox readers
// hold no role, so a reader still mapping a mailbox whose writer is gone
// does not keep it: the reader keeps its mapping, and a new writer would
// make a new mailbox.
func Garbage(o *Object) bool {
	if o.Err != nil || (o.Kind != KindChannel && o.Kind != KindMailbox) {
		return false
	}
	creatorGone := o.Creator == nil || o.Creator.State != StateAlive
	for _, r := range o.Roles {
		switch r.State {
		case StateAlive:
			return false
		case StateNone:
			if !creatorGone {
				return false
			}
		}
	}
	return true
}

// RemoveGarbage removes the object name if it is garbage, and returns ErrLive
// (wrapped, with who holds it) if it is not. It never removes an object that
// a live process holds a role in, even one that claims a role meanwhile: it
// first takes every unclosed role itself, by the claim's own compare-and-swap
// from the value it judged (docs/layout.md, "Roles and liveness"), so that a
// concurrent claim either wins (and RemoveGarbage gives up) or fails with
// ErrBusy; only with every role fenced does it remove the name, and then it
// puts the old owner values back. A process that mapped the object before the
// removal and claims a role afterwards holds an object without a name, as
// after any shm.Remove.
//
// Layout v2's role locks (issue 11) replace the compare-and-swap by taking
// each role's lock; the rest stays.
func RemoveGarbage(name string) error {
	o, err := Load(name)
	if err != nil {
		return err
	}
	if !Garbage(o) {
		return fmt.Errorf("%s: %w%s", name, ErrLive, holders(o))
	}
	seg, err := shm.Open(name, shm.WithOpenTimeout(0))
	if err != nil {
		return err
	}
	mem := seg.Bytes()
	var owners []*uint64
	var closed []*uint32
	switch {
	case o.Kind == KindChannel && len(mem) >= layout.ChanHeaderSize:
		h := (*layout.ChanHeader)(unsafe.Pointer(&mem[0]))
		owners, closed = []*uint64{&h.TxOwner, &h.RxOwner}, []*uint32{&h.TxClosed, &h.RxClosed}
	case o.Kind == KindMailbox && len(mem) >= layout.MboxHeaderSize:
		h := (*layout.MboxHeader)(unsafe.Pointer(&mem[0]))
		owners, closed = []*uint64{&h.Owner}, []*uint32{&h.Closed}
	default:
		return errors.Join(fmt.Errorf("%s: changed kind since it was read: %w", name, ErrLive), seg.Close())
	}
	self := uint64(platform.Self())
	type taken struct {
		owner *uint64
		was   uint64
	}
	var fence []taken
	undo := func() {
		for _, f := range fence {
			// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS; gives
			// back what the fence took; pairs with the load in shm's claim.
			atomic.CompareAndSwapUint64(f.owner, self, f.was)
		}
	}
	for i, owner := range owners {
		// SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst load; a
		// closed role can never be claimed again: no fence needed.
		if atomic.LoadUint32(closed[i]) != 0 {
			continue
		}
		// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire; pairs with
		// the claim CAS in any process.
		cur := atomic.LoadUint64(owner)
		if cur != 0 && OwnerAlive(cur) ||
			// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS, the
			// claim's own; a claimer that lost to it gets ErrBusy.
			!atomic.CompareAndSwapUint64(owner, cur, self) {
			undo()
			return errors.Join(fmt.Errorf("%s: a role was claimed meanwhile: %w", name, ErrLive), seg.Close())
		}
		fence = append(fence, taken{owner, cur})
	}
	err = shm.Remove(name)
	undo()
	return errors.Join(err, seg.Close())
}

// holders says who keeps o alive, for ErrLive: ": sender pid 42 alive".
func holders(o *Object) string {
	s := ""
	for _, r := range o.Roles {
		if r.State == StateAlive {
			s += fmt.Sprintf(", %s pid %d alive", r.Role, r.PID)
		}
	}
	if o.Creator != nil && o.Creator.State == StateAlive {
		s += fmt.Sprintf(", creator pid %d alive", o.Creator.PID)
	}
	if o.Err != nil {
		s += ", not sound (" + o.Problem + "); remove it with rm if you mean to"
	} else if o.Kind != KindChannel && o.Kind != KindMailbox {
		s += ", not a shmchan object"
	}
	if s == "" {
		return ""
	}
	return ":" + s[1:]
}
