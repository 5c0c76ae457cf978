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
	if o.Err != nil || (o.Kind != KindChannel && o.Kind != KindMailbox && o.Kind != KindListener) {
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
// first takes every unclosed role itself, as a claimer would (docs/layout.md,
// "Roles (all objects)"): its role lock in layout version 2 (the range lock
// on Linux, the named mutex on Windows), or the
// compare-and-swap of its owner token from the value judged dead. A
// concurrent claim then either wins (and RemoveGarbage gives up) or fails
// with ErrBusy; only with every role fenced does it remove the name, and
// then it lets the roles go. A process that mapped the object before the
// removal and claims a role afterwards holds an object without a name, as
// after any shm.Remove.
func RemoveGarbage(name string) error {
	o, err := Load(name)
	if err != nil {
		return err
	}
	if !Garbage(o) {
		return fmt.Errorf("%s: %w%s", name, ErrLive, holders(o))
	}
	var ferr error
	err = withMapping(name, true, func(mem []byte, fd int) {
		ferr = fenceAndRemove(name, o, mem, fd)
	})
	return errors.Join(ferr, err)
}

// fenceAndRemove takes o's unclosed roles, removes name, and lets the roles
// go.
func fenceAndRemove(name string, o *Object, mem []byte, fd int) error {
	type role struct {
		name   string // "sender", "receiver", "writer": the Windows mutex's name
		owner  *uint64
		closed *uint32
		lock   int64
	}
	var roles []role
	var version uint32
	switch {
	case o.Kind == KindChannel && len(mem) >= layout.ChanHeaderSize:
		h := (*layout.ChanHeader)(unsafe.Pointer(&mem[0]))
		version = atomic.LoadUint32(&h.Version)
		roles = []role{{"sender", &h.TxOwner, &h.TxClosed, layout.LockTx}, {"receiver", &h.RxOwner, &h.RxClosed, layout.LockRx}}
	case o.Kind == KindMailbox && len(mem) >= layout.MboxHeaderSize:
		h := (*layout.MboxHeader)(unsafe.Pointer(&mem[0]))
		version = atomic.LoadUint32(&h.Version)
		roles = []role{{"writer", &h.Owner, &h.Closed, layout.LockMbWriter}}
	case o.Kind == KindListener && uint64(len(mem)) >= layout.ListenerDoc["const.header"]:
		d := layout.ListenerDoc
		roles = []role{{"listener", (*uint64)(unsafe.Pointer(&mem[d["owner"]])), (*uint32)(unsafe.Pointer(&mem[d["closed"]])), -1}}
	default:
		return fmt.Errorf("%s: changed kind since it was read: %w", name, ErrLive)
	}
	// A listener's version stays 0 here: its owner is fenced by token, as
	// Load judged it.
	locks := version >= 2 && platform.RoleLocks
	self := uint64(platform.Self())
	var undo []func()
	defer func() {
		for _, f := range undo {
			f()
		}
	}()
	for _, r := range roles {
		// SYNC(tx_closed)/SYNC(rx_closed)/SYNC(mb_closed): seq_cst load; a
		// closed role can never be claimed again: no fence needed.
		if atomic.LoadUint32(r.closed) != 0 {
			continue
		}
		var l *platform.RoleLock
		if locks {
			// The lock a claimer takes: the range through fd on Linux (nil
			// without a descriptor), the role's named mutex on Windows
			// (created if no handle has it open, as a claimer would).
			var err error
			l, err = platform.NewRoleLock(platform.RoleKey{FD: fd, Start: r.lock, Segment: name, Role: r.name})
			if err != nil {
				return err
			}
		}
		if l != nil {
			// STEP(claim.2), as a claimer: the kernel decides.
			if err := l.Lock(); err != nil {
				_ = l.Close()
				if errors.Is(err, platform.ErrLocked) {
					return fmt.Errorf("%s: a role was claimed meanwhile: %w", name, ErrLive)
				}
				return err
			}
			undo = append(undo, func() { _ = l.Unlock(); _ = l.Close() })
			continue
		}
		// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acquire; pairs with
		// the claim CAS in any process.
		cur := atomic.LoadUint64(r.owner)
		if cur != 0 && platform.Alive(platform.Token(cur)) ||
			// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS, the
			// claim's own; a claimer that lost to it gets ErrBusy.
			!atomic.CompareAndSwapUint64(r.owner, cur, self) {
			return fmt.Errorf("%s: a role was claimed meanwhile: %w", name, ErrLive)
		}
		// SYNC(tx_owner)/SYNC(rx_owner)/SYNC(mb_owner): acq_rel CAS; gives
		// back what the fence took.
		undo = append(undo, func() { atomic.CompareAndSwapUint64(r.owner, self, cur) })
	}
	return shm.Remove(name)
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
	} else if o.Kind != KindChannel && o.Kind != KindMailbox && o.Kind != KindListener {
		s += ", not a shmchan object"
	}
	if s == "" {
		return ""
	}
	return ":" + s[1:]
}
