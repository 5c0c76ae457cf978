package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/windows"
)

// Windows role locks (docs/layout.md, "Role locks"): one named mutex per
// role, created or opened by every handle of a channel or mailbox,
//
//	segment "x", sender    -> Local\shmchan.role:x.sender
//	segment "x", receiver  -> Local\shmchan.role:x.receiver
//	mailbox "x", writer    -> Local\shmchan.role:x.writer
//
// or Global\… when the segment is in Global\. The ':' cannot occur in a
// segment name, so a role mutex never collides with a segment or with a wait
// word (Local\shmchan.wake:…), whose kernel objects share the namespace.
//
// A mutex is owned by a thread, not a process, and Go moves goroutines
// between threads: a mutex taken on one thread could not be released from
// another, and the thread it was taken on may run anything afterwards. So
// the first Lock of a RoleLock starts its owner thread, a goroutine locked
// to its OS thread (runtime.LockOSThread) that takes and releases the mutex
// on request and blocks in between; it lives until Close, so a handle that
// claimed a role keeps one OS thread until it closes, and later claims cost
// no thread creation (in C, a thread per claim made the 40 000 claims of
// the fuzz test take 134.6 s under Wine; see shmchan.c for the figures).
// The kernel abandons a mutex whose owning thread ends, which includes
// every thread of a process that dies; the next wait on it succeeds with
// WAIT_ABANDONED. That is the role lock's guarantee: a holder's death frees
// the role.
//
// Held (through a handle's own RoleLock) and RoleHeld (a diagnostic's
// probe, which opens the mutex without creating it) ask without a query
// call (the documented Win32 API has none for a mutex's owner): they wait
// on the mutex with a zero timeout, on a locked thread, and if that
// succeeds (free, or abandoned by a dead holder) release it at once. For
// that instant the probe owns the mutex, so a claim that arrives then would
// see it held: Lock therefore waits up to claimWait for the mutex before it
// says ErrLocked. A claim of a role a live process holds costs that wait.
// Two probes at the same instant may see each other as a holder: the safe
// way round (a false "held", never a false "free").
//
// Handles are not inheritable, and ownership is per thread anyway, so a
// child process never holds its parent's roles.

// RoleLocks reports whether roles are held by kernel locks on this
// platform: on Windows, yes (named mutexes).
const RoleLocks = true

// rolePrefix starts every role mutex's name, after the namespace.
const rolePrefix = "shmchan.role:"

// claimWait is how long Lock waits for the mutex, in milliseconds, before
// it reports ErrLocked: a peer's liveness probe owns a free mutex for the
// length of two system calls, and a claim must not lose to that.
const claimWait = 20

// RoleLock is a role's named mutex, as one handle sees it. Its methods are
// safe for concurrent use.
type RoleLock struct {
	obj string // the mutex's kernel object name, for errors

	mu   sync.Mutex
	h    windows.Handle // the mutex; 0 after Close
	held bool           // the owner thread holds the mutex for this handle
	req  chan roleOp    // to the owner thread; nil until the first Lock
	res  chan error     // from the owner thread: the result of each request
	done chan struct{}  // closed when the owner thread's goroutine has returned
}

// roleOp is a request to a RoleLock's owner thread.
type roleOp int

const (
	opClaim   roleOp = iota // wait up to claimWait for the mutex
	opRelease               // release it
)

// roleObject returns the kernel object name of a role's mutex.
func roleObject(segment string, global bool, role string) string {
	return objectName(rolePrefix+segment+"."+role, global)
}

// NewRoleLock creates the role's mutex, or opens it if a peer created it
// first. The handle stays open until Close. It fails with an error matching
// fs.ErrExist if the name belongs to another kind of kernel object.
func NewRoleLock(k RoleKey) (*RoleLock, error) {
	obj := roleObject(k.Segment, k.Global, k.Role)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, fmt.Errorf("role mutex name %q: %w", obj, err)
	}
	// Not owned, the default security descriptor (the current user), not
	// inheritable. A valid handle with ERROR_ALREADY_EXISTS is success.
	h, err := windows.CreateMutex(nil, false, p)
	if h == 0 && errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		// It exists but grants us less than all access: ask for what the
		// lock needs (wait, release).
		h, err = windows.OpenMutex(windows.SYNCHRONIZE|windows.MUTEX_MODIFY_STATE, false, p)
	}
	if h == 0 {
		if errors.Is(err, windows.ERROR_INVALID_HANDLE) {
			return nil, fmt.Errorf("CreateMutex %s: the name belongs to another kind of kernel object: %w (%w)", obj, fs.ErrExist, err)
		}
		return nil, fmt.Errorf("CreateMutex %s: %w", obj, err)
	}
	return &RoleLock{obj: obj, h: h}, nil
}

// Lock takes the mutex (docs/layout.md, claim.2) on the handle's owner
// thread, which keeps it until Unlock. It waits up to claimWait ms for a
// liveness probe to give the mutex back, then fails with ErrLocked. The
// first Lock starts the owner thread, which lives until Close, so that a
// claim costs a wait and no thread creation.
func (l *RoleLock) Lock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == 0 {
		return fmt.Errorf("%s: %w", l.obj, os.ErrClosed)
	}
	if l.held {
		return ErrLocked // this handle holds it already
	}
	if l.req == nil {
		l.req, l.res, l.done = make(chan roleOp), make(chan error), make(chan struct{})
		go own(l.h, l.obj, l.req, l.res, l.done)
	}
	l.req <- opClaim
	if err := <-l.res; err != nil {
		return err
	}
	l.held = true
	return nil
}

// own is a RoleLock's owner thread: a goroutine locked to its OS thread,
// so that the mutex is taken and released on one thread. It serves
// requests until req is closed. If a release fails it returns with the
// thread still locked: the runtime then ends the thread, and the kernel
// abandons the mutex with it.
func own(h windows.Handle, obj string, req <-chan roleOp, res chan<- error, done chan<- struct{}) {
	defer close(done)
	runtime.LockOSThread()
	for op := range req {
		switch op {
		case opClaim:
			res <- claimOnThisThread(h, obj)
		case opRelease:
			if err := windows.ReleaseMutex(h); err != nil {
				res <- fmt.Errorf("ReleaseMutex %s: %w", obj, err)
				return
			}
			res <- nil
		}
	}
	runtime.UnlockOSThread()
}

// claimOnThisThread waits up to claimWait ms for the mutex h.
func claimOnThisThread(h windows.Handle, obj string) error {
	ev, err := windows.WaitForSingleObject(h, claimWait)
	switch {
	case err != nil:
		return fmt.Errorf("WaitForSingleObject %s: %w", obj, err)
	case ev == uint32(windows.WAIT_TIMEOUT):
		return ErrLocked
	case ev != windows.WAIT_OBJECT_0 && ev != windows.WAIT_ABANDONED:
		return fmt.Errorf("WaitForSingleObject %s: unexpected result %#x", obj, ev)
	}
	// WAIT_OBJECT_0, or WAIT_ABANDONED: the previous holder died holding it.
	return nil
}

// Unlock releases the mutex (close.4) and waits until the owner thread has
// done so. It does nothing if this handle does not hold it.
func (l *RoleLock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unlockLocked()
}

func (l *RoleLock) unlockLocked() error {
	if !l.held {
		return nil
	}
	l.held = false
	l.req <- opRelease
	return <-l.res
}

// Held reports whether some thread holds the mutex (live.2): a live
// holder, or this handle itself (the caller knows its own roles). A dead
// holder's mutex is abandoned and reads as free. It makes two system calls
// (one when held); callers ask at most every 50 ms, never per message. An
// error comes with held = true: a false "free" would hand a live role away.
func (l *RoleLock) Held() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == 0 {
		return true, fmt.Errorf("%s: %w", l.obj, os.ErrClosed)
	}
	if l.held {
		return true, nil
	}
	return probe(l.h, l.obj)
}

// probe reports whether a thread other than the caller's holds the mutex
// h: it waits on it with a zero timeout and, if that succeeds (free, or
// abandoned by a dead holder), releases it at once. The wait and the
// release run on one thread, locked for the purpose: the mutex is that
// thread's in between. That thread is never a RoleLock's owner thread (an
// owner goroutine is locked to its thread, so no other goroutine runs
// there), so a role this process holds reads as held, as another
// process's does, and the probe cannot end up owning it twice over. An
// error comes with held = true.
func probe(h windows.Handle, obj string) (bool, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ev, err := windows.WaitForSingleObject(h, 0)
	switch {
	case err != nil:
		return true, fmt.Errorf("WaitForSingleObject %s: %w", obj, err)
	case ev == uint32(windows.WAIT_TIMEOUT):
		return true, nil
	case ev != windows.WAIT_OBJECT_0 && ev != windows.WAIT_ABANDONED:
		return true, fmt.Errorf("WaitForSingleObject %s: unexpected result %#x", obj, ev)
	}
	// Free, or abandoned by a dead holder: ours now; give it back at once.
	if err := windows.ReleaseMutex(h); err != nil {
		// It cannot fail for the thread that has just taken the mutex;
		// if it did, the caller must treat the role as held anyway.
		return true, fmt.Errorf("ReleaseMutex %s: %w", obj, err)
	}
	return false, nil
}

// RoleHeld reports whether a live thread holds the role mutex of
// k.Segment, k.Global and k.Role (live.2, asked by a process that holds no
// handle of the role: shmchan ls, inspect and gc). It opens the mutex
// without creating it: if there is none, no process has a handle of the
// role open, so nobody holds it (false, nil). Otherwise it probes it as
// Held does (owning a free or abandoned mutex for two system calls, which
// a claim's claimWait absorbs) and closes its handle, so it never keeps
// the role nor leaves a kernel object behind. A mutex that a dead holder
// abandoned reads as free, and the probe, having taken it, leaves it
// merely free: the next claim gets WAIT_OBJECT_0, not WAIT_ABANDONED (the
// library does not rely on which; the token tells a takeover). An error
// comes with held = true.
func RoleHeld(k RoleKey) (bool, error) {
	obj := roleObject(k.Segment, k.Global, k.Role)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return true, fmt.Errorf("role mutex name %q: %w", obj, err)
	}
	h, err := windows.OpenMutex(windows.SYNCHRONIZE|windows.MUTEX_MODIFY_STATE, false, p)
	switch {
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return false, nil
	case errors.Is(err, windows.ERROR_INVALID_HANDLE):
		return true, fmt.Errorf("OpenMutex %s: the name belongs to another kind of kernel object: %w (%w)", obj, fs.ErrExist, err)
	case err != nil:
		return true, fmt.Errorf("OpenMutex %s: %w", obj, err)
	}
	held, err := probe(h, obj)
	if cerr := windows.CloseHandle(h); cerr != nil {
		err = errors.Join(err, fmt.Errorf("CloseHandle %s: %w", obj, cerr))
	}
	return held, err
}

// Close releases the mutex if this handle holds it, ends the owner thread
// and closes the handle. It is idempotent.
func (l *RoleLock) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.unlockLocked()
	if l.req != nil {
		close(l.req)
		<-l.done
		l.req = nil
	}
	if l.h == 0 {
		return err
	}
	h := l.h
	l.h = 0
	if cerr := windows.CloseHandle(h); cerr != nil {
		err = errors.Join(err, fmt.Errorf("CloseHandle %s: %w", l.obj, cerr))
	}
	return err
}
