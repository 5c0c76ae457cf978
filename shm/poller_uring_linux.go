//go:build linux

package shm

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring poller: parked ends wait in Go's own netpoller, as a socket's
// reader does, and no thread of the process sleeps for them.
//
// Each registered word becomes an IORING_OP_FUTEX_WAIT (Linux 6.7+) on one
// process-wide ring with an eventfd registered on it. The registering
// goroutine submits the wait itself (one io_uring_enter). A peer's ordinary
// FUTEX_WAKE (the one it makes anyway when it finds the end parked) completes
// the wait; the kernel posts the completion on the submitting thread's way
// back to user space (its task work: an idle thread is woken for it, a busy
// one interrupted) and signals the eventfd. The eventfd is an ordinary
// non-blocking file in Go's netpoller: the thread the runtime keeps in
// epoll_wait wakes and runs the dispatcher goroutine, which reads the
// completions and readies their goroutines on the same thread. No system
// call of the poller holds a P while it waits, which is what made the
// futex_waitv poller slow: its thread's system call kept its P, and the
// goroutines it woke waited for another thread (docs/services.md).
//
// A thread that exits takes its pending requests with it (the kernel cancels
// them): the dispatcher submits again the waits of live entries that come
// back cancelled.
//
// Where io_uring is missing or refused (a kernel before 6.7, the
// kernel.io_uring_disabled sysctl, a container's seccomp profile), or
// SHMCHAN_POLLER=waitv says so, the futex_waitv poller serves instead.

const (
	sysIOUringSetup    = 425 // the same number on every architecture
	sysIOUringEnter    = 426
	sysIOUringRegister = 427

	iouSetupCQSize        = 1 << 3
	iouSetupSubmitAll     = 1 << 7
	iouFeatSingleMmap     = 1 << 0
	iouOffSQRing          = 0
	iouOffCQRing          = 0x8000000
	iouOffSQEs            = 0x10000000
	iouEnterGetEvents     = 1 << 0
	iouSQCQOverflow       = 1 << 1 // IORING_SQ_CQ_OVERFLOW in the SQ ring's flags
	iouRegisterEventfd    = 4
	iouOpAsyncCancel      = 14
	iouOpFutexWait        = 51
	iouSQECQESkipSuccess  = 1 << 6
	futexBitsetMatchAny   = 0xffffffff
	iouSQEntries          = 256
	iouCQEntries          = 8192
	iouCancelTag          = 1 << 63       // user_data of a cancel: no entry of ours
	iouProbeTag           = 1 << 62       // user_data of the setup's probe wait
	iouFutex2SizeU32Flags = futex2SizeU32 // shared (not private): the word is in a shared mapping
)

type iouSQOff struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type iouCQOff struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// iouParams is struct io_uring_params of <linux/io_uring.h>.
type iouParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  iouSQOff
	cqOff                                                                  iouCQOff
}

// iouSQE is struct io_uring_sqe (64 bytes).
type iouSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // addr2: the futex value
	addr        uint64 // the futex word
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	fileIndex   uint32
	addr3       uint64 // the futex mask
	pad         uint64
}

// iouCQE is struct io_uring_cqe (16 bytes).
type iouCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uringPoller is the process's ring and the words registered with it.
type uringPoller struct {
	fd   int
	ev   *os.File
	evfd int

	sqHead, sqTail *uint32
	sqFlags        *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []iouSQE
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []iouCQE

	mu     sync.Mutex            // guards the rings' user side and live
	live   map[uint64]*pollEntry // registered, not yet fired or removed
	nextID uint64
}

var uring struct {
	once sync.Once
	p    atomic.Pointer[uringPoller] // nil: not (yet) available
	err  error                       // why not (for docs and tests)
}

// uringGet returns the process's io_uring poller, starting it the first
// time, or nil if this kernel or environment has none.
func uringGet() *uringPoller {
	uring.once.Do(func() {
		if os.Getenv("SHMCHAN_POLLER") == "waitv" {
			uring.err = fmt.Errorf("SHMCHAN_POLLER=waitv")
			return
		}
		u := &uringPoller{live: make(map[uint64]*pollEntry)}
		if err := u.setup(); err != nil {
			if u.fd > 0 {
				unix.Close(u.fd)
			}
			if u.evfd > 0 {
				unix.Close(u.evfd)
			}
			uring.err = err
			return
		}
		go u.dispatch()
		sweeper.Do(func() { go sweepLiveness() })
		uring.p.Store(u)
	})
	return uring.p.Load()
}

// uringStarted returns the io_uring poller if it has been started.
func uringStarted() *uringPoller { return uring.p.Load() }

// PollerKind says which poller serves this process's parked ends:
// "io_uring", "futex_waitv" or "none" (each end parks on its own thread).
func pollerKind() string {
	if uringGet() != nil {
		return "io_uring"
	}
	if pollSupported() {
		return "futex_waitv"
	}
	return "none"
}

// setup creates the ring, maps it, registers the eventfd and checks that
// the kernel knows IORING_OP_FUTEX_WAIT.
func (u *uringPoller) setup() error {
	var p iouParams
	p.flags = iouSetupCQSize | iouSetupSubmitAll
	p.cqEntries = iouCQEntries
	fd, _, e := unix.Syscall(sysIOUringSetup, iouSQEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return fmt.Errorf("io_uring_setup: %w", e)
	}
	u.fd = int(fd)
	if p.features&iouFeatSingleMmap == 0 {
		return fmt.Errorf("io_uring: no IORING_FEAT_SINGLE_MMAP")
	}
	ringLen := max(int(p.sqOff.array)+int(p.sqEntries)*4, int(p.cqOff.cqes)+int(p.cqEntries)*int(unsafe.Sizeof(iouCQE{})))
	ring, err := unix.Mmap(u.fd, iouOffSQRing, ringLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mmap ring: %w", err)
	}
	sqeMem, err := unix.Mmap(u.fd, iouOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(iouSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: mmap sqes: %w", err)
	}
	base := unsafe.Pointer(&ring[0])
	u.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	u.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	u.sqFlags = (*uint32)(unsafe.Add(base, p.sqOff.flags))
	u.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	u.sqArray = unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), p.sqEntries)
	u.sqes = unsafe.Slice((*iouSQE)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	u.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	u.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	u.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	u.cqes = unsafe.Slice((*iouCQE)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)

	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	u.evfd = evfd
	efd := int32(evfd)
	if _, _, e := unix.Syscall6(sysIOUringRegister, uintptr(u.fd), iouRegisterEventfd, uintptr(unsafe.Pointer(&efd)), 1, 0, 0); e != 0 {
		return fmt.Errorf("io_uring_register eventfd: %w", e)
	}

	// The probe: a wait on a word whose value is not the one given must
	// fail at once with EAGAIN where IORING_OP_FUTEX_WAIT exists.
	var word uint32 = 1
	u.put(iouSQE{opcode: iouOpFutexWait, fd: iouFutex2SizeU32Flags, addr: uint64(uintptr(unsafe.Pointer(&word))), off: 0, addr3: futexBitsetMatchAny, userData: iouProbeTag})
	if err := u.enter(1, iouEnterGetEvents); err != nil {
		return err
	}
	runtime.KeepAlive(&word)
	res, ok := int32(0), false
	u.reap(func(c iouCQE) {
		if c.userData == iouProbeTag {
			res, ok = c.res, true
		}
	})
	if !ok || res != -int32(unix.EAGAIN) {
		return fmt.Errorf("io_uring: IORING_OP_FUTEX_WAIT unsupported (probe: %d)", res)
	}
	var b [8]byte
	unix.Read(u.evfd, b[:]) // the probe's completion signalled it
	u.ev = os.NewFile(uintptr(u.evfd), "shm-poller-eventfd")
	return nil
}

// put queues one SQE, submitting those queued first if the SQ is full. The
// caller holds u.mu (or is setup).
func (u *uringPoller) put(sqe iouSQE) {
	// SYNC(iou_sq_head): acquire; the kernel's consumption of earlier SQEs.
	if *u.sqTail-atomic.LoadUint32(u.sqHead) > u.sqMask {
		_ = u.enter(int(*u.sqTail-atomic.LoadUint32(u.sqHead)), 0)
	}
	// Under u.mu: no one else moves the tail.
	tail := *u.sqTail
	i := tail & u.sqMask
	u.sqes[i] = sqe
	u.sqArray[i] = i
	// SYNC(iou_sq_tail): release; pairs with the kernel's acquire of the tail.
	atomic.StoreUint32(u.sqTail, tail+1)
}

// enter submits n queued SQEs (flags: 0, or iouEnterGetEvents to flush
// completions that overflowed the CQ).
func (u *uringPoller) enter(n int, flags uintptr) error {
	for {
		_, _, e := unix.Syscall6(sysIOUringEnter, uintptr(u.fd), uintptr(n), 0, flags, 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		case unix.EBUSY, unix.EAGAIN:
			return nil // the CQ is full: reaping makes room, and the SQEs stay queued
		default:
			return fmt.Errorf("io_uring_enter: %w", e)
		}
	}
}

// reap consumes every posted CQE.
func (u *uringPoller) reap(f func(iouCQE)) {
	head := *u.cqHead
	// SYNC(iou_cq_tail): acquire; pairs with the kernel's release of the tail.
	tail := atomic.LoadUint32(u.cqTail)
	for ; head != tail; head++ {
		f(u.cqes[head&u.cqMask])
	}
	// SYNC(iou_cq_head): release; pairs with the kernel's load of the head.
	atomic.StoreUint32(u.cqHead, head)
}

// dispatch is the goroutine that waits on the eventfd in the netpoller and
// fires the entries whose wait completed.
func (u *uringPoller) dispatch() {
	var b [8]byte
	for {
		if _, err := u.ev.Read(b[:]); err != nil {
			panic(fmt.Sprintf("shm: poller eventfd: %v", err))
		}
		u.mu.Lock()
		u.reapLocked()
		u.mu.Unlock()
	}
}

// reapLocked fires the live entries whose wait completed, and submits again
// those whose wait was cancelled without being removed (its thread exited).
func (u *uringPoller) reapLocked() {
	resubmit := 0
	for {
		u.reap(func(c iouCQE) {
			if c.userData&(iouCancelTag|iouProbeTag) != 0 {
				return
			}
			e := u.live[c.userData]
			if e == nil {
				return // removed: its cancel's echo, or a wake that came late
			}
			if c.res == -int32(unix.ECANCELED) {
				u.putWait(e)
				resubmit++
				return
			}
			// Woken (0), or the word changed before the wait was made
			// (EAGAIN), or anything else: the goroutine re-checks.
			delete(u.live, c.userData)
			e.idx = -1
			e.n.signal()
		})
		// SYNC(iou_sq_flags): acquire; the kernel sets the flag when
		// completions overflowed the CQ, and posts them on a GETEVENTS enter.
		if atomic.LoadUint32(u.sqFlags)&iouSQCQOverflow == 0 {
			break
		}
		_ = u.enter(0, iouEnterGetEvents)
	}
	if resubmit > 0 {
		_ = u.enter(resubmit, 0)
	}
}

// putWait queues e's FUTEX_WAIT.
func (u *uringPoller) putWait(e *pollEntry) {
	u.put(iouSQE{
		opcode: iouOpFutexWait, fd: iouFutex2SizeU32Flags,
		addr: uint64(uintptr(unsafe.Pointer(e.p.seq))), off: uint64(e.val), addr3: futexBitsetMatchAny,
		userData: e.id,
	})
}

// putCancel queues the cancel of id's wait.
func (u *uringPoller) putCancel(id uint64) {
	u.put(iouSQE{opcode: iouOpAsyncCancel, flags: iouSQECQESkipSuccess, addr: id, userData: iouCancelTag | id})
}

// add registers the entries and submits their waits.
func (u *uringPoller) add(entries []pollEntry) {
	u.mu.Lock()
	for i := range entries {
		e := &entries[i]
		u.nextID++
		e.id, e.u, e.idx = u.nextID, u, 0
		u.live[e.id] = e
		u.putWait(e)
	}
	_ = u.enter(len(entries), 0)
	u.mu.Unlock()
}

// remove unregisters e if it has not fired, and cancels its wait. (A wait
// that outlives its word's mapping touches no memory: the kernel reads the
// word only when the wait is made.)
func (u *uringPoller) remove(e *pollEntry) {
	u.mu.Lock()
	if _, ok := u.live[e.id]; ok {
		delete(u.live, e.id)
		e.idx = -1
		u.putCancel(e.id)
		_ = u.enter(1, 0)
	}
	u.mu.Unlock()
}

// sweep fires the live entries whose peer is gone (the liveness sweeper's
// part for this poller).
func (u *uringPoller) sweep() {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for id, e := range u.live {
		if e.p.peer != nil && e.p.peer.gone() {
			delete(u.live, id)
			e.idx = -1
			e.n.gone.Store(true)
			e.n.signal()
			u.putCancel(id)
			n++
		}
	}
	if n > 0 {
		_ = u.enter(n, 0)
	}
}
