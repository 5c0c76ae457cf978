package shm

import (
	"errors"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one connection made by Dial or Accept: a byte stream in each
// direction over a pair of channels, as net.Conn. A Write is split into
// messages of at most MaxChunk bytes; a Read returns what the next message
// holds, up to len(p), without waiting for more.
//
// Read and Write make no allocation and no system call unless the peer is
// parked (or they park themselves). With the default wait (Adaptive) they
// spin only as long as recent waits showed the peer answers quickly, then
// park (see Conn.await); WithWait(Spin) or WithWait(Block) on Listen and
// Dial selects the channels' strategies instead. A parked Read or Write holds no OS
// thread of its own (see the package doc, "Waiting on many channels"),
// unless WithDirectPark let it sleep on its own thread (see there).
// Deadlines follow net.Conn: an expired one fails with an error matching
// os.ErrDeadlineExceeded whose Timeout() is true, and setting a new one
// (or the zero time) affects calls already blocked.
//
// A Conn is safe for concurrent use. Errors are *net.OpError values: after
// Close they match ErrClosed and net.ErrClosed; when the peer's process died
// they match ErrPeerGone. Read returns io.EOF after the peer's Close or
// CloseWrite, once everything it wrote is read.
type Conn struct {
	in, out  *Channel // we receive on in and send on out
	rx       *Receiver
	tx       *Sender
	rp, sp   waitPoint
	strategy WaitStrategy
	direct   bool // WithDirectPark: park may sleep on the futex itself
	local    Addr
	remote   Addr
	chunk    int

	rmu      sync.Mutex // serialises Read; guards rmsg, roff, rspin
	rmsg     []byte     // the message being read, peeked in place
	roff     int
	rspin    spinGuess
	readable func() bool

	wmu      sync.Mutex // serialises Write; guards wclosed, want, wspin
	wclosed  bool
	want     int
	wspin    spinGuess
	writable func() bool

	rd, wd    *connDeadline
	closing   chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

// newConn claims the receiver of in and the sender of out. On failure it
// releases what it claimed; the channels stay open.
func newConn(in, out *Channel, local, remote Addr, strategy WaitStrategy, direct bool) (*Conn, error) {
	rx, err := in.Receiver()
	if err != nil {
		return nil, err
	}
	tx, err := out.Sender()
	if err != nil {
		return nil, errors.Join(err, rx.Close())
	}
	c := &Conn{
		in: in, out: out, rx: rx, tx: tx, rp: recvPoint(rx), sp: sendPoint(tx),
		strategy: strategy, direct: direct, local: local, remote: remote,
		chunk: max(1, out.MaxMessage()/2), closing: make(chan struct{}),
		rspin: spinGuess{spin: connSpinMax}, wspin: spinGuess{spin: connSpinMax},
	}
	c.rd = newConnDeadline(func() { wakePoint(c.rp) })
	c.wd = newConnDeadline(func() { wakePoint(c.sp) })
	// Called within Read's and Write's fault guard.
	c.readable = func() bool { _, err := c.rx.tryPeek(); return err != ErrEmpty }
	c.writable = func() bool { _, err := c.tx.tryReserve(c.want); return err != ErrFull }
	return c, nil
}

// MaxChunk returns the largest message a stream Write sends: half the
// channel's largest message, so that two are in flight.
func (c *Conn) MaxChunk() int { return c.chunk }

// Read reads up to len(p) bytes, waiting until at least one is there.
func (c *Conn) Read(p []byte) (n int, err error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// One fault guard for the whole call (the channel's unexported calls
	// below carry none of their own: see fault.go).
	defer c.guard("read", &err, debug.SetPanicOnFault(true))
	return c.read(p)
}

// read is Read's body, in its own function so that Read's two defers stay
// open-coded (the compiler stops open-coding defers when returns times
// defers exceeds 15, and then each call costs about 130 more instructions:
// callgrind, BenchmarkConnCost).
func (c *Conn) read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, c.opError("read", errConnClosed)
	}
	dl := c.rd.wait()
	if dl.passed.Load() {
		return 0, c.opError("read", errTimeout)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.rmsg != nil {
			n := copy(p, c.rmsg[c.roff:])
			c.roff += n
			if c.roff == len(c.rmsg) {
				c.rmsg = nil
				if err := c.rx.release(); err != nil {
					return n, c.opError("read", err)
				}
			}
			return n, nil
		}
		msg, err := c.rx.tryPeek()
		switch {
		case err == nil:
			if len(msg) == 0 {
				if err := c.rx.release(); err != nil {
					return 0, c.opError("read", err)
				}
				continue
			}
			if len(msg) <= len(p) {
				// The whole message fits: copy and release at once.
				n := copy(p, msg)
				if err := c.rx.release(); err != nil {
					return n, c.opError("read", err)
				}
				return n, nil
			}
			c.rmsg, c.roff = msg, 0
		case err == io.EOF:
			return 0, io.EOF
		case err == ErrEmpty:
			if err := c.await(c.rp, &c.rspin, c.readable, dl); err != nil {
				return 0, c.opError("read", c.stopError(err))
			}
		default:
			return 0, c.opError("read", err)
		}
	}
}

// Write writes p as one or more messages, waiting while the ring is full.
// On an error it returns how many bytes were sent whole.
func (c *Conn) Write(p []byte) (n int, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer c.guard("write", &err, debug.SetPanicOnFault(true))
	return c.write(p)
}

// write is Write's body (see read).
func (c *Conn) write(p []byte) (n int, err error) {
	if c.closed.Load() {
		return 0, c.opError("write", errConnClosed)
	}
	if c.wclosed {
		return 0, c.opError("write", errWriteClosed)
	}
	dl := c.wd.wait()
	if dl.passed.Load() {
		return 0, c.opError("write", errTimeout)
	}
	for len(p) > 0 {
		k := min(len(p), c.chunk)
		buf, err := c.tx.tryReserve(k)
		if err == ErrFull {
			c.want = k
			if err := c.await(c.sp, &c.wspin, c.writable, dl); err != nil {
				return n, c.opError("write", c.stopError(err))
			}
			continue
		}
		if err != nil {
			return n, c.opError("write", err)
		}
		copy(buf, p[:k])
		if err := c.tx.commit(k); err != nil {
			return n, c.opError("write", err)
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// guard is the fault guard of Read and Write (fault.go's guard, with the
// error in a *net.OpError).
func (c *Conn) guard(op string, err *error, prev bool) {
	r := recover()
	debug.SetPanicOnFault(prev)
	if r != nil {
		*err = c.opError(op, faultError(r))
	}
}

// A Conn's Adaptive wait learns how long to spin before it parks, per
// direction, as an adaptive mutex does: a spin that saw the peer's answer
// doubles the next spin (up to connSpinMax), one that did not quarters it,
// and below connSpinMin it parks at once (through the poller), except that
// every connProbeEvery-th wait probes with a spin of connSpinMax. The probe
// is that long so that it outlasts a parked peer's wakeup (a parked 64-byte
// round trip measured 37166 ns, two wakeups): with a 2 µs probe two parked
// ends never saw each other answer and stayed parked (64-byte Conn round
// trip p50 34461..59849 ns, 5 runs), with the long probe they went back to
// spinning (441..1101 ns in 9 of 10 runs, load 7.7).
//
// It replaces the channels' Adaptive schedule (spin 20 µs, yield to
// 100 µs), under which gRPC's unary p50 over shm was 157524..235350 ns
// against 78446..95152 ns parking at once (docs/services.md, "Wait strategy
// of a Conn"): grpc-go's answers come after tens of microseconds of its own
// goroutines' work, and a spinning Read took the CPU they needed; with the
// learned spin gRPC's p50 stayed within the spread of parking at once.
const (
	connSpinMax    = 50 * time.Microsecond
	connSpinMin    = 2 * time.Microsecond
	connProbeEvery = 16
)

// spinGuess is one direction's learned spin, guarded by rmu or wmu.
type spinGuess struct {
	spin  time.Duration
	waits uint32
}

// await waits on p until ready, with the Conn's strategy; Adaptive spins
// for g's learned time and then parks (Conn.park). With GOMAXPROCS=1 the
// spin gives the processor to the process's other goroutines every
// checkEvery polls: there it holds the only P, and the goroutines that
// produce the awaited answer (gRPC's writer and handler) could not run.
func (c *Conn) await(p waitPoint, g *spinGuess, ready func() bool, dl *deadlineState) error {
	switch c.strategy {
	case Block:
		return c.park(p, ready, dl)
	case Spin:
		return await(p, Spin, ready, dl.c, c.closing)
	}
	g.waits++
	limit := g.spin
	if limit < connSpinMin && g.waits%connProbeEvery == 0 {
		limit = connSpinMax // the probe
	}
	if limit >= connSpinMin {
		oneP := runtime.GOMAXPROCS(0) == 1
		began := time.Now()
		for i := 1; ; i++ {
			if ready() {
				g.spin = min(2*limit, connSpinMax)
				return nil
			}
			if i%checkEvery == 0 {
				if err := c.stopped(dl); err != nil {
					return err
				}
				if time.Since(began) >= limit {
					break
				}
				if oneP {
					runtime.Gosched()
				}
			}
		}
		g.spin = limit / 4
	}
	return c.park(p, ready, dl)
}

// stopped is stopped(dl, c.closing) without a select: the flags are set
// before the channels are closed.
func (c *Conn) stopped(dl *deadlineState) error {
	// SYNC(conn_closed): seq_cst; pairs with the store in Close, made before its wakePoint.
	if c.closed.Load() {
		return errStopped
	}
	// SYNC(conn_deadline): seq_cst; pairs with the store in connDeadline.fire.
	if dl.passed.Load() {
		return errTimeout
	}
	return nil
}

// connDirectMax is how many ends of a process may park on their own futex
// at once (Conn.park); connDirectFor is how long one does before it hands
// its wait to the poller.
const (
	connDirectMax = 4
	connDirectFor = pollLiveEvery
)

// directParked counts the ends parked on their own futex (Conn.park).
var directParked atomic.Int32

// park waits at p until ready: through the poller (await with Block), so
// that a parked end holds no thread of its own and its goroutine's P runs
// the process's other goroutines. With WithDirectPark, while fewer than
// connDirectMax ends of this process do so, it sleeps on p's futex word
// itself instead (holding its OS thread, as Receiver.Recv does): the peer's
// FUTEX_WAKE then wakes this goroutine's thread, one hop, where the poller
// takes several (its registration's kick, its thread's wakeup, the Go
// scheduler's hand-off). After connDirectFor without an answer it hands the
// wait to the poller, so that idle connections hold no thread of their own
// (TestConnIdleThreads). Close and an expiring deadline wake a direct
// sleeper by bumping its word (wakePoint).
func (c *Conn) park(p waitPoint, ready func() bool, dl *deadlineState) error {
	if !c.direct || p.word == nil || p.parked == nil {
		return await(p, Block, ready, dl.c, c.closing)
	}
	if directParked.Add(1) > connDirectMax {
		directParked.Add(-1)
		return await(p, Block, ready, dl.c, c.closing)
	}
	began := time.Now()
	for {
		// SYNC(data_seq)/SYNC(space_seq): acquire; loaded before the stop
		// checks and the parked flag, so that a bump after them (the peer's
		// notify, or wakePoint after Close or a deadline set its flag)
		// makes the Wait below return at once.
		val := atomic.LoadUint32(p.seq)
		if err := c.stopped(dl); err != nil {
			directParked.Add(-1)
			return err
		}
		// SYNC(rx_parked)/SYNC(tx_parked): seq_cst store, then ready()
		// re-checks the ring: pairs with the peer's store then parked load
		// in notify (Dekker), as in await.
		atomic.StoreUint32(p.parked, 1)
		ok := ready()
		var werr error
		if !ok {
			// No runtime.Gosched first (to run the goroutines this one
			// readied before the P sits in the system call): measured
			// slower, gRPC p50 172727..183563 against 121801..192416 ns.
			werr = p.word.Wait(val, connDirectFor)
		}
		// SYNC(rx_parked)/SYNC(tx_parked): seq_cst; pairs with the load in the peer's notify.
		atomic.StoreUint32(p.parked, 0)
		if ok || ready() {
			directParked.Add(-1)
			return nil
		}
		if werr != nil || time.Since(began) >= connDirectFor {
			directParked.Add(-1)
			if p.peer != nil && p.peer.gone() {
				if ready() {
					return nil
				}
				return ErrPeerGone
			}
			return await(p, Block, ready, dl.c, c.closing)
		}
	}
}

// wakePoint bumps the word of p, so that a Read or Write parked on it by
// park re-checks its stop flags. The bump is harmless to the peer, which
// never waits on the word (as the waiter's onCancel).
func wakePoint(p waitPoint) {
	_ = guarded(func() error {
		bump(p.seq, p.word)
		return nil
	})
}

// CloseWrite shuts down the sending direction, as *net.TCPConn's: the peer
// reads what was written, then io.EOF. Reads go on.
func (c *Conn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return c.opError("close", errConnClosed)
	}
	if c.wclosed {
		return nil
	}
	c.wclosed = true
	if err := c.tx.Close(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// Close closes both directions: the peer reads what was written, then
// io.EOF, and its writes fail with ErrClosed. Calls blocked in Read or Write
// return an error matching net.ErrClosed. The channels' memory is unmapped
// (their names were removed at the accept). A second Close returns an error
// matching ErrClosed.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		// SYNC(conn_closed): seq_cst store before wakePoint below; pairs with the load in Conn.stopped.
		c.closed.Store(true)
		close(c.closing)
	})
	if !first {
		return c.opError("close", errConnClosed)
	}
	c.rd.stop()
	c.wd.stop()
	// Wake calls parked on their own futex (park); the memory is mapped
	// until the channels' Close below.
	wakePoint(c.rp)
	wakePoint(c.sp)
	// Wait for blocked calls to leave: they watch c.closed and c.closing.
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.rmsg = nil
	if err := errors.Join(c.out.Close(), c.in.Close()); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// Sender returns the sending end of the connection's outgoing channel, for
// message-level (and zero-copy) use. Mixing it with Write interleaves
// messages with stream chunks; the caller keeps them apart. It is not safe
// to use after Close.
func (c *Conn) Sender() *Sender { return c.tx }

// Receiver returns the receiving end of the incoming channel, as Sender.
func (c *Conn) Receiver() *Receiver { return c.rx }

// LocalAddr returns this end's address (network "shm").
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address (network "shm").
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines, as net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", errConnClosed)
	}
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Read calls, blocked ones included.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", errConnClosed)
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write calls, blocked ones included.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", errConnClosed)
	}
	c.wd.set(t)
	return nil
}

func (c *Conn) stopError(err error) error {
	if err == errStopped {
		return errConnClosed
	}
	return err
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "shm", Source: c.local, Addr: c.remote, Err: err}
}

var (
	errConnClosed  = &netClosedError{"use of closed connection"}
	errWriteClosed = &netClosedError{"write after CloseWrite"}
)

// connDeadline is a deadline that blocked calls watch: its state's channel
// is closed (and its passed flag set, first) when the deadline passes, and a
// new deadline replaces a passed one with a fresh state (the shape of
// net.Pipe's deadlines). Read and Write load the state with one atomic load
// and test the flag, so a Conn without deadlines pays no lock and no select.
type connDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	dead  bool   // stop was called: the Conn's memory may be unmapped
	wake  func() // wakes a call parked on its own futex (Conn.park)
	st    atomic.Pointer[deadlineState]
}

// deadlineState is one deadline's channel and flag.
type deadlineState struct {
	c      chan struct{}
	passed atomic.Bool // set before c is closed
}

func newConnDeadline(wake func()) *connDeadline {
	d := &connDeadline{wake: wake}
	d.st.Store(&deadlineState{c: make(chan struct{})})
	return d
}

// set arms the deadline at t; the zero time clears it. After stop it does
// nothing.
func (d *connDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return
	}
	if d.stopLocked() {
		// It had passed: calls from now on watch a fresh one.
		d.st.Store(&deadlineState{c: make(chan struct{})})
	}
	if t.IsZero() {
		return
	}
	st := d.st.Load()
	if dur := time.Until(t); dur > 0 {
		d.timer = time.AfterFunc(dur, func() { d.fire(st) })
		return
	}
	d.fire(st)
}

// fire marks st passed, wakes a directly parked call, and closes st's
// channel last, so that stopLocked's wait for the channel also waits for
// the wakeup (which touches the Conn's memory).
func (d *connDeadline) fire(st *deadlineState) {
	// SYNC(conn_deadline): seq_cst store before the bump in wake; pairs
	// with the load in Conn.stopped, made after Conn.park loads its word.
	st.passed.Store(true)
	d.wake()
	close(st.c)
}

// stopLocked stops the timer and reports whether the deadline has passed.
func (d *connDeadline) stopLocked() bool {
	st := d.st.Load()
	if d.timer != nil {
		if !d.timer.Stop() {
			<-st.c // the timer fired: wait for its fire to finish
		}
		d.timer = nil
	}
	return st.passed.Load()
}

// stop cancels a pending timer for good (at Close, before the unmap).
func (d *connDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
	d.dead = true
}

// wait returns the state that the calls starting now watch.
func (d *connDeadline) wait() *deadlineState { return d.st.Load() }
