package platform

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"golang.org/x/sys/unix"
)

// The two role ranges the tests use: a channel's sender and receiver.
const (
	txLock = 0x088
	rxLock = 0x108
)

func init() {
	testproc.Register("hold-lock", holdLock)
	testproc.Register("probe-lock", probeLock)
}

// holdLock: args path, start. Takes the lock, prints "locked PID", and waits
// to be killed.
func holdLock(args []string) int {
	fd, err := unix.Open(args[0], unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start, _ := strconv.ParseInt(args[1], 0, 64)
	if err := lockRange(fd, start); err != nil {
		fmt.Fprintln(os.Stderr, "lock:", err)
		return 1
	}
	fmt.Printf("locked %d\n", os.Getpid())
	for {
		time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock and exit
	}
}

// probeLock: args path, start. Prints "held" or "free" as rangeHeld sees the
// lock from a new open file description, and checks that lockRange agrees.
func probeLock(args []string) int {
	fd, err := unix.Open(args[0], unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start, _ := strconv.ParseInt(args[1], 0, 64)
	held, err := rangeHeld(fd, start)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lerr := lockRange(fd, start)
	if held != errors.Is(lerr, ErrLocked) || (!held && lerr != nil) {
		fmt.Fprintf(os.Stderr, "rangeHeld says %v but lockRange says %v\n", held, lerr)
		return 1
	}
	if held {
		fmt.Println("held")
	} else {
		fmt.Println("free")
	}
	return 0
}

// lockObject creates a fresh 0666 object in /dev/shm for a test, removed at the end.
func lockObject(t *testing.T) string {
	t.Helper()
	path := "/dev/shm/" + testproc.Name(t, "lk")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
	if err := f.Chmod(0o666); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// startHolder starts cmd (a hold-lock child, possibly wrapped) and waits for
// its "locked" line; it returns the PID the child saw for itself.
func startHolder(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		go io.Copy(io.Discard, out)
		if werr := cmd.Wait(); testproc.Refused(werr) {
			t.Skip("the kernel refused the namespace or mount")
		}
		t.Fatalf("holder did not lock: %v", err)
	}
	go io.Copy(io.Discard, out)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "locked ")))
	if err != nil {
		t.Fatalf("holder said %q", line)
	}
	return pid
}

// openFD opens path read-write for the test's own probes.
func openFD(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// killAndRetake SIGKILLs the holder and returns how long it took until the
// lock could be taken from fd. It fails the test after 200 ms.
func killAndRetake(t *testing.T, cmd *exec.Cmd, fd int) time.Duration {
	t.Helper()
	if err := syscall.Kill(testproc.Innermost(t, cmd.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for {
		err := lockRange(fd, txLock)
		if err == nil {
			return time.Since(t0)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatal(err)
		}
		if time.Since(t0) > 200*time.Millisecond {
			t.Fatalf("lock still held 200 ms after SIGKILL of the holder")
		}
		time.Sleep(time.Millisecond)
	}
}

// checkHeld checks, from a new description in this process, that the sender
// lock is held and the receiver lock is free.
func checkHeld(t *testing.T, fd int) {
	t.Helper()
	if held, err := rangeHeld(fd, txLock); err != nil || !held {
		t.Fatalf("rangeHeld(tx) = %v, %v; want held", held, err)
	}
	if err := lockRange(fd, txLock); !errors.Is(err, ErrLocked) {
		t.Fatalf("lockRange(tx) = %v; want ErrLocked", err)
	}
	if held, err := rangeHeld(fd, rxLock); err != nil || held {
		t.Fatalf("rangeHeld(rx) = %v, %v; want free", held, err)
	}
}

// TestRoleLockTwoProcesses: a lock held by another process is seen held and
// cannot be taken; it is free within 200 ms of the holder's SIGKILL.
func TestRoleLockTwoProcesses(t *testing.T) {
	path := lockObject(t)
	cmd := testproc.Command(t, "hold-lock", path, strconv.Itoa(txLock))
	startHolder(t, cmd)
	fd := openFD(t, path)
	checkHeld(t, fd)
	d := killAndRetake(t, cmd, fd)
	t.Logf("lock taken %v after SIGKILL", d)
	// Our own description does not conflict with itself: rangeHeld says free.
	if held, err := rangeHeld(fd, txLock); err != nil || held {
		t.Fatalf("rangeHeld through the holder's own descriptor = %v, %v; want free", held, err)
	}
	if err := unlockRange(fd, txLock); err != nil {
		t.Fatal(err)
	}
}

// TestRoleLockPIDNamespace: a holder inside unshare --pid --fork --mount-proc
// (PID 1 there, a PID that means something else outside) is seen holding the
// lock from outside, and releases it when killed.
func TestRoleLockPIDNamespace(t *testing.T) {
	testproc.NeedRoot(t, "unshare")
	path := lockObject(t)
	cmd := testproc.Command(t, "hold-lock", path, strconv.Itoa(txLock))
	testproc.InPIDNamespace(t, cmd)
	if pid := startHolder(t, cmd); pid != 1 {
		t.Fatalf("holder is PID %d in its namespace, want 1", pid)
	}
	fd := openFD(t, path)
	checkHeld(t, fd)
	t.Logf("lock taken %v after SIGKILL", killAndRetake(t, cmd, fd))
}

// TestRoleLockHiddenProcOtherUsers: the holder runs as uid 65534 in its own
// PID namespace; the prober runs as uid 65533 with /proc mounted hidepid=2
// in a mount namespace, where it can see neither the holder's /proc entry nor
// its PID. The lock is seen held all the same, and free after the kill.
func TestRoleLockHiddenProcOtherUsers(t *testing.T) {
	testproc.MarkUsed("probe-lock")
	testproc.NeedRoot(t, "unshare", "setpriv", "mount")
	bin := testproc.CopyForOthers(t)
	path := lockObject(t)
	holder := testproc.CommandPath(t, bin, "hold-lock", path, strconv.Itoa(txLock))
	testproc.AsUser(t, holder, "65534") // inside the namespace: unshare itself needs root
	testproc.InPIDNamespace(t, holder)
	startHolder(t, holder)
	probe := func() string {
		cmd := testproc.CommandPath(t, bin, "probe-lock", path, strconv.Itoa(txLock))
		testproc.AsUser(t, cmd, "65533")
		testproc.WithHiddenProc(t, cmd)
		out, err := cmd.Output()
		if testproc.Refused(err) {
			t.Skip("the kernel refused the hidepid=2 proc mount")
		}
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := probe(); got != "held" {
		t.Fatalf("probe as uid 65533 under hidepid=2 says %q, want held", got)
	}
	fd := openFD(t, path)
	t.Logf("lock taken %v after SIGKILL", killAndRetake(t, holder, fd))
	if err := unlockRange(fd, txLock); err != nil {
		t.Fatal(err)
	}
	if got := probe(); got != "free" {
		t.Fatalf("probe after the kill says %q, want free", got)
	}
}
