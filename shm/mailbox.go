package shm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/sync/seqlock"
	"github.com/shmchan/shmchan/sync/wake"
)

// Mailbox is a latest-value cell over a named shared-memory segment, laid
// out as docs/layout.md specifies ("Mailbox", version 2): one writer
// publishes whole values of up to MaxValue bytes, and any number of readers,
// in any number of processes, read the newest complete one. It suits state
// that only matters when fresh: video frames, sensor readings, a
// configuration snapshot.
//
// A reader never sees a torn value and never blocks the writer. A reader
// that is slower than the writer skips versions; versions count publishes
// from 1, so the gap between two versions it read tells it how many it
// skipped. The values live in three slots (a triple buffer of seqlocks; see
// package sync/seqlock for the algorithm and the measurements behind it):
// a writer killed in the middle of a publish leaves the previous value
// intact.
//
// The writer role is claimed by the first Publish of a handle, and is held by
// at most one live process (and one handle) at a time; the role of a writer
// that died passes to the next one that publishes, which carries on with the
// next version. Closing the writing handle closes the mailbox for good:
// readers then get io.EOF once they have the last value.
//
// Latest, Version and WaitNewer are safe for concurrent use, with each other
// and with Publish; Publish calls are serialised. Close must not run
// concurrently with any other method (to stop a WaitNewer, cancel its
// context).
type Mailbox struct {
	seg  *Segment
	h    *layout.MboxHeader
	buf  *seqlock.Buffer
	word *wake.Word // readers sleep on wake_seq, the writer wakes them
	o    options
	max  int

	role    role        // the writer role (role.go)
	writing atomic.Bool // this handle holds it: what a waiting reader of this handle asks first (live.1)

	// The writer's counter line: in the header when its creator set
	// MboxFlagStats, else localStats (read at open, once).
	st         *layout.Stats
	localStats layout.Stats

	mu     sync.Mutex // serialises Publish and Close
	writer bool       // this handle holds the writer role
	closed atomic.Bool
}

// MailboxSize returns the size of the segment that holds a mailbox for values
// of up to maxValue bytes: a 4096-byte header page and three slots, each a
// 128-byte slot header and maxValue bytes rounded up to 128. It returns -1
// if maxValue is out of range.
func MailboxSize(maxValue int) int64 {
	stride := seqlock.Stride(maxValue)
	if maxValue < 1 || stride < 0 || int64(stride) > (MaxSize-layout.MboxHeaderSize)/layout.MboxSlots {
		return -1
	}
	return layout.MboxHeaderSize + layout.MboxSlots*int64(stride)
}

func checkMaxValue(maxValue int) error {
	if MailboxSize(maxValue) < 0 {
		return fmt.Errorf("%w: mailbox value size %d must be from 1 to about a third of %d", ErrInvalidSize, maxValue, MaxSize)
	}
	return nil
}

// mailboxKind is how mailboxes are made and opened (see objectKind).
func mailboxKind(maxValue int) *objectKind {
	return &objectKind{
		what:      "mailbox",
		init:      func(mem []byte) { initMailbox(mem, maxValue) },
		check:     checkMailbox,
		param:     func(mem []byte) uint64 { return (*layout.MboxHeader)(unsafe.Pointer(&mem[0])).MaxValue },
		paramName: "maximum value",
		want:      uint64(maxValue),
	}
}

// CreateMailbox creates a mailbox named name for values of up to maxValue
// bytes; its segment takes MailboxSize(maxValue) bytes. It fails with an
// error matching fs.ErrExist if the name exists. The handle does not hold the
// writer role until its first Publish. Options: WithMode, RemoveOnClose,
// WithWait. ReadOnly is refused with ErrReadOnly: readers write to the
// segment too (their read check and their wait count).
func CreateMailbox(name string, maxValue int, opts ...Option) (*Mailbox, error) {
	o := buildOptions(opts)
	if err := checkMaxValue(maxValue); err != nil {
		return nil, wrap("create mailbox", name, err)
	}
	seg, err := mailboxKind(maxValue).create(name, MailboxSize(maxValue), &o, opts)
	if err != nil {
		return nil, err
	}
	return attachMailbox(seg, &o, "create mailbox")
}

// OpenMailbox opens an existing mailbox, to read it or to take over the
// writer role. It waits up to the open timeout (WithOpenTimeout) for a
// creator that is still initialising it, then fails with ErrNotReady. A
// segment that is not a mailbox gives ErrNotChannel, a mailbox of another
// layout version ErrVersionMismatch, and a header that breaks the layout
// ErrCorrupt. ReadOnly is refused with ErrReadOnly.
func OpenMailbox(name string, opts ...Option) (*Mailbox, error) {
	o := buildOptions(opts)
	seg, err := mailboxKind(0).open(name, &o, opts)
	if err != nil {
		return nil, err
	}
	return attachMailbox(seg, &o, "open mailbox")
}

// OpenOrCreateMailbox opens the named mailbox, creating it for values of up
// to maxValue bytes if it does not exist; the second result reports whether
// this call created it. When several processes race, exactly one creates it,
// so a writer and its readers may start in any order. An existing mailbox
// with another maximum gives ErrIncompatible.
func OpenOrCreateMailbox(name string, maxValue int, opts ...Option) (*Mailbox, bool, error) {
	const op = "open-or-create mailbox"
	o := buildOptions(opts)
	if err := checkMaxValue(maxValue); err != nil {
		return nil, false, wrap(op, name, err)
	}
	seg, created, err := mailboxKind(maxValue).openOrCreate(name, MailboxSize(maxValue), &o, opts)
	if err != nil {
		return nil, false, err
	}
	m, err := attachMailbox(seg, &o, op)
	return m, created, err
}

// initMailbox fills the header of a new, zero-filled mailbox segment and
// stores the version last.
func initMailbox(mem []byte, maxValue int) {
	h := (*layout.MboxHeader)(unsafe.Pointer(&mem[0]))
	// STEP(create.2) The header line, into zero bytes.
	h.Magic = layout.MboxMagic
	h.HeaderSize = layout.MboxHeaderSize
	h.Flags = layout.MboxFlagStats // the counter line is zero, as the segment is
	h.MaxValue = uint64(maxValue)
	h.SlotSize = uint64(seqlock.Stride(maxValue))
	h.SlotCount = layout.MboxSlots
	h.SlotsOffset = layout.MboxHeaderSize
	h.Creator = uint64(platform.Self())
	// STEP(create.3) SYNC(mb_version): release; publishes every header field above; pairs
	// with the acquire load in checkMailbox.
	atomic.StoreUint32(&h.Version, layout.MboxVersion)
}

// checkMailbox validates a mailbox header as docs/layout.md's "What an
// opener checks" says, waiting up to timeout for the creator's version store.
func checkMailbox(mem []byte, timeout time.Duration) error {
	// STEP(open.1)
	if len(mem) < layout.MboxHeaderSize {
		return fmt.Errorf("%w: segment of %d bytes is smaller than a mailbox header", ErrNotChannel, len(mem))
	}
	h := (*layout.MboxHeader)(unsafe.Pointer(&mem[0]))
	v, err := awaitVersion(&h.Magic, &h.Version, layout.MboxMagic, timeout)
	if err != nil {
		return err
	}
	// STEP(open.3)
	if h.Magic != layout.MboxMagic {
		return fmt.Errorf("%w: magic %#x, want %#x", ErrNotChannel, h.Magic, layout.MboxMagic)
	}
	if v != layout.MboxVersion {
		return fmt.Errorf("%w: mailbox version %d, this library speaks %d", ErrVersionMismatch, v, layout.MboxVersion)
	}
	// STEP(open.4)
	if h.HeaderSize != layout.MboxHeaderSize || h.SlotsOffset != layout.MboxHeaderSize || h.Flags&layout.MboxFlagsIncompatibleMask != 0 {
		return fmt.Errorf("%w: header size %d, slots offset %d, flags %#x", ErrVersionMismatch, h.HeaderSize, h.SlotsOffset, h.Flags)
	}
	// STEP(open.5)
	maxValue, stride, n := h.MaxValue, h.SlotSize, uint64(h.SlotCount)
	room := uint64(len(mem)) - layout.MboxHeaderSize
	if maxValue < 1 || maxValue > uint64(MaxSize) || n < layout.MboxMinSlots || n > layout.MboxMaxSlots ||
		stride != uint64(seqlock.Stride(int(maxValue))) || stride > room/n {
		return fmt.Errorf("%w: maximum value %d, %d slots of %d bytes in a %d-byte segment",
			ErrCorrupt, maxValue, n, stride, len(mem))
	}
	return nil
}

// attachMailbox builds the handle over a validated segment. On failure it
// closes the segment.
func attachMailbox(seg *Segment, o *options, op string) (*Mailbox, error) {
	h := (*layout.MboxHeader)(unsafe.Pointer(&seg.mem[0]))
	// STEP(open.6) Read the geometry once: a hostile peer may have changed it since
	// checkMailbox. seqlock.New checks it against the region again, and only
	// these local copies are used from here.
	var maxValue uint64
	var slots, flags uint32
	if err := guarded(func() error { maxValue, slots, flags = h.MaxValue, h.SlotCount, h.Flags; return nil }); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, seg.Close()))
	}
	if maxValue < 1 || maxValue > uint64(MaxSize) || slots > layout.MboxMaxSlots {
		return nil, wrap(op, seg.name, errors.Join(
			fmt.Errorf("%w: maximum value %d, %d slots after the open check", ErrCorrupt, maxValue, slots), seg.Close()))
	}
	m := &Mailbox{seg: seg, h: h, o: *o, max: int(maxValue)}
	m.st = &m.localStats
	if flags&layout.MboxFlagStats != 0 {
		m.st = &h.WriterStats
	}
	buf, err := seqlock.New(&h.Latest, seg.mem[layout.MboxHeaderSize:], int(slots), m.max)
	if err != nil {
		return nil, wrap(op, seg.name, errors.Join(lift(err), seg.Close()))
	}
	m.buf = buf
	if m.role, err = newRole(seg, o, "writer", layout.LockMbWriter, &h.Owner, &h.Closed, &m.writing); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, seg.Close()))
	}
	if m.word, err = wake.OpenShared(&h.WakeSeq, wakeName(o, seg.name, ".mbwake"), layout.MboxMaxWaiters); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, m.role.close(), seg.Close()))
	}
	return m, nil
}

// Name returns the mailbox's name.
func (m *Mailbox) Name() string { return m.seg.name }

// MaxValue returns the largest value the mailbox holds, in bytes.
func (m *Mailbox) MaxValue() int { return m.max }

// Publish makes value, a copy of it, the mailbox's newest value and returns
// its version. It never waits for readers: it costs one copy and, only when
// some reader is parked in WaitNewer, one system call to wake it.
//
// The first Publish of a handle claims the writer role: it fails with ErrBusy
// while another live process or handle holds it, and with ErrClosed once a
// writer has closed the mailbox. A writer that died passes the role on, and
// the new writer continues from the last complete version. A value longer
// than MaxValue gives ErrTooLarge, and nothing is published.
func (m *Mailbox) Publish(value []byte) (_ uint64, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return 0, wrap("publish", m.Name(), ErrClosed)
	}
	if len(value) > m.max {
		return 0, wrap("publish", m.Name(), fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(value), m.max))
	}
	if !m.writer {
		took, err := m.role.claim()
		if err != nil {
			return 0, wrap("claim writer", m.Name(), err)
		}
		if took {
			count(&m.st.Takeovers, 1)
		}
		m.writer = true
	}
	v, err := m.buf.Publish(value)
	if err != nil {
		return 0, wrap("publish", m.Name(), lift(err))
	}
	count(&m.st.Messages, 1)
	count(&m.st.Bytes, uint64(len(value)))
	// STEP(publish.6) Wake the parked readers, if any: notify.1–3 on the waiter count.
	m.notify()
	return v, nil
}

// notify wakes the readers parked in WaitNewer, if any (the wait engine's
// notify, on the waiter count): the only system call on the publish path.
func (m *Mailbox) notify() { notifyWaiters(&m.h.Waiters, &m.h.WakeSeq, m.word, m.st) }

// Version returns the version of the newest complete value, 0 if nothing was
// published yet. It is one atomic load: a cheap way to poll for change.
func (m *Mailbox) Version() (_ uint64, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	if m.closed.Load() {
		return 0, wrap("version", m.Name(), ErrClosed)
	}
	v, err := m.buf.Version()
	if err != nil {
		return 0, wrap("version", m.Name(), lift(err))
	}
	return v, nil
}

// Latest copies the newest complete value into dst and returns it with its
// version. The value is dst[:n] when dst has the capacity, and a new slice
// otherwise: a reader that passes a buffer of MaxValue bytes never allocates.
// Latest never blocks, and makes no system call: it retries, a rare event,
// when the writer overwrites the slot during the copy. Before the first
// Publish it returns an empty value and version 0.
//
// Once the writer has closed the mailbox, Latest still returns the final
// value and its version, together with io.EOF, as io.Reader does with its
// last bytes: use the value before looking at the error. It returns
// ErrCorrupt if the shared memory breaks the layout, and ErrClosed after
// Close.
func (m *Mailbox) Latest(dst []byte) (value []byte, version uint64, err error) {
	value = dst[:0]
	defer guard(&err, debug.SetPanicOnFault(true))
	if m.closed.Load() {
		return dst[:0], 0, wrap("read", m.Name(), ErrClosed)
	}
	// SYNC(mb_closed): loaded before latest, so that a closed mailbox's final
	// value is the one read below; pairs with the store in Close.
	closed := atomic.LoadUint32(&m.h.Closed) != 0
	value, version, err = m.buf.Read(dst)
	if err != nil {
		return value[:0], 0, wrap("read", m.Name(), lift(err))
	}
	if closed {
		return value, version, io.EOF
	}
	return value, version, nil
}

// WaitNewer waits until the mailbox holds a version newer than version, then
// copies it into dst as Latest does and returns it with its version (the
// newest, which may be several past version: the difference minus one is the
// number of values skipped). Pass 0 to wait for the first value. A version
// newer than version already there is returned at once.
//
// It waits according to the WithWait strategy; a parked reader costs nothing
// until the writer publishes. It returns io.EOF once the writer has closed
// the mailbox and nothing newer than version is left, ErrPeerGone if the
// writer's process died without closing (checked at most every 50 ms while
// waiting; a new writer may take over later), ctx.Err() when ctx is done (an
// expired deadline also matches os.ErrDeadlineExceeded), ErrCorrupt, and
// ErrClosed after Close.
func (m *Mailbox) WaitNewer(ctx context.Context, version uint64, dst []byte) (_ []byte, _ uint64, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	if m.closed.Load() {
		// Before the waiter: taking a field's address probes the mapping.
		return dst[:0], 0, wrap("wait", m.Name(), ErrClosed)
	}
	w := waiter{
		strategy: m.o.wait, word: m.word, seq: &m.h.WakeSeq, parked: &m.h.Waiters, count: true,
		peer: &m.role,
	}
	w.start()
	defer w.finish()
	for {
		if m.closed.Load() {
			return dst[:0], 0, wrap("wait", m.Name(), ErrClosed)
		}
		// STEP(mbwait.3) Each round polls; after a pause that armed
		// (mbwait.1–2) this poll is the re-check.
		newer, closed, err := m.poll(version)
		if err != nil {
			return dst[:0], 0, wrap("wait", m.Name(), err)
		}
		if newer {
			value, v, err := m.buf.Read(dst)
			if err != nil {
				return value[:0], 0, wrap("wait", m.Name(), lift(err))
			}
			if v <= version {
				return value[:0], 0, wrap("wait", m.Name(), fmt.Errorf("%w: version went back to %d after %d", ErrCorrupt, v, version))
			}
			return value, v, nil
		}
		if closed {
			return dst[:0], version, io.EOF
		}
		if err := w.pause(ctx); err != nil {
			return dst[:0], 0, wrap("wait", m.Name(), err)
		}
	}
}

// poll reports whether a version newer than version is complete, and whether
// the writer has closed the mailbox (loaded first: if it is set, latest holds
// the final version).
func (m *Mailbox) poll(version uint64) (newer, closed bool, err error) {
	// SYNC(mb_closed): seq_cst load before latest; pairs with the store in Close.
	closed = atomic.LoadUint32(&m.h.Closed) != 0
	v, err := m.buf.Version()
	if err != nil {
		return false, false, lift(err)
	}
	return v > version, closed, nil
}

// Close releases the handle. If it holds the writer role, it closes the
// mailbox for good first: readers get the final value and then io.EOF, and
// no one can claim the writer role again. Then it releases the wait word and
// unmaps the segment; with RemoveOnClose it also removes the name. It is
// idempotent. It must not run concurrently with another method.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return nil
	}
	if m.writer {
		// A fault here (a truncated object) leaves the lock to the role's
		// and the descriptor's close below.
		_ = guarded(m.closeWriter)
		m.writer = false
	}
	return errors.Join(m.word.Close(), m.role.close(), m.seg.Close())
}

// closeWriter is close.1 to close.4 for the writer role.
func (m *Mailbox) closeWriter() error {
	// STEP(close.1) SYNC(mb_closed): seq_cst store, after the last Publish;
	// pairs with the loads in poll, Latest and check, which load it before latest.
	atomic.StoreUint32(&m.h.Closed, 1)
	// STEP(close.2)
	// SYNC(mb_waiters): seq_cst; every parked reader must wake to see the close.
	bumpN(&m.h.WakeSeq, m.word, int(atomic.LoadUint32(&m.h.Waiters)))
	m.role.release()
	return nil
}
