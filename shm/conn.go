package shm

import (
	"errors"
	"io"
	"net"
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
// thread of its own (see the package doc, "Waiting on many channels").
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
func newConn(in, out *Channel, local, remote Addr, strategy WaitStrategy) (*Conn, error) {
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
		strategy: strategy, local: local, remote: remote,
		chunk: max(1, out.MaxMessage()/2), closing: make(chan struct{}),
		rd: newConnDeadline(), wd: newConnDeadline(),
		rspin: spinGuess{spin: connSpinMax}, wspin: spinGuess{spin: connSpinMax},
	}
	c.readable = func() bool { _, err := c.rx.TryPeek(); return err != ErrEmpty }
	c.writable = func() bool { _, err := c.tx.TryReserve(c.want); return err != ErrFull }
	return c, nil
}

// MaxChunk returns the largest message a stream Write sends: half the
// channel's largest message, so that two are in flight.
func (c *Conn) MaxChunk() int { return c.chunk }

// Read reads up to len(p) bytes, waiting until at least one is there.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return 0, c.opError("read", errConnClosed)
	}
	dl := c.rd.wait()
	if err := stopped(dl, c.closing); err != nil {
		return 0, c.opError("read", c.stopError(err))
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
				if err := c.rx.Release(); err != nil {
					return n, c.opError("read", err)
				}
			}
			return n, nil
		}
		msg, err := c.rx.TryPeek()
		switch {
		case err == nil:
			if len(msg) == 0 {
				if err := c.rx.Release(); err != nil {
					return 0, c.opError("read", err)
				}
				continue
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
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return 0, c.opError("write", errConnClosed)
	}
	if c.wclosed {
		return 0, c.opError("write", errWriteClosed)
	}
	dl := c.wd.wait()
	if err := stopped(dl, c.closing); err != nil {
		return 0, c.opError("write", c.stopError(err))
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.chunk)
		buf, err := c.tx.TryReserve(k)
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
		if err := c.tx.Commit(k); err != nil {
			return n, c.opError("write", err)
		}
		n += k
		p = p[k:]
	}
	return n, nil
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
// for g's learned time and then parks through the poller (Block).
func (c *Conn) await(p waitPoint, g *spinGuess, ready func() bool, dl <-chan struct{}) error {
	if c.strategy != Adaptive {
		return await(p, c.strategy, ready, dl, c.closing)
	}
	g.waits++
	limit := g.spin
	if limit < connSpinMin && g.waits%connProbeEvery == 0 {
		limit = connSpinMax // the probe
	}
	if limit >= connSpinMin {
		began := time.Now()
		for i := 1; ; i++ {
			if ready() {
				g.spin = min(2*limit, connSpinMax)
				return nil
			}
			if i%64 == 0 {
				if err := stopped(dl, c.closing); err != nil {
					return err
				}
				if time.Since(began) >= limit {
					break
				}
			}
		}
		g.spin = limit / 4
	}
	return await(p, Block, ready, dl, c.closing)
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
		c.closed.Store(true)
		close(c.closing)
	})
	if !first {
		return c.opError("close", errConnClosed)
	}
	c.rd.stop()
	c.wd.stop()
	// Wait for blocked calls to leave: they watch c.closing.
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

// connDeadline is a deadline that blocked calls watch: its channel is closed
// when the deadline passes, and a new deadline replaces a passed one with a
// fresh channel (the shape of net.Pipe's deadlines).
type connDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	c     chan struct{}
}

func newConnDeadline() *connDeadline { return &connDeadline{c: make(chan struct{})} }

// set arms the deadline at t; the zero time clears it.
func (d *connDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopLocked() {
		d.c = make(chan struct{}) // it had passed: calls from now on watch a fresh one
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		c := d.c
		d.timer = time.AfterFunc(dur, func() { close(c) })
		return
	}
	close(d.c)
}

// stopLocked stops the timer and reports whether the channel is closed.
func (d *connDeadline) stopLocked() bool {
	if d.timer != nil {
		if !d.timer.Stop() {
			<-d.c // the timer fired: wait for its close
		}
		d.timer = nil
	}
	select {
	case <-d.c:
		return true
	default:
		return false
	}
}

// stop cancels a pending timer (at Close).
func (d *connDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

// wait returns the channel closed when the deadline passes.
func (d *connDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}
