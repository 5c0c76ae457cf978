package platform

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"golang.org/x/sys/windows"
)

// Windows role locks (lock_windows.go): a named mutex owned by a thread kept
// for the purpose. These tests use real processes under the same wineserver
// (or Windows kernel): the child holds the mutex, the parent probes and
// contends, then kills the child with TerminateProcess.

func init() {
	testproc.Register("win-hold-role", winHoldRole)
}

// winHoldRole: args segment, role. Takes the role lock, prints "locked" and
// waits to be killed.
func winHoldRole(args []string) int {
	l, err := NewRoleLock(RoleKey{FD: -1, Segment: args[0], Role: args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := l.Lock(); err != nil {
		fmt.Fprintln(os.Stderr, "lock:", err)
		return 1
	}
	fmt.Println("locked")
	for {
		time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock and exit
	}
}

func TestRoleObjectNames(t *testing.T) {
	for _, tc := range []struct {
		seg    string
		global bool
		role   string
		want   string
	}{
		{"ch", false, "sender", `Local\shmchan.role:ch.sender`},
		{"ch", false, "receiver", `Local\shmchan.role:ch.receiver`},
		{"mb", true, "writer", `Global\shmchan.role:mb.writer`},
	} {
		if got := roleObject(tc.seg, tc.global, tc.role); got != tc.want {
			t.Errorf("roleObject(%q, %v, %q) = %q, want %q", tc.seg, tc.global, tc.role, got, tc.want)
		}
	}
}

func newTestLock(t *testing.T, seg, role string) *RoleLock {
	t.Helper()
	l, err := NewRoleLock(RoleKey{FD: -1, Segment: seg, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// TestRoleLockKilledHolder: a role held by a live process is held for a
// probe and ErrLocked for a claim, a probe does not take it away, and after
// TerminateProcess the lock is free and can be taken within 200 ms.
func TestRoleLockKilledHolder(t *testing.T) {
	seg := testproc.Name(t, "wl")
	c := testproc.Start(t, testproc.Command(t, "win-hold-role", seg, "sender"), "locked")
	c.Discard()
	cmd := c.Cmd

	l := newTestLock(t, seg, "sender")
	for i := 0; i < 3; i++ { // a probe gives the mutex back: the next one still sees it held
		if held, err := l.Held(); err != nil || !held {
			t.Fatalf("Held (probe %d) while the holder lives = %v, %v; want held", i, held, err)
		}
	}
	t0 := time.Now()
	if err := l.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock while the holder lives: %v, want ErrLocked", err)
	}
	t.Logf("a claim of a held role waits %v before ErrLocked (claimWait %d ms)", time.Since(t0).Round(time.Millisecond), claimWait)
	// Another role of the same segment is a different mutex.
	if held, err := newTestLock(t, seg, "receiver").Held(); err != nil || held {
		t.Fatalf("Held(receiver) = %v, %v; want free", held, err)
	}

	if err := cmd.Process.Kill(); err != nil { // TerminateProcess
		t.Fatal(err)
	}
	kill := time.Now()
	var free time.Duration
	for {
		held, err := l.Held()
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			free = time.Since(kill)
			break
		}
		if time.Since(kill) > 5*time.Second {
			t.Fatal("the mutex is still held 5 s after TerminateProcess")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Lock(); err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	taken := time.Since(kill)
	t.Logf("after TerminateProcess: free after %v, taken after %v", free, taken)
	if free > 200*time.Millisecond || taken > 200*time.Millisecond {
		t.Errorf("free after %v, taken after %v; want both within 200 ms", free, taken)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestRoleLockInProcess: two handles in one process exclude each other, as
// two processes do (each holder has its own thread), and Unlock and Close
// give the mutex back.
func TestRoleLockInProcess(t *testing.T) {
	seg := testproc.Name(t, "wl")
	a := newTestLock(t, seg, "writer")
	b := newTestLock(t, seg, "writer")
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second Lock on the holding handle: %v, want ErrLocked", err)
	}
	if err := b.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock on another handle: %v, want ErrLocked", err)
	}
	if held, err := b.Held(); err != nil || !held {
		t.Fatalf("b.Held = %v, %v; want held", held, err)
	}
	if held, err := a.Held(); err != nil || !held {
		t.Fatalf("a.Held (its own) = %v, %v; want held", held, err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Held(); err != nil || held {
		t.Fatalf("b.Held after a.Unlock = %v, %v; want free", held, err)
	}
	if err := b.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // releases, then closes
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := a.Lock(); err != nil {
		t.Fatalf("Lock after the holder's Close: %v", err)
	}
	if held, err := b.Held(); err == nil || !held {
		t.Fatalf("Held on a closed lock = %v, %v; want held and an error", held, err)
	}
}

// TestRoleLockProbeNeverRefusesAClaim: a claim that meets a peer's probe
// (which owns the free mutex for two system calls) waits for it instead of
// failing: at least 200 claims against a probing goroutine all succeed, and
// the claims go on (up to 20 s) until 20 probes have found the mutex free,
// so that probes and claims did overlap (under Wine one run's probing
// goroutine made a single probe during 200 claims).
func TestRoleLockProbeNeverRefusesAClaim(t *testing.T) {
	seg := testproc.Name(t, "wl")
	claimer := newTestLock(t, seg, "sender")
	prober := newTestLock(t, seg, "sender")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var probes, free atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			held, err := prober.Held()
			if err != nil {
				t.Error(err)
				return
			}
			probes.Add(1)
			if !held {
				free.Add(1)
			}
		}
	}()
	const n, wantFree = 200, 20
	deadline := time.Now().Add(20 * time.Second)
	claims := 0
	for ; claims < n || free.Load() < wantFree && time.Now().Before(deadline); claims++ {
		if err := claimer.Lock(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("claim %d against a probing peer: %v", claims, err)
		}
		if err := claimer.Unlock(); err != nil {
			t.Fatal(err)
		}
		if claims%16 == 15 {
			runtime.Gosched() // let the prober run where there is one CPU
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d claims, all taken, against %d probes (%d of which found the mutex free)", claims, probes.Load(), free.Load())
	if free.Load() == 0 {
		t.Errorf("no probe found the mutex free: the probes never overlapped a free mutex, the test showed nothing")
	}
}

// mutexExists reports whether the role's mutex exists (some handle of it is
// open somewhere).
func mutexExists(t *testing.T, seg, role string) bool {
	t.Helper()
	p, err := windows.UTF16PtrFromString(roleObject(seg, false, role))
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.OpenMutex(windows.SYNCHRONIZE, false, p)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	windows.CloseHandle(h)
	return true
}

// TestRoleHeldProbe: RoleHeld, the probe of a process that holds no handle
// of the role (shmchan ls, inspect, gc), reads a role whose mutex does not
// exist as free and creates nothing; reads a role held by another process,
// or by this process's own owner thread, as held, and takes nothing away
// (a claim still gets ErrLocked); reads the mutex that a holder killed by
// TerminateProcess abandoned as free; and reads a role whose every handle
// is gone (the killed holder's was the only one) as free, the mutex gone.
func TestRoleHeldProbe(t *testing.T) {
	seg := testproc.Name(t, "wp")
	key := func(role string) RoleKey { return RoleKey{FD: -1, Segment: seg, Role: role} }
	if held, err := RoleHeld(key("sender")); err != nil || held {
		t.Fatalf("RoleHeld with no mutex = %v, %v; want free", held, err)
	}
	if mutexExists(t, seg, "sender") {
		t.Fatal("RoleHeld created the mutex")
	}

	// Held by another process.
	holder := func(role string) *exec.Cmd {
		c := testproc.Start(t, testproc.Command(t, "win-hold-role", seg, role), "locked")
		c.Discard()
		return c.Cmd
	}
	cmd := holder("sender")
	l := newTestLock(t, seg, "sender") // keeps the mutex alive after the kill: abandoned, not gone
	for i := 0; i < 3; i++ {
		if held, err := RoleHeld(key("sender")); err != nil || !held {
			t.Fatalf("RoleHeld (probe %d) while another process holds it = %v, %v; want held", i, held, err)
		}
	}
	if err := l.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock after the probes, the holder alive: %v, want ErrLocked", err)
	}

	// Held by this process's own owner thread: still held, still ours.
	mine := newTestLock(t, seg, "receiver")
	if err := mine.Lock(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if held, err := RoleHeld(key("receiver")); err != nil || !held {
			t.Fatalf("RoleHeld (probe %d) of a role this process holds = %v, %v; want held", i, held, err)
		}
	}
	if err := newTestLock(t, seg, "receiver").Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("another handle's Lock after the probes: %v, want ErrLocked", err)
	}
	if err := mine.Unlock(); err != nil {
		t.Fatal(err)
	}
	if held, err := RoleHeld(key("receiver")); err != nil || held {
		t.Fatalf("RoleHeld after Unlock = %v, %v; want free", held, err)
	}

	// Killed: the mutex is abandoned, and reads as free.
	if err := cmd.Process.Kill(); err != nil { // TerminateProcess
		t.Fatal(err)
	}
	kill := time.Now()
	for {
		held, err := RoleHeld(key("sender"))
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			t.Logf("abandoned mutex free to RoleHeld %v after TerminateProcess", time.Since(kill).Round(time.Microsecond))
			break
		}
		if time.Since(kill) > 5*time.Second {
			t.Fatal("RoleHeld says held 5 s after TerminateProcess")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Lock(); err != nil {
		t.Fatalf("Lock after the probe of the abandoned mutex: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}

	// Killed, and its handle was the only one: the mutex is gone.
	cmd = holder("writer")
	if held, err := RoleHeld(key("writer")); err != nil || !held {
		t.Fatalf("RoleHeld(writer) while another process holds it = %v, %v; want held", held, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	kill = time.Now()
	for mutexExists(t, seg, "writer") {
		if time.Since(kill) > 5*time.Second {
			t.Fatal("the writer's mutex still exists 5 s after its only holder was killed")
		}
		time.Sleep(time.Millisecond)
	}
	if held, err := RoleHeld(key("writer")); err != nil || held {
		t.Fatalf("RoleHeld(writer) with the mutex gone = %v, %v; want free", held, err)
	}
}
