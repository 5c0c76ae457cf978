package shm

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/sync/ring"
	"github.com/shmchan/shmchan/sync/wake"
)

// Channel is a lock-free single-sender/single-receiver message channel over a
// named shared-memory segment, laid out as docs/layout.md specifies (version
// 2), so that Go and C processes can share it.
//
// A Channel is a handle on the segment. It hands out at most one Sender and
// one Receiver, and the segment allows one live Sender and one live Receiver
// across all processes: a second claim while the holder lives gets ErrBusy.
// The usual shape is one process calling Sender and another calling Receiver.
//
// Messages are 0 to MaxMessage bytes. They arrive whole, in order, exactly
// once, and are never torn; a sender that finds the ring full waits (Send)
// rather than overwrite anything.
type Channel struct {
	seg  *Segment
	h    *layout.ChanHeader
	data []byte
	o    options

	capacity uint64 // read once at open and validated; never re-read
	max      uint64

	dataWord  *wake.Word // the receiver sleeps here, the sender wakes it
	spaceWord *wake.Word // the sender sleeps here, the receiver wakes it

	// The two roles (role.go), and whether this handle holds each: a
	// waiter asks its peer's flag first (live.1), from another goroutine.
	txRole, rxRole role
	txHeld, rxHeld atomic.Bool

	// The ends' counter lines: in the header when its creator set
	// ChanFlagStats, else these process-local ones (read at open, once).
	txStats, rxStats *layout.Stats
	localStats       [2]layout.Stats

	mu     sync.Mutex
	tx     *Sender
	rx     *Receiver
	closed bool
}

// ChannelSize returns the size of the segment that holds a channel of the
// given capacity: a 4096-byte header page plus the ring.
func ChannelSize(capacity int64) int64 { return layout.ChanHeaderSize + capacity }

func checkCapacity(capacity int64) error {
	if capacity < layout.ChanMinCapacity || capacity > layout.ChanMaxCapacity || bits.OnesCount64(uint64(capacity)) != 1 {
		return fmt.Errorf("%w: channel capacity %d must be a power of two from %d to %d", ErrInvalidSize, capacity, int64(layout.ChanMinCapacity), int64(layout.ChanMaxCapacity))
	}
	if capacity > MaxSize-layout.ChanHeaderSize {
		return fmt.Errorf("%w: channel capacity %d is too large for this platform", ErrInvalidSize, capacity)
	}
	return nil
}

// channelKind is how channels are made and opened (see objectKind).
func channelKind(capacity int64) *objectKind {
	return &objectKind{
		what:      "channel",
		init:      func(mem []byte) { initChannel(mem, uint64(capacity)) },
		check:     checkChannel,
		param:     func(mem []byte) uint64 { return (*layout.ChanHeader)(unsafe.Pointer(&mem[0])).Capacity },
		paramName: "capacity",
		want:      uint64(capacity),
	}
}

// CreateChannel creates a channel named name whose ring holds capacity bytes
// (a power of two, at least 1 KiB). The largest message is capacity/2 - 8
// bytes. It fails with an error matching fs.ErrExist if the name exists.
// Options: WithMode, RemoveOnClose, WithWait.
func CreateChannel(name string, capacity int64, opts ...Option) (*Channel, error) {
	o := buildOptions(opts)
	if err := checkCapacity(capacity); err != nil {
		return nil, wrap("create channel", name, err)
	}
	seg, err := channelKind(capacity).create(name, ChannelSize(capacity), &o, opts)
	if err != nil {
		return nil, err
	}
	return attachChannel(seg, &o, "create channel")
}

// OpenChannel opens an existing channel. It waits up to the open timeout
// (WithOpenTimeout) for a creator that is still initialising it, then fails
// with ErrNotReady. A segment that is not a channel gives ErrNotChannel, and
// a channel of another layout version ErrVersionMismatch.
func OpenChannel(name string, opts ...Option) (*Channel, error) {
	o := buildOptions(opts)
	seg, err := channelKind(0).open(name, &o, opts)
	if err != nil {
		return nil, err
	}
	return attachChannel(seg, &o, "open channel")
}

// OpenOrCreateChannel opens the named channel, creating it with the given
// capacity if it does not exist; the second result reports whether this call
// created it. When several processes race, exactly one creates it. An
// existing channel of another capacity gives ErrIncompatible.
func OpenOrCreateChannel(name string, capacity int64, opts ...Option) (*Channel, bool, error) {
	o := buildOptions(opts)
	if err := checkCapacity(capacity); err != nil {
		return nil, false, wrap("open-or-create channel", name, err)
	}
	seg, created, err := channelKind(capacity).openOrCreate(name, ChannelSize(capacity), &o, opts)
	if err != nil {
		return nil, false, err
	}
	ch, err := attachChannel(seg, &o, "open-or-create channel")
	return ch, created, err
}

// initChannel fills the header of a new, zero-filled channel segment and
// stores the version last.
func initChannel(mem []byte, capacity uint64) {
	h := (*layout.ChanHeader)(unsafe.Pointer(&mem[0]))
	// STEP(create.2) The header line, into zero bytes.
	h.Magic = layout.ChanMagic
	h.HeaderSize = layout.ChanHeaderSize
	h.Flags = layout.ChanFlagStats // the counter lines are zero, as the segment is
	h.Capacity = capacity
	h.DataOffset = layout.ChanHeaderSize
	h.MaxMessage = layout.ChanMaxMessage(capacity)
	h.Creator = uint64(platform.Self())
	// STEP(create.3) SYNC(version): release; publishes every header field above; pairs with
	// the acquire load in checkChannel (and shmchan_channel_open in C).
	atomic.StoreUint32(&h.Version, layout.ChanVersion)
}

// checkChannel validates a channel header as docs/layout.md's "What an opener
// checks" says, waiting up to timeout for the creator's version store.
func checkChannel(mem []byte, timeout time.Duration) error {
	// STEP(open.1)
	if len(mem) < layout.ChanHeaderSize {
		return fmt.Errorf("%w: segment of %d bytes is smaller than a channel header", ErrNotChannel, len(mem))
	}
	h := (*layout.ChanHeader)(unsafe.Pointer(&mem[0]))
	v, err := awaitVersion(&h.Magic, &h.Version, layout.ChanMagic, timeout)
	if err != nil {
		return err
	}
	// STEP(open.3)
	if h.Magic != layout.ChanMagic {
		return fmt.Errorf("%w: magic %#x, want %#x", ErrNotChannel, h.Magic, layout.ChanMagic)
	}
	if v != layout.ChanVersion {
		return fmt.Errorf("%w: channel version %d, this library speaks %d", ErrVersionMismatch, v, layout.ChanVersion)
	}
	// STEP(open.4)
	if h.HeaderSize != layout.ChanHeaderSize || h.DataOffset != layout.ChanHeaderSize || h.Flags&layout.ChanFlagsIncompatibleMask != 0 {
		return fmt.Errorf("%w: header size %d, data offset %d, flags %#x", ErrVersionMismatch, h.HeaderSize, h.DataOffset, h.Flags)
	}
	// STEP(open.5)
	c := h.Capacity
	if c < layout.ChanMinCapacity || c > layout.ChanMaxCapacity || bits.OnesCount64(c) != 1 ||
		c > uint64(len(mem))-layout.ChanHeaderSize || h.MaxMessage != layout.ChanMaxMessage(c) {
		return fmt.Errorf("%w: capacity %d, max message %d in a %d-byte segment", ErrCorrupt, c, h.MaxMessage, len(mem))
	}
	return nil
}

// attachChannel builds the handle over a validated segment. On failure it
// closes the segment.
func attachChannel(seg *Segment, o *options, op string) (*Channel, error) {
	h := (*layout.ChanHeader)(unsafe.Pointer(&seg.mem[0]))
	// STEP(open.6) Read the capacity once and check it again: a hostile peer may have
	// changed it since checkChannel. Only this local copy is used from here.
	var capacity uint64
	var flags uint32
	if err := guarded(func() error { capacity, flags = h.Capacity, h.Flags; return nil }); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, seg.Close()))
	}
	if capacity < layout.ChanMinCapacity || capacity > layout.ChanMaxCapacity || bits.OnesCount64(capacity) != 1 ||
		capacity > uint64(len(seg.mem))-layout.ChanHeaderSize {
		return nil, wrap(op, seg.name, errors.Join(
			fmt.Errorf("%w: capacity changed to %d after the open check", ErrCorrupt, capacity), seg.Close()))
	}
	c := &Channel{seg: seg, h: h, o: *o, capacity: capacity, max: layout.ChanMaxMessage(capacity)}
	c.data = seg.mem[layout.ChanHeaderSize : layout.ChanHeaderSize+c.capacity : layout.ChanHeaderSize+c.capacity]
	c.txStats, c.rxStats = &c.localStats[0], &c.localStats[1]
	if flags&layout.ChanFlagStats != 0 {
		c.txStats, c.rxStats = &h.TxStats, &h.RxStats
	}
	var err error
	if c.txRole, err = newRole(seg, o, "sender", layout.LockTx, &h.TxOwner, &h.TxClosed, &c.txHeld); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, seg.Close()))
	}
	if c.rxRole, err = newRole(seg, o, "receiver", layout.LockRx, &h.RxOwner, &h.RxClosed, &c.rxHeld); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, c.txRole.close(), seg.Close()))
	}
	if c.dataWord, err = wake.Open(&h.DataSeq, wakeName(o, seg.name, ".data")); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, c.rxRole.close(), c.txRole.close(), seg.Close()))
	}
	if c.spaceWord, err = wake.Open(&h.SpaceSeq, wakeName(o, seg.name, ".space")); err != nil {
		return nil, wrap(op, seg.name, errors.Join(err, c.dataWord.Close(), c.rxRole.close(), c.txRole.close(), seg.Close()))
	}
	return c, nil
}

// Name returns the channel's name.
func (c *Channel) Name() string { return c.seg.name }

// Capacity returns the ring's size in bytes.
func (c *Channel) Capacity() int64 { return int64(c.capacity) }

// MaxMessage returns the largest message the channel carries: Capacity/2 - 8.
func (c *Channel) MaxMessage() int { return int(c.max) }

// Sender claims the sender role and returns the sending end. It fails with
// ErrBusy while another live process (or another handle in this process)
// holds the role, and with ErrClosed once a sender has closed the channel.
// The role of a sender that died passes to the caller, which continues from
// the last published message: nothing committed is lost or overwritten.
func (c *Channel) Sender() (_ *Sender, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, wrap("claim sender", c.Name(), ErrClosed)
	}
	if c.tx != nil && !c.tx.closed { // a closed one: claim below gives ErrClosed
		return nil, wrap("claim sender", c.Name(), ErrBusy)
	}
	took, err := c.txRole.claim()
	if err != nil {
		return nil, wrap("claim sender", c.Name(), err)
	}
	p, err := ring.NewProducer(&c.h.Head, c.data)
	if err != nil {
		c.txRole.release()
		return nil, wrap("claim sender", c.Name(), lift(err))
	}
	// A dead predecessor may have left its parked flag set.
	// STEP(takeover_tx.3) SYNC(tx_parked): seq_cst; pairs with the load in Receiver.notify.
	atomic.StoreUint32(&c.h.TxParked, 0)
	// STEP(takeover_tx.4) Wake the receiver, parked or not: a predecessor
	// that died in notify after taking the receiver's announcement down
	// (notify.1) and before its wake would leave it asleep until its
	// maxSleep tick.
	bump(&c.h.DataSeq, c.dataWord)
	s := &Sender{ch: c, h: c.h, p: p, st: c.txStats}
	s.w = waiter{
		strategy: c.o.wait, word: c.spaceWord, seq: &c.h.SpaceSeq, parked: &c.h.TxParked,
		peer: &c.rxRole, parks: &s.st.Parks,
	}
	if took {
		count(&s.st.Takeovers, 1)
	}
	c.tx = s
	return s, nil
}

// Receiver claims the receiver role and returns the receiving end, with the
// same rules as Sender. A receiver that takes over from a dead one gets again
// the message its predecessor peeked but did not release.
func (c *Channel) Receiver() (_ *Receiver, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, wrap("claim receiver", c.Name(), ErrClosed)
	}
	if c.rx != nil && !c.rx.closed { // a closed one: claim below gives ErrClosed
		return nil, wrap("claim receiver", c.Name(), ErrBusy)
	}
	took, err := c.rxRole.claim()
	if err != nil {
		return nil, wrap("claim receiver", c.Name(), err)
	}
	cons, err := ring.NewConsumer(&c.h.Head, c.data)
	if err != nil {
		c.rxRole.release()
		return nil, wrap("claim receiver", c.Name(), lift(err))
	}
	// STEP(takeover_rx.2) SYNC(rx_parked): seq_cst; pairs with the load in Sender.notify.
	atomic.StoreUint32(&c.h.RxParked, 0)
	// STEP(takeover_rx.3) Wake the sender, parked or not, as takeover_tx.4.
	bump(&c.h.SpaceSeq, c.spaceWord)
	r := &Receiver{ch: c, h: c.h, c: cons, st: c.rxStats}
	r.w = waiter{
		strategy: c.o.wait, word: c.dataWord, seq: &c.h.DataSeq, parked: &c.h.RxParked,
		peer: &c.txRole, parks: &r.st.Parks,
	}
	if took {
		count(&r.st.Takeovers, 1)
	}
	c.rx = r
	return r, nil
}

// Close closes the ends this handle handed out that are still open (as their
// own Close does), releases the wait words and unmaps the segment; with
// RemoveOnClose it also removes the name. It is idempotent. It must not run
// concurrently with a call on one of the ends.
func (c *Channel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if c.tx != nil {
		errs = append(errs, c.tx.close())
	}
	if c.rx != nil {
		errs = append(errs, c.rx.close())
	}
	errs = append(errs, c.dataWord.Close(), c.spaceWord.Close(), c.rxRole.close(), c.txRole.close(), c.seg.Close())
	return errors.Join(errs...)
}

// wakeName names a wait word for wake.Open: the object's name and a suffix,
// in the namespace the object's segment lives in (it matters on Windows,
// where the word is a named event).
func wakeName(o *options, name, suffix string) string {
	if o.global {
		return `Global\` + name + suffix
	}
	return name + suffix
}
