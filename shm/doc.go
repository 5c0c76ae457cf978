// Package shm moves data between processes on one machine through named
// shared memory: raw segments, message channels, and latest-value mailboxes.
//
// # Segments
//
// A Segment is a named POSIX shared-memory object ("/"+name, through
// shm_open with cgo, or /dev/shm with CGO_ENABLED=0 on Linux; both reach the
// same object; the OS code lives in internal/platform), a Windows paging-file mapping (Local\name), or, with
// CreateFile, a regular file. Create, Open, OpenOrCreate and Remove follow
// package os; a Segment offers the memory itself (Bytes), a Stream
// (io.ReadWriteSeeker and friends), bounds-checked little-endian accessors and
// atomic words. Names follow one portable rule (ValidateName).
//
// # Channels
//
// A Channel is a lock-free single-sender, single-receiver ring of
// variable-length messages laid over a segment as docs/layout.md specifies,
// so that Go and C programs (shm/c/shmchan.h) share it. The sender publishes
// each message with one atomic store of its header, and the receiver polls
// that header. That is not one cache-line transfer per message: a 64-byte
// round trip measured 260-290 ns against a 100 ns floor of two processes
// bouncing one cache line, about 2.5 times (docs/design.md; the latest run's
// figures, and their ratio to the floor under load, are in
// docs/benchmarks.md), because the ring moves on to a new cache line with
// every message. Neither side makes a system call unless the other is parked on
// the shared futex word (Linux) or named event (Windows). A full ring makes
// Send wait: nothing is ever overwritten, torn or reordered. A process that
// dies holding a role is detected (ErrPeerGone) and its role can be claimed
// again without losing what it committed.
//
// # Mailboxes
//
// A Mailbox holds the newest value of something (a video frame, a price) for
// one writer and any number of readers in any number of processes. Readers
// never block the writer and never see a torn value; a slow reader skips
// versions and is told how many.
//
// # Connections
//
// Listen and Dial give the shape of sockets without sockets: a Listener is
// a named segment with a table of handshake slots and a doorbell; Dial
// claims a slot, creates a pair of channels, rings, and waits for the
// accept, which removes the pair's names (docs/layout.md, "Listener"). A
// Conn is a net.Conn (deadlines, CloseWrite, network "shm") carrying a byte
// stream over the pair, so that net/http and gRPC run over it; its Sender
// and Receiver give the message-level, zero-copy API of the same channels.
// A dead client, listener or peer is detected and reported (ErrPeerGone,
// ErrNoListener); what a connection created is gone once both ends closed or
// died.
//
// # Waiting on many channels
//
// A goroutine blocked in a futex system call holds an OS thread. Parked
// connection ends, accepts, dials and WaitAny therefore hand their futex
// word to the process's poller instead: on Linux, threads sleeping in
// futex_waitv(2) on up to 127 words each, which pass wakeups to the
// goroutines over Go channels, and one sweeper that checks the peers'
// liveness every 500 ms. A thousand idle connections cost eight waiting
// threads (measured: 14 OS threads in the whole server process, and 3.914ms
// to 7.049ms of CPU in 3 s; see docs/services.md). The data path is unchanged:
// no system call unless the peer is parked. WaitAny is the select of
// channels: one goroutine waits until any of many receivers has a message.
// Sender.Send and Receiver.Recv keep their own wait (a thread per parked
// call), which is the fastest way to wake one waiter; WithDirectPark lets a
// few connection ends of a process wait so too (faster for a request/response
// echo, slower for gRPC: see its doc).
//
// # Memory model
//
// Processes coordinate only through atomic operations on aligned words of the
// shared memory. Go's sync/atomic operations are sequentially consistent: the
// Go memory model says an atomic write that an atomic read observes
// "synchronizes before" it, with the semantics of C++ sequentially
// consistent atomics. So a Go store pairs with a C load of memory_order_acquire
// or stronger, and a C store of memory_order_release or stronger pairs with a
// Go load; where the layout needs a store-then-load handshake (the parked
// flags), both languages use sequentially consistent operations. Every atomic
// access in the code carries a SYNC(tag) comment naming its partner, with the
// tags of docs/layout.md.
//
// # Trust
//
// The peer may be buggy, hostile, or killed mid-write. Every index, length
// and header field read from shared memory is read once and checked before
// use; a violation returns an error matching ErrCorrupt, never a panic or an
// access outside the mapping. A peer that truncates the object under the
// mapping makes the next access fault: every call that touches a mapping
// runs under a fault guard (debug.SetPanicOnFault and recover) and returns
// an error matching ErrCorrupt instead of crashing.
//
// Roles are held by kernel locks that are released when the holder dies:
// on Linux open-file-description locks on the object (in whatever PID
// namespace), on Windows a named mutex per role, owned by a thread the
// holder keeps for it. On macOS they are judged by process token
// (docs/platforms.md). Openers refuse an
// object that another user created, unless AllowOwner names that user: a
// squatter cannot become the peer.
//
// # Errors
//
// Errors are *Error values (operation, name, cause) or sentinels from
// errors.go, and match with errors.Is: fs.ErrExist, fs.ErrNotExist and
// fs.ErrPermission for the OS's answers, ErrClosed (os.ErrClosed) after
// Close, os.ErrDeadlineExceeded for an expired context deadline, io.EOF when
// a sender has closed and every message is read.
package shm
