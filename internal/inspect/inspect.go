// Package inspect reads shmchan objects for the shmchan command: what kind
// each one is, its header decoded, how full it is, who holds each role and
// whether that process lives, and whether the library would open it.
//
// It maps every object read-only and never claims a role, so looking never
// changes what it looks at (the one exception, RemoveGarbage's fence, is in
// gc.go). It maps through internal/platform rather than shm.Open: a
// diagnostic looks at every user's objects, so it skips the opener's owner
// check (docs/layout.md, "Owner check"), which guards a peer, not a reader. The header is untrusted input like any peer's: it is judged by
// package shm's own opener checks (internal/check), and only a header that
// passes them is decoded further; the records are walked by sync/ring's
// producer walk, which checks each one.
package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/check"
	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/shm"
	"github.com/shmchan/shmchan/sync/ring"
)

// Kinds of object.
const (
	KindChannel    = "channel"
	KindMailbox    = "mailbox"
	KindListener   = "listener"
	KindRaw        = "raw"        // not a shmchan object (or not one this tool knows)
	KindUnreadable = "unreadable" // the OS refused to let us open it
)

// Role states.
const (
	StateAlive  = "alive"  // held by a live process
	StateDead   = "dead"   // held by a process that is gone
	StateClosed = "closed" // its holder closed it; it cannot be claimed again
	StateNone   = "none"   // never claimed, or released
)

// Role is one role of an object and who holds it.
type Role struct {
	Role  string `json:"role"`  // "sender", "receiver", "writer"
	State string `json:"state"` // StateAlive, StateDead, StateClosed, StateNone
	PID   int    `json:"pid"`   // the holder's PID, 0 if none
	Token uint64 `json:"token"` // the owner field as stored
}

// Object is what ls shows of one object.
type Object struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version uint32 `json:"version,omitempty"` // layout version
	Flags   uint32 `json:"flags,omitempty"`
	Size    int64  `json:"size"`        // segment bytes
	UID     int    `json:"uid"`         // -1 if not known (Windows)
	Mode    string `json:"mode"`        // permission bits, "0600"; "?" if not known
	AgeSec  int64  `json:"age_seconds"` // -1 if not known (Windows)

	Capacity   uint64 `json:"capacity,omitempty"`    // channel: ring bytes
	MaxMessage uint64 `json:"max_message,omitempty"` // channel: largest message
	Used       uint64 `json:"used"`                  // channel: bytes not yet received
	MaxValue   uint64 `json:"max_value,omitempty"`   // mailbox: largest value
	Latest     uint64 `json:"latest,omitempty"`      // mailbox: newest version
	Slots      uint64 `json:"slots,omitempty"`       // listener: slots (the backlog)
	SlotsBusy  uint64 `json:"slots_busy,omitempty"`  // listener: slots not free

	Creator *Role  `json:"creator,omitempty"`
	Roles   []Role `json:"roles,omitempty"`

	// Counters per end, when the creator enabled them (flag bit 16).
	Stats map[string]Counters `json:"stats,omitempty"`

	// Problem is why the library would refuse the object, or why it could
	// not be read: "" when it is sound.
	Problem string `json:"problem,omitempty"`
	// Err is Problem as an error, for errors.Is (shm.ErrCorrupt, ...).
	Err error `json:"-"`
}

// Counters are one end's counter line (docs/layout.md, "Counters").
type Counters struct {
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Waits     uint64 `json:"waits"`
	Parks     uint64 `json:"parks"`
	Wakes     uint64 `json:"wakes"`
	Takeovers uint64 `json:"takeovers"`
}

func ptr[T any](v T) *T { return &v }

// Dir returns the directory listed by List: /dev/shm on Linux; "" where the
// OS cannot list its objects.
func Dir() string { return platform.Dir() }

// List reads every object in Dir, sorted by name. An object that cannot be
// read is listed with kind KindUnreadable, not returned as an error; the
// error is for a directory that cannot be listed.
func List() ([]*Object, error) {
	dir := Dir()
	if dir == "" {
		return nil, fmt.Errorf("inspect: objects cannot be listed on %s: %w", platform.Implementation(), errors.ErrUnsupported)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var objs []*Object
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := shm.ValidateName(e.Name()); err != nil {
			// Not a name shmchan makes: another program's object, listed
			// as raw without opening it.
			o := &Object{Name: e.Name(), Kind: KindRaw, Mode: "?", Problem: "not a shmchan name"}
			if fi, err := e.Info(); err == nil {
				o.Size, o.Mode = fi.Size(), fmt.Sprintf("%04o", fi.Mode().Perm())
				uid, changed := fileOwner(fi)
				o.UID, o.AgeSec = uid, int64(time.Since(changed)/time.Second)
			}
			objs = append(objs, o)
			continue
		}
		o, err := Load(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir
		}
		objs = append(objs, o)
	}
	slices.SortFunc(objs, func(a, b *Object) int { return strings.Compare(a.Name, b.Name) })
	return objs, nil
}

// Load reads the object name. Its error is only for an object that does not
// exist; anything else wrong is in the Object's Problem.
func Load(name string) (*Object, error) {
	// Where there is no directory (Windows), the owner and the age are not
	// known: -1.
	o := &Object{Name: name, Kind: KindRaw, Mode: "?", UID: -1, AgeSec: -1}
	if dir := Dir(); dir != "" {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		o.Size, o.Mode = fi.Size(), fmt.Sprintf("%04o", fi.Mode().Perm())
		uid, changed := fileOwner(fi)
		o.UID, o.AgeSec = uid, int64(time.Since(changed)/time.Second)
	}
	err := withMapping(name, false, func(mem []byte, fd int) { o.decode(mem, fd) })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case errors.Is(err, fs.ErrPermission):
		o.Kind, o.Err = KindUnreadable, err
		o.Problem = fmt.Sprintf("permission denied: owned by uid %d, mode %s (run as that user, or root)", o.UID, o.Mode)
	case errors.Is(err, platform.ErrUnsized):
		o.Err, o.Problem = fmt.Errorf("%w: size 0", shm.ErrNotReady), "size 0: its creator has not sized it yet, or died first"
	case err != nil:
		o.Err, o.Problem = err, err.Error()
	}
	return o, nil
}

// withMapping maps name, read-only unless writable, without waiting for a
// creator, and runs f with the memory and the descriptor (-1 if none).
func withMapping(name string, writable bool, f func(mem []byte, fd int)) error {
	if err := shm.ValidateName(name); err != nil {
		return err
	}
	m, err := platform.Open(name, false, writable)
	if err != nil {
		return err
	}
	f(m.Mem, m.FD)
	return m.Unmap()
}

// magic reads the first four bytes, which tell the kind.
func magic(mem []byte) uint32 {
	if len(mem) < 4 {
		return 0
	}
	return *(*uint32)(unsafe.Pointer(&mem[0]))
}

// decode fills o from the mapped bytes; fd, if not -1, answers for the
// role locks.
func (o *Object) decode(mem []byte, fd int) {
	o.Size = int64(len(mem))
	switch magic(mem) {
	case layout.ChanMagic:
		o.Kind = KindChannel
		o.judge(check.Channel(mem))
		if o.Err != nil && len(mem) < layout.ChanHeaderSize {
			return
		}
		h := snapshot[layout.ChanHeader](mem)
		o.Version, o.Flags = h.Version, h.Flags
		o.Capacity, o.MaxMessage = h.Capacity, h.MaxMessage
		o.Creator = ptr(roleOf("creator", h.Creator, 0, tokenOnly))
		locks := o.locks(h.Version, fd)
		o.Roles = []Role{
			roleOf("sender", h.TxOwner, h.TxClosed, locks.role("sender", layout.LockTx)),
			roleOf("receiver", h.RxOwner, h.RxClosed, locks.role("receiver", layout.LockRx)),
		}
		if h.Flags&layout.ChanFlagStats != 0 {
			o.Stats = map[string]Counters{"sender": Counters(h.TxStats), "receiver": Counters(h.RxStats)}
		}
		if o.Err == nil {
			used, err := fill(mem, h.Head, h.Capacity)
			o.Used = used
			o.judge(err)
		}
	case uint32(layout.ListenerDoc["const.magic"]):
		o.decodeListener(mem)
	case layout.MboxMagic:
		o.Kind = KindMailbox
		o.judge(check.Mailbox(mem))
		if o.Err != nil && len(mem) < layout.MboxHeaderSize {
			return
		}
		h := snapshot[layout.MboxHeader](mem)
		o.Version, o.Flags = h.Version, h.Flags
		o.MaxValue, o.Latest = h.MaxValue, h.Latest
		o.Creator = ptr(roleOf("creator", h.Creator, 0, tokenOnly))
		o.Roles = []Role{roleOf("writer", h.Owner, h.Closed, o.locks(h.Version, fd).role("writer", layout.LockMbWriter))}
		if h.Flags&layout.MboxFlagStats != 0 {
			o.Stats = map[string]Counters{"writer": Counters(h.WriterStats)}
		}
	}
}

// locks is the holder of o's roles in layout version, mapped with the
// descriptor fd (-1 if none): by role lock from version 2 on, through fd
// (Linux) or by o's name (Windows' role mutexes, in the Local\ namespace,
// the only one Load opens).
func (o *Object) locks(version uint32, fd int) holder {
	return holder{locks: version >= 2, key: platform.RoleKey{FD: fd, Segment: o.Name}}
}

// judge records the first error of the library's checks.
func (o *Object) judge(err error) {
	if err != nil && o.Err == nil {
		o.Err, o.Problem = err, err.Error()
	}
}

// snapshot copies a header out of shared memory once, so that every value
// shown comes from the same read (a peer may change the header meanwhile: the
// copy is a diagnostic snapshot, not a consistent state). mem holds at least
// the header.
func snapshot[H any](mem []byte) H { return *(*H)(unsafe.Pointer(&mem[0])) }

// fill returns the bytes between head and the end of the published records,
// walked and checked as a new sender walks them (ring.NewProducer only loads).
func fill(mem []byte, head, capacity uint64) (uint64, error) {
	data := mem[layout.ChanHeaderSize : layout.ChanHeaderSize+capacity]
	p, err := ring.NewProducer(&head, data)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", shm.ErrCorrupt, err)
	}
	return capacity - layout.ChanRecordHeader - uint64(p.Free()), nil
}

// roleOf decodes a role: its owner token, its closed flag, and whether its
// holder lives (Held).
func roleOf(name string, tok uint64, closed uint32, h holder) Role {
	r := Role{Role: name, Token: tok, PID: platform.Token(tok).PID()}
	switch {
	case closed != 0:
		r.State = StateClosed
	case h.Held(tok):
		r.State = StateAlive
	case tok == 0:
		r.State = StateNone
	default:
		r.State = StateDead
	}
	return r
}
