package shm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/sync/wake"
)

// connOptions are the options of Listen and Dial.
type connOptions struct {
	backlog  int   // listener slots; 0: DefaultBacklog
	capacity int64 // ring bytes per direction; 0: DefaultConnCapacity
	// directPark: a Conn parks on its own futex while few do (WithDirectPark)
	directPark bool
}

// DefaultBacklog is the number of slots of a listener: how many clients can
// be between their claim and their accept at once.
const DefaultBacklog = 128

// DefaultConnCapacity is the ring capacity of each direction of a
// connection.
const DefaultConnCapacity = 64 << 10

// WithBacklog sets the number of handshake slots of a new listener (1 to
// 4096; the default is DefaultBacklog). A listener that restarts on the name
// of a dead one keeps the old segment only if the backlog matches (else
// Listen fails with ErrIncompatible).
func WithBacklog(n int) Option {
	return func(o *options) { o.conn.backlog = n }
}

// WithConnCapacity sets the ring capacity of each direction of the
// connections Dial creates (a power of two, as CreateChannel; the default is
// DefaultConnCapacity). The largest message, and so the largest chunk of a
// stream write, is capacity/2 - 8 bytes.
func WithConnCapacity(capacity int64) Option {
	return func(o *options) { o.conn.capacity = capacity }
}

// WithDirectPark makes a connection's Read and Write, when they park, sleep
// on the channel's futex word on their own goroutine's thread while fewer
// than 4 ends of the process do so (for at most 500 ms, then through the
// poller), instead of through the process's poller at once. The wakeup is
// one thread hop instead of the poller's several: a parked 64-byte round
// trip measured p50 7752 ns instead of 38267 ns (medians of 5 interleaved
// runs, load 9.6 to 9.9, docs/services.md). But a goroutine in a system call keeps its
// Go processor, so the goroutines it just readied wait for another thread:
// gRPC's unary p50 got worse with it (docs/services.md), and it is off by
// default. It suits a process whose connection goroutines do the work
// themselves (a request/response client, an echo). Listen passes it to the
// connections it accepts, Dial to its own.
func WithDirectPark() Option {
	return func(o *options) { o.conn.directPark = true }
}

// Addr is the address of a listener or a connection end: network "shm".
type Addr struct {
	Name string // the listener's name
	Conn uint64 // the connection id, 0 for the listener
}

// Network returns "shm".
func (a Addr) Network() string { return "shm" }

// String returns the listener's name, followed by "#" and the connection id
// for a connection end.
func (a Addr) String() string {
	if a.Conn == 0 {
		return a.Name
	}
	return fmt.Sprintf("%s#%x", a.Name, a.Conn)
}

// Listener accepts connections on a name, as net.Listener: clients find its
// segment, claim a slot in it, create their pair of channels and ring its
// doorbell; Accept opens the pair and removes its names (docs/layout.md,
// "Listener"). At most one live listener serves a name; one that died is
// replaced by the next Listen on the name. On Linux the listener's owner is
// a role held by a lock on the segment (docs/layout.md, "Role locks"), and
// each client holds a lock on its slot, so that a listener or a client in
// another PID namespace is judged by the kernel, never by its PID.
//
// Its methods are safe for concurrent use; accepts are served one at a time.
type Listener struct {
	seg   *Segment
	h     *lsnHead
	slots []lsnSlot
	o     options
	addr  Addr
	bell  *wake.Word
	owner role        // the listener's role: held by a lock on lsnLockOwner
	held  atomic.Bool // owner's live.1 flag
	seen  []slotSeen  // the reaper's cached verdicts, one per slot; guarded by mu

	mu        sync.Mutex // held by Accept and by Close's teardown
	closing   chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

var _ net.Listener = (*Listener)(nil)

func listenerKind(slots int) *objectKind {
	return &objectKind{
		what:      "listener",
		init:      func(mem []byte) { initListener(mem, slots) },
		check:     checkListener,
		param:     func(mem []byte) uint64 { return uint64((*lsnHead)(unsafe.Pointer(&mem[0])).slots) },
		paramName: "backlog",
		want:      uint64(slots),
	}
}

// initListener fills a new listener header and stores the version last.
func initListener(mem []byte, slots int) {
	h := (*lsnHead)(unsafe.Pointer(&mem[0]))
	h.magic = lsnMagic
	h.hdrSize = lsnHeader
	h.slots = uint32(slots)
	h.slotSize = lsnSlotSize
	h.creator = selfToken()
	// SYNC(lsn_version): release; publishes the header; pairs with the
	// acquire in checkListener (awaitVersion).
	atomic.StoreUint32(&h.version, lsnVersion)
}

// checkListener validates a listener header (docs/layout.md, "What an
// opener checks").
func checkListener(mem []byte, timeout time.Duration) error {
	if len(mem) < lsnHeader {
		return fmt.Errorf("%w: segment of %d bytes is smaller than a listener header", ErrNotChannel, len(mem))
	}
	h := (*lsnHead)(unsafe.Pointer(&mem[0]))
	v, err := awaitVersion(&h.magic, &h.version, lsnMagic, timeout)
	if err != nil {
		return err
	}
	if m := atomic.LoadUint32(&h.magic); m != lsnMagic {
		return fmt.Errorf("%w: magic %#x, want %#x (not a listener)", ErrNotChannel, m, lsnMagic)
	}
	if v != lsnVersion {
		return fmt.Errorf("%w: listener version %d, this library speaks %d", ErrVersionMismatch, v, lsnVersion)
	}
	if h.hdrSize != lsnHeader || h.slotSize != lsnSlotSize || h.flags&0xFFFF != 0 {
		return fmt.Errorf("%w: header size %d, slot size %d, flags %#x", ErrVersionMismatch, h.hdrSize, h.slotSize, h.flags)
	}
	return nil
}

// mapSlots reads the slot count once, checks it against the mapping, and
// returns the slots; only this local count is used from then on.
func mapSlots(mem []byte) ([]lsnSlot, error) {
	h := (*lsnHead)(unsafe.Pointer(&mem[0]))
	n := int64(atomic.LoadUint32(&h.slots))
	if n < minSlots || n > maxSlots || listenerSize(int(n)) > int64(len(mem)) {
		return nil, fmt.Errorf("%w: %d slots in a %d-byte listener segment", ErrCorrupt, n, len(mem))
	}
	return unsafe.Slice((*lsnSlot)(unsafe.Pointer(&mem[lsnHeader])), n), nil
}

// Listen starts serving name. It creates the listener segment, or takes over
// the segment of a listener whose process died (clients still waiting in it
// are then served). A live listener on the name gives ErrBusy. Options:
// WithBacklog, WithMode (of the segment), WithWait (of accepted connections),
// Global.
func Listen(name string, opts ...Option) (*Listener, error) {
	o := buildOptions(opts)
	if err := ValidateName(name); err != nil {
		return nil, wrap("listen", name, err)
	}
	n := o.conn.backlog
	if n == 0 {
		n = DefaultBacklog
	}
	if n < minSlots || n > maxSlots {
		return nil, wrap("listen", name, fmt.Errorf("%w: backlog %d must be from %d to %d", ErrInvalidSize, n, minSlots, maxSlots))
	}
	// STEP(listen.1): the segment keeps its descriptor, through which the role lock is held.
	seg, _, err := listenerKind(n).openOrCreate(name, listenerSize(n), &o, opts)
	if err != nil {
		return nil, wrap("listen", name, err)
	}
	slots, err := mapSlots(seg.mem)
	if err != nil {
		return nil, wrap("listen", name, errors.Join(err, seg.Close()))
	}
	h := (*lsnHead)(unsafe.Pointer(&seg.mem[0]))
	l := &Listener{seg: seg, h: h, slots: slots, o: o, addr: Addr{Name: name}, closing: make(chan struct{}), seen: make([]slotSeen, len(slots))}
	l.owner = listenerRole(seg.fd, h, &l.held)
	if err := l.claim(); err != nil {
		return nil, wrap("listen", name, errors.Join(err, seg.Close()))
	}
	if l.bell, err = wake.Open(&h.bell, wakeName(&o, name, ".bell")); err != nil {
		l.owner.release()
		return nil, wrap("listen", name, errors.Join(err, seg.Close()))
	}
	return l, nil
}

// listenerRole is the listener's owner as a role (role.go) seen through fd:
// the lock on the owner word (lsnLockOwner), the owner token, and the
// closed flag, which each new listener resets (reusable).
//
// Only a descriptor's byte-range lock serves here (Linux): where the segment
// has no descriptor (Windows, whose role locks are named mutexes the C client
// does not take for listeners) the token decides, as docs/layout.md says.
func listenerRole(fd int, h *lsnHead, held *atomic.Bool) role {
	r := role{name: "listener", owner: &h.owner, closed: &h.closed, held: held, reusable: true}
	if fd >= 0 {
		r.lock, _ = platform.NewRoleLock(platform.RoleKey{FD: fd, Start: lsnLockOwner, Role: "listener"})
	}
	return r
}

// claim takes the listener's role: STEP(listen.2) to STEP(listen.4).
func (l *Listener) claim() error {
	// STEP(listen.2) STEP(listen.3): the role lock (claim.2; ErrBusy while a
	// live listener holds it, in any PID namespace), then the owner token
	// for diagnostics (claim.3). Without locks: the token test.
	if _, err := l.owner.claim(); err != nil {
		if errors.Is(err, ErrBusy) {
			return fmt.Errorf("%w: a live listener serves the name", err)
		}
		return err
	}
	// STEP(listen.4) SYNC(lsn_epoch): the new owner's mark, for diagnostics.
	atomic.AddUint64(&l.h.epoch, 1)
	// STEP(listen.4) SYNC(lsn_closed): seq_cst; pairs with the load in Dial.
	atomic.StoreUint32(&l.h.closed, 0)
	return nil
}

// Addr returns the listener's address (network "shm", its name).
func (l *Listener) Addr() net.Addr { return l.addr }

// Accept waits for and returns the next connection, as net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptContext(context.Background())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptContext waits for the next connection until ctx is done (then it
// returns an error matching ctx.Err(), and os.ErrDeadlineExceeded for a
// deadline). After Close it returns an error matching ErrClosed and
// net.ErrClosed.
func (l *Listener) AcceptContext(ctx context.Context) (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed.Load() {
			return nil, l.opError(errListenerClosed)
		}
		c, err := l.scan()
		if c != nil || err != nil {
			return c, err
		}
		// Wait for the doorbell, in ticks of pollTick so that slots of
		// clients that died are reaped even when no one rings.
		tick, cancel := context.WithTimeout(ctx, pollTick)
		p := waitPoint{seq: &l.h.bell, word: l.bell}
		err = await(p, Block, l.anyReady, tick.Done(), l.closing)
		cancel()
		switch {
		case err == errStopped:
			return nil, l.opError(errListenerClosed)
		case ctx.Err() != nil:
			return nil, l.opError(ctxError(ctx))
		}
	}
}

// anyReady reports whether a slot waits for its accept.
func (l *Listener) anyReady() bool {
	for i := range l.slots {
		// SYNC(slot_state): acquire; pairs with the client's Claimed->Ready CAS.
		if atomic.LoadUint32(&l.slots[i].state) == slotReady {
			return true
		}
	}
	return false
}

// slotSeen is the reaper's last verdict on one slot: its client token
// was alive at at. It is reused for liveCacheFor.
type slotSeen struct {
	tok uint64
	at  time.Time
}

// scan reaps the slots of dead clients and accepts the first ready slot.
func (l *Listener) scan() (*Conn, error) {
	now := time.Now()
	for i := range l.slots {
		s := &l.slots[i]
		// SYNC(slot_client): acquire; pairs with the client's claim CAS.
		tok := atomic.LoadUint64(&s.client)
		if tok == 0 {
			continue
		}
		if seen := &l.seen[i]; seen.tok != tok || now.Sub(seen.at) >= liveCacheFor {
			if l.reapIfDead(i, tok) {
				continue
			}
			*seen = slotSeen{tok, now}
		}
		// SYNC(slot_state): acquire; pairs with the client's Claimed->Ready CAS,
		// which follows its channel creation.
		if atomic.LoadUint32(&s.state) != slotReady {
			continue
		}
		if c := l.acceptSlot(i); c != nil {
			return c, nil
		}
	}
	return nil, nil
}

// reapIfDead frees slot i if its client died (STEP(reap.1) to
// STEP(reap.5)) and reports whether it did. With slot locks the test is
// taking the slot's lock through the listener's own descriptor: a live
// client holds it from before its claim of the client word until after it
// gave it back, so a client word still set while the listener holds the lock
// names a client that died; and while the listener holds it no client can
// claim the slot, so the reap cannot touch a new client's handshake.
// Without locks the client's token is tested (cached, tokenAlive).
func (l *Listener) reapIfDead(i int, tok uint64) bool {
	fd := l.seg.fd
	if slotLocks(fd) {
		// STEP(reap.1)
		if ok, err := lockSlot(fd, i); !ok || err != nil {
			return false // held: the client lives (a failed test is "alive" too)
		}
		defer unlockSlot(fd, i) // STEP(reap.5)
		// STEP(reap.1) SYNC(slot_client): acquire, under the lock; pairs with
		// the client's claim CAS and its release.
		if tok = atomic.LoadUint64(&l.slots[i].client); tok == 0 {
			return false // the client gave the slot back before we locked
		}
	} else if tokenAlive(tok) {
		return false
	}
	l.reap(i, tok)
	return true
}

// reap frees the slot of a client that died: STEP(reap.2) to STEP(reap.4).
func (l *Listener) reap(i int, tok uint64) {
	s := &l.slots[i]
	// STEP(reap.2) SYNC(slot_state): acquire.
	if st := atomic.LoadUint32(&s.state); st != slotAccepted {
		// SYNC(slot_conn): read once; any value names a valid pair of names.
		id := atomic.LoadUint64(&s.conn)
		if id != 0 {
			c, sv := connNames(id)
			_ = Remove(c) // absent if the client died before creating it
			_ = Remove(sv)
		}
	}
	// STEP(reap.3) SYNC(slot_state): release; the slot is free before the client word is.
	atomic.StoreUint32(&s.state, slotFree)
	// STEP(reap.4) SYNC(slot_client): acq_rel CAS; pairs with the next claim.
	atomic.CompareAndSwapUint64(&s.client, tok, 0)
}

// acceptSlot opens the pair of a ready slot: accept.1 to accept.5. It returns
// nil (and refuses the slot) if the pair cannot be used.
func (l *Listener) acceptSlot(i int) *Conn {
	s := &l.slots[i]
	// STEP(accept.1) SYNC(slot_conn): read once, after the acquire of state Ready; pairs
	// with the client's store before its CAS.
	id := atomic.LoadUint64(&s.conn)
	cName, sName := connNames(id)
	copts := []Option{WithOpenTimeout(100 * time.Millisecond), WithWait(l.o.wait)}
	if l.o.global {
		copts = append(copts, Global())
	}
	// STEP(accept.2)
	in, err := OpenChannel(cName, copts...)
	if err != nil {
		l.answer(s, slotRefused)
		return nil
	}
	out, err := OpenChannel(sName, copts...)
	if err != nil {
		_ = in.Close()
		l.answer(s, slotRefused)
		return nil
	}
	c, err := newConn(in, out, Addr{Name: l.addr.Name}, Addr{Name: l.addr.Name, Conn: id}, l.o.wait, l.o.conn.directPark)
	if err != nil {
		_, _ = in.Close(), out.Close()
		l.answer(s, slotRefused)
		return nil
	}
	// STEP(accept.3) SYNC(slot_state): acq_rel CAS Ready->Accepted; pairs with the client's
	// Ready->Abandoned CAS: exactly one wins.
	if !atomic.CompareAndSwapUint32(&s.state, slotReady, slotAccepted) {
		_ = c.Close() // the client gave up: it removes the names
		return nil
	}
	// STEP(accept.4)
	_ = Remove(cName)
	_ = Remove(sName)
	l.ring(i)
	return c
}

// answer moves a ready slot to st (Refused) and tells its client.
func (l *Listener) answer(s *lsnSlot, st uint32) {
	// SYNC(slot_state): acq_rel CAS; pairs with the client's Ready->Abandoned CAS.
	if atomic.CompareAndSwapUint32(&s.state, slotReady, st) {
		l.ring(int((uintptr(unsafe.Pointer(s)) - uintptr(unsafe.Pointer(&l.slots[0]))) / lsnSlotSize))
	}
}

// ring bumps slot i's state word and wakes its client: STEP(accept.5).
func (l *Listener) ring(i int) {
	s := &l.slots[i]
	// SYNC(slot_seq): release bump after the state change; pairs with the
	// client's load before it parks.
	atomic.AddUint32(&s.stateSeq, 1)
	if w, err := wake.Open(&s.stateSeq, wakeName(&l.o, l.addr.Name, fmt.Sprintf(".s%d", i))); err == nil {
		_ = w.Wake()
		_ = w.Close()
	}
}

// Close stops the listener: it removes the name (so no new client finds
// it), refuses the clients waiting in it, releases the owner word and
// unmaps the segment. Connections already accepted stay open. A blocked
// Accept returns ErrClosed. A second Close returns an error matching
// ErrClosed.
func (l *Listener) Close() error {
	first := false
	l.closeOnce.Do(func() {
		first = true
		l.closed.Store(true)
		close(l.closing)
	})
	if !first {
		return l.opError(errListenerClosed)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := []error{Remove(l.addr.Name)}
	// SYNC(lsn_closed): seq_cst; pairs with the load in Dial's wait.
	atomic.StoreUint32(&l.h.closed, 1)
	for i := range l.slots {
		l.answer(&l.slots[i], slotRefused)
	}
	// CAS owner from our token to 0, then release the role lock (close.3, close.4).
	l.owner.release()
	errs = append(errs, l.bell.Close(), l.seg.Close())
	if err := errors.Join(errs...); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wrap("close listener", l.addr.Name, err)
	}
	return nil
}

func (l *Listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: "shm", Addr: l.addr, Err: err}
}

// errListenerClosed matches ErrClosed and net.ErrClosed.
var errListenerClosed = &netClosedError{"listener closed"}

// netClosedError is a closed-object error that matches both os.ErrClosed
// (ErrClosed) and net.ErrClosed, which net/http and gRPC test for.
type netClosedError struct{ msg string }

func (e *netClosedError) Error() string { return e.msg }

// Is matches ErrClosed and net.ErrClosed.
func (e *netClosedError) Is(target error) bool { return target == ErrClosed || target == net.ErrClosed }

// ctxError is ctx.Err(), matching os.ErrDeadlineExceeded too for a deadline.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", os.ErrDeadlineExceeded, err)
	}
	return err
}

// connNames returns the names of a connection's channels, client-to-server
// and server-to-client: "shmc-PID-COUNTER.c" and ".s" (at most 26 bytes).
func connNames(id uint64) (string, string) {
	base := fmt.Sprintf("shmc-%d-%08x", id>>32, uint32(id))
	return base + ".c", base + ".s"
}

var connCounter = func() *atomic.Uint32 {
	var c atomic.Uint32
	c.Store(rand.Uint32())
	return &c
}()

// newConnID returns a fresh connection id: this process's PID and a counter
// that starts at random (so that a reused PID does not reuse names).
func newConnID() uint64 {
	for {
		if n := connCounter.Add(1); n != 0 {
			return uint64(os.Getpid())<<32 | uint64(n)
		}
	}
}

// Dial connects to the listener serving name; it is DialContext without a
// deadline, and waits for a free slot for as long as it takes.
func Dial(name string, opts ...Option) (*Conn, error) {
	return DialContext(context.Background(), name, opts...)
}

// DialContext connects to the listener serving name (docs/layout.md,
// "Handshake"): it claims a slot, creates the connection's two channels,
// rings the listener and waits for the accept. With no listener it fails at
// once with ErrNoListener (also fs.ErrNotExist without a segment, and
// ErrPeerGone for a dead listener); a listener that dies or closes during
// the handshake gives the same. When every slot stays busy until ctx ends it
// fails with ErrListenerFull and ctx's error. Nothing it created is left
// behind on failure. Options: WithConnCapacity, WithMode (of the channels),
// WithWait, WithOpenTimeout, Global.
func DialContext(ctx context.Context, name string, opts ...Option) (*Conn, error) {
	o := buildOptions(opts)
	fail := func(err error) (*Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "shm", Addr: Addr{Name: name}, Err: err}
	}
	if err := ValidateName(name); err != nil {
		return fail(wrap("dial", name, err))
	}
	capacity := o.conn.capacity
	if capacity == 0 {
		capacity = DefaultConnCapacity
	}
	if err := checkCapacity(capacity); err != nil {
		return fail(wrap("dial", name, err))
	}
	seg, err := listenerKind(0).open(name, &o, opts)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNoListener, err)
		}
		return fail(err)
	}
	defer seg.Close()
	slots, err := mapSlots(seg.mem)
	if err != nil {
		return fail(wrap("dial", name, err))
	}
	d := &dialer{ctx: ctx, name: name, o: &o, fd: seg.fd, h: (*lsnHead)(unsafe.Pointer(&seg.mem[0])), slots: slots, capacity: capacity}
	d.lsn = listenerRole(seg.fd, d.h, new(atomic.Bool)) // never claimed: only asked (live.1-4)
	d.live = newPeerRole(&d.lsn)
	c, err := d.dial()
	if err != nil {
		return fail(wrap("dial", name, err))
	}
	return c, nil
}

// dialer is the client side of one handshake.
type dialer struct {
	ctx      context.Context
	name     string
	o        *options
	fd       int // the listener segment's descriptor: the slot lock is held through it
	h        *lsnHead
	slots    []lsnSlot
	capacity int64
	lsn      role      // the listener's role, as this client sees it
	live     *peerRole // lsn's cached liveness

	slot int
	id   uint64
}

// listening returns nil if a live listener owns the segment: STEP(dial.1)'s
// check, also made while waiting. Liveness is the listener's role lock
// (live.2), cached for liveCacheFor.
func (d *dialer) listening() error {
	// SYNC(lsn_closed): seq_cst; pairs with the store in Listener.Close.
	if atomic.LoadUint32(&d.h.closed) != 0 {
		return fmt.Errorf("%w: the listener closed", ErrNoListener)
	}
	// SYNC(lsn_owner): acquire; pairs with the listener's claim (claim.3).
	if atomic.LoadUint64(&d.h.owner) == 0 {
		return fmt.Errorf("%w: the listener closed", ErrNoListener)
	}
	if d.live.gone() {
		return fmt.Errorf("%w: %w: the listener's process died", ErrNoListener, ErrPeerGone)
	}
	return nil
}

func (d *dialer) dial() (*Conn, error) {
	// STEP(dial.1): the segment is open and checked; is a listener serving it?
	if err := d.listening(); err != nil {
		return nil, err
	}
	if err := d.claim(); err != nil {
		return nil, err
	}
	s := &d.slots[d.slot]
	in, out, cName, sName, err := d.createPair()
	if err != nil {
		d.free()
		return nil, err
	}
	undo := func(err error) (*Conn, error) {
		return nil, errors.Join(err, out.Close(), in.Close(), removeIfExists(cName), removeIfExists(sName), d.free())
	}
	c, err := newConn(in, out, Addr{Name: d.name, Conn: d.id}, Addr{Name: d.name}, d.o.wait, d.o.conn.directPark)
	if err != nil {
		return undo(err)
	}
	undo = func(err error) (*Conn, error) {
		return nil, errors.Join(err, c.Close(), removeIfExists(cName), removeIfExists(sName), d.free())
	}
	// STEP(dial.4) SYNC(slot_state): acq_rel CAS Claimed->Ready; publishes
	// the conn id and the channels; pairs with the listener's acquire load.
	if !atomic.CompareAndSwapUint32(&s.state, slotClaimed, slotReady) {
		return undo(fmt.Errorf("%w: slot %d state changed under the client", ErrCorrupt, d.slot))
	}
	// STEP(dial.5) SYNC(lsn_bell): bump then wake; pairs with the listener's load before it parks.
	atomic.AddUint32(&d.h.bell, 1)
	if w, err := wake.Open(&d.h.bell, wakeName(d.o, d.name, ".bell")); err == nil {
		_ = w.Wake()
		_ = w.Close()
	}
	// STEP(dial.6): wait for the answer.
	word, err := wake.Open(&s.stateSeq, wakeName(d.o, d.name, fmt.Sprintf(".s%d", d.slot)))
	if err != nil {
		return undo(err)
	}
	defer word.Close()
	p := waitPoint{seq: &s.stateSeq, word: word, peer: d.live}
	answered := func() bool {
		// SYNC(slot_state): acquire; pairs with the listener's CAS.
		// SYNC(lsn_closed): seq_cst; pairs with Listener.Close.
		return atomic.LoadUint32(&s.state) != slotReady || atomic.LoadUint32(&d.h.closed) != 0
	}
	werr := await(p, Block, answered, d.ctx.Done(), nil)
	st := atomic.LoadUint32(&s.state)
	if st == slotReady {
		// STEP(dial.7) SYNC(slot_state): acq_rel CAS Ready->Abandoned;
		// pairs with the listener's Ready->Accepted CAS.
		if atomic.CompareAndSwapUint32(&s.state, slotReady, slotAbandoned) {
			why := werr
			switch {
			case werr == errTimeout:
				why = ctxError(d.ctx)
			case werr == ErrPeerGone || werr == nil:
				if why = d.listening(); why == nil {
					why = fmt.Errorf("%w: the listener closed", ErrNoListener)
				}
			}
			return undo(why)
		}
		st = atomic.LoadUint32(&s.state)
	}
	switch st {
	case slotAccepted:
		// The listener removed the names. Free the slot: STEP(dial.8).
		if err := d.free(); err != nil {
			return nil, errors.Join(err, c.Close())
		}
		if err := d.ctx.Err(); err != nil {
			return nil, errors.Join(ctxError(d.ctx), c.Close())
		}
		return c, nil
	case slotRefused:
		why := d.listening()
		if why == nil {
			why = fmt.Errorf("%w: the listener refused the connection", ErrNoListener)
		}
		return undo(why)
	}
	return undo(fmt.Errorf("%w: slot %d in state %d", ErrCorrupt, d.slot, st))
}

// claim takes a free slot (STEP(dial.2)), waiting while all are busy. With
// slot locks the client takes the slot's lock first and keeps it (and the
// listener segment's descriptor) until free; a slot whose client word is
// set is never taken over, whatever its lock says: only the listener's
// reaper frees a dead client's slot.
func (d *dialer) claim() error {
	self := selfToken()
	locks := slotLocks(d.fd)
	n := len(d.slots)
	start := rand.IntN(n)
	delay := 50 * time.Microsecond
	for {
		for k := range n {
			i := (start + k) % n
			s := &d.slots[i]
			// STEP(dial.2) SYNC(slot_client): acquire; pairs with the release
			// of the slot by the previous client or the listener's reap.
			if atomic.LoadUint64(&s.client) != 0 {
				continue
			}
			if locks {
				// STEP(dial.2): the slot lock; held by another description
				// (a client, or the reaper for a moment): try the next slot.
				ok, err := lockSlot(d.fd, i)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			// STEP(dial.2) SYNC(slot_client): acq_rel CAS 0->self; pairs with
			// the release of the slot by the previous client or the reaper.
			if !atomic.CompareAndSwapUint64(&s.client, 0, self) {
				if locks {
					unlockSlot(d.fd, i)
				}
				continue
			}
			d.slot, d.id = i, newConnID()
			// SYNC(slot_conn): ordered before the Free->Claimed CAS below.
			atomic.StoreUint64(&s.conn, d.id)
			atomic.StoreUint64(&s.capacity, uint64(d.capacity))
			// STEP(dial.2) SYNC(slot_state): acq_rel CAS Free->Claimed.
			if !atomic.CompareAndSwapUint32(&s.state, slotFree, slotClaimed) {
				// SYNC(slot_client): release; a slot left in a bad state by a hostile peer.
				atomic.StoreUint64(&s.client, 0)
				if locks {
					unlockSlot(d.fd, i)
				}
				continue
			}
			return nil
		}
		if err := d.listening(); err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-d.ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: all %d slots busy: %w", ErrListenerFull, n, ctxError(d.ctx))
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// createPair creates the connection's channels (STEP(dial.3)), choosing a
// new id when a name is taken.
func (d *dialer) createPair() (in, out *Channel, cName, sName string, err error) {
	copts := []Option{WithMode(d.o.mode), WithWait(d.o.wait)}
	if d.o.global {
		copts = append(copts, Global())
	}
	for range 8 {
		cName, sName = connNames(d.id)
		out, err = CreateChannel(cName, d.capacity, copts...)
		if errors.Is(err, fs.ErrExist) {
			d.id = newConnID()
			atomic.StoreUint64(&d.slots[d.slot].conn, d.id)
			continue
		}
		if err != nil {
			return nil, nil, "", "", err
		}
		in, err = CreateChannel(sName, d.capacity, copts...)
		if err != nil {
			return nil, nil, "", "", errors.Join(err, out.Close(), removeIfExists(cName))
		}
		return in, out, cName, sName, nil
	}
	return nil, nil, "", "", err
}

// free releases the slot: state first, then the client word, then the
// slot's lock (STEP(dial.8)).
func (d *dialer) free() error {
	s := &d.slots[d.slot]
	// STEP(dial.8) SYNC(slot_state): release.
	atomic.StoreUint32(&s.state, slotFree)
	// STEP(dial.8) SYNC(slot_client): acq_rel CAS; pairs with the next claim
	// and the reaper's load under the lock.
	atomic.CompareAndSwapUint64(&s.client, selfToken(), 0)
	if slotLocks(d.fd) {
		unlockSlot(d.fd, d.slot) // STEP(dial.8)
	}
	return nil
}

func removeIfExists(name string) error {
	if err := Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
