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
// Lock starts a goroutine locked to its OS thread (runtime.LockOSThread)
// that takes the mutex, then blocks until Unlock, releases the mutex on the
// same thread, and only then unlocks the thread. The kernel abandons a
// mutex whose owning thread ends, which includes every thread of a process
// that dies; the next wait on it succeeds with WAIT_ABANDONED. That is the
// role lock's guarantee: a holder's death frees the role.
//
// Held asks without a query call (the documented Win32 API has none for a
// mutex's owner): it waits on the mutex with a zero timeout, on a locked
// thread, and if that succeeds (free, or abandoned by a dead holder)
// releases it at once. For that instant the probe owns the mutex, so a
// claim that arrives then would see it held: Lock therefore waits up to
// claimWait for the mutex before it says ErrLocked. A claim of a role a live
// process holds costs that wait.
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
	stop chan struct{}  // non-nil while held: closing it makes the owning thread release
	done chan error     // the owning thread's release result
}

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

// Lock takes the mutex (docs/layout.md, claim.2) on a thread of its own,
// which keeps it until Unlock. It waits up to claimWait ms for a liveness
// probe to give the mutex back, then fails with ErrLocked.
func (l *RoleLock) Lock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == 0 {
		return fmt.Errorf("%s: %w", l.obj, os.ErrClosed)
	}
	if l.stop != nil {
		return ErrLocked // this handle holds it already
	}
	got := make(chan error, 1)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go own(l.h, l.obj, got, stop, done)
	if err := <-got; err != nil {
		return err
	}
	l.stop, l.done = stop, done
	return nil
}

// own takes the mutex h on a locked OS thread and reports the result on
// got; if it took it, it holds it until stop is closed, releases it on the
// same thread and reports that on done.
func own(h windows.Handle, obj string, got chan<- error, stop <-chan struct{}, done chan<- error) {
	runtime.LockOSThread()
	ev, err := windows.WaitForSingleObject(h, claimWait)
	switch {
	case err != nil:
		runtime.UnlockOSThread()
		got <- fmt.Errorf("WaitForSingleObject %s: %w", obj, err)
		return
	case ev == uint32(windows.WAIT_TIMEOUT):
		runtime.UnlockOSThread()
		got <- ErrLocked
		return
	case ev != windows.WAIT_OBJECT_0 && ev != windows.WAIT_ABANDONED:
		runtime.UnlockOSThread()
		got <- fmt.Errorf("WaitForSingleObject %s: unexpected result %#x", obj, ev)
		return
	}
	// WAIT_OBJECT_0, or WAIT_ABANDONED: the previous holder died holding it.
	got <- nil
	<-stop
	if err := windows.ReleaseMutex(h); err != nil {
		// The thread stays locked: the runtime ends it when this goroutine
		// returns, and the kernel abandons the mutex with it.
		done <- fmt.Errorf("ReleaseMutex %s: %w", obj, err)
		return
	}
	runtime.UnlockOSThread()
	done <- nil
}

// Unlock releases the mutex (close.4) and waits until its thread has done
// so. It does nothing if this handle does not hold it.
func (l *RoleLock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unlockLocked()
}

func (l *RoleLock) unlockLocked() error {
	if l.stop == nil {
		return nil
	}
	close(l.stop)
	err := <-l.done
	l.stop, l.done = nil, nil
	return err
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
	if l.stop != nil {
		return true, nil
	}
	// The wait and the release must run on one thread: the mutex is that
	// thread's in between.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ev, err := windows.WaitForSingleObject(l.h, 0)
	switch {
	case err != nil:
		return true, fmt.Errorf("WaitForSingleObject %s: %w", l.obj, err)
	case ev == uint32(windows.WAIT_TIMEOUT):
		return true, nil
	case ev != windows.WAIT_OBJECT_0 && ev != windows.WAIT_ABANDONED:
		return true, fmt.Errorf("WaitForSingleObject %s: unexpected result %#x", l.obj, ev)
	}
	// Free, or abandoned by a dead holder: ours now; give it back at once.
	if err := windows.ReleaseMutex(l.h); err != nil {
		return false, fmt.Errorf("ReleaseMutex %s: %w", l.obj, err)
	}
	return false, nil
}

// Close releases the mutex if this handle holds it and closes the handle.
// It is idempotent.
func (l *RoleLock) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.unlockLocked()
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
