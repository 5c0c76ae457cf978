package inspect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/internal/platform"
	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// These tests judge roles held by real processes, on every OS with
// segments: by the role's OFD lock on Linux and its named mutex on Windows
// (platform.RoleHeld), by token on macOS. On Windows a segment lives only
// while some process has it open, so the parent keeps the channel open
// throughout (it created it, and claims nothing but a receiver it closes at
// once), which also keeps the role mutexes alive: a killed holder's mutex is
// then abandoned, not gone.

func init() {
	testproc.Register("hold-sender", holdSender)
}

// holdSender: args NAME. Opens the channel NAME, claims its sender and says
// "ready" (or "busy" if the role is held); on the line "close" on stdin it
// closes the sender and the channel and says "closed"; it exits at the end
// of stdin, or is killed.
func holdSender(args []string) int {
	ch, err := shm.OpenChannel(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tx, err := ch.Sender()
	if errors.Is(err, shm.ErrBusy) {
		fmt.Println("busy")
		_ = ch.Close()
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "close" {
			if err := errors.Join(tx.Close(), ch.Close()); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Println("closed")
		}
	}
	return 0
}

// startSender starts hold-sender on name and waits for its first line,
// which must be want.
func startSender(t *testing.T, name, want string) *testproc.Child {
	t.Helper()
	return testproc.Start(t, testproc.Command(t, "hold-sender", name), want)
}

// newChannel creates the channel name in this process, removed when the
// test ends.
func newChannel(t *testing.T) (string, *shm.Channel) {
	t.Helper()
	name := testproc.Name(t, "insp")
	ch, err := shm.CreateChannel(name, 4096)
	if errors.Is(err, errors.ErrUnsupported) {
		testproc.MarkUsed("hold-sender")
		t.Skipf("no segments on %s: %v", platform.Implementation(), err)
	}
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	t.Cleanup(func() {
		if err := ch.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name, ch
}

// load reads name and returns its sender and receiver.
func load(t *testing.T, name string) (o *Object, tx, rx Role) {
	t.Helper()
	o, err := Load(name)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	if o.Err != nil || o.Kind != KindChannel || len(o.Roles) != 2 {
		t.Fatalf("Load(%q): kind %s, roles %v, problem %q", name, o.Kind, o.Roles, o.Problem)
	}
	return o, o.Roles[0], o.Roles[1]
}

// TestInspectRoleHolder judges the sender of a channel held by another
// process: alive while the holder lives (and gc keeps the object, and the
// probes take nothing away from it), dead after the holder is killed
// (TerminateProcess on Windows: its mutex abandoned), alive again when a
// new process takes it over, closed after that one closes it; gc then
// removes the object.
func TestInspectRoleHolder(t *testing.T) {
	name, ch := newChannel(t)
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	if err := rx.Close(); err != nil { // so that only the sender keeps the object
		t.Fatal(err)
	}

	first := startSender(t, name, "ready")
	for i := range 3 { // a probe gives the role back: the next one still sees it held
		o, tx, rxr := load(t, name)
		if tx.State != StateAlive || tx.PID != first.Cmd.Process.Pid || rxr.State != StateClosed {
			t.Fatalf("probe %d: sender %+v, receiver %+v; want sender alive (pid %d), receiver closed",
				i, tx, rxr, first.Cmd.Process.Pid)
		}
		if Garbage(o) {
			t.Fatalf("probe %d: Garbage with a live sender", i)
		}
	}
	if err = RemoveGarbage(name); !errors.Is(err, ErrLive) {
		t.Fatalf("RemoveGarbage with a live sender: %v, want ErrLive", err)
	}
	t.Logf("RemoveGarbage with a live sender: %v", err)
	if _, err := Load(name); err != nil {
		t.Fatalf("Load after the refused RemoveGarbage: %v", err)
	}
	// The probes and the refused gc took nothing: the role is still the
	// first holder's, for this process's claim and another process's.
	if _, err := ch.Sender(); !errors.Is(err, shm.ErrBusy) {
		t.Fatalf("Sender() here while the child holds it: %v, want ErrBusy", err)
	}
	startSender(t, name, "busy").Cmd.Wait()

	if err := first.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Cmd.Wait()
	killed := time.Now()
	for {
		o, tx, _ := load(t, name)
		if tx.State == StateDead {
			t.Logf("sender dead %v after the kill; token pid %d", time.Since(killed).Round(time.Microsecond), tx.PID)
			if tx.PID != first.Cmd.Process.Pid {
				t.Errorf("dead sender's pid %d, want %d", tx.PID, first.Cmd.Process.Pid)
			}
			if !Garbage(o) {
				t.Errorf("not Garbage with the sender dead and the receiver closed")
			}
			break
		}
		if tx.State != StateAlive || time.Since(killed) > 5*time.Second {
			t.Fatalf("sender %+v %v after the kill; want dead", tx, time.Since(killed))
		}
		time.Sleep(time.Millisecond)
	}

	second := startSender(t, name, "ready") // takes the dead one's role over
	if _, tx, _ := load(t, name); tx.State != StateAlive || tx.PID != second.Cmd.Process.Pid {
		t.Fatalf("after the takeover: sender %+v, want alive (pid %d)", tx, second.Cmd.Process.Pid)
	}
	if err := RemoveGarbage(name); !errors.Is(err, ErrLive) {
		t.Fatalf("RemoveGarbage with the new live sender: %v, want ErrLive", err)
	}
	if _, err := io.WriteString(second.Stdin, "close\n"); err != nil {
		t.Fatal(err)
	}
	second.Expect(t, "closed")
	o, tx, _ := load(t, name)
	if tx.State != StateClosed {
		t.Fatalf("after the sender's Close: sender %+v, want closed", tx)
	}
	second.Stdin.Close()
	if err := second.Cmd.Wait(); err != nil {
		t.Fatalf("hold-sender: %v", err)
	}
	if !Garbage(o) {
		t.Fatalf("not Garbage with both ends closed")
	}
	if err := RemoveGarbage(name); err != nil {
		t.Fatalf("RemoveGarbage with both ends closed: %v", err)
	}
	if _, err := Load(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load after RemoveGarbage: %v, want fs.ErrNotExist", err)
	}
}

// TestInspectRoleHeldInProcess: a role this process holds (on Windows, on
// the library's owner thread) reads as alive, like another process's, and
// the probes neither take it nor break it: the sender keeps sending, and a
// second handle's claim still gets ErrBusy.
func TestInspectRoleHeldInProcess(t *testing.T) {
	name, ch := newChannel(t)
	tx, err := ch.Sender()
	if err != nil {
		t.Fatal(err)
	}
	other, err := shm.OpenChannel(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i := range 3 {
		_, txr, rxr := load(t, name)
		if txr.State != StateAlive || txr.PID != os.Getpid() || rxr.State != StateNone {
			t.Fatalf("probe %d: sender %+v, receiver %+v; want sender alive (pid %d), receiver none", i, txr, rxr, os.Getpid())
		}
		if err := tx.Send([]byte("x")); err != nil {
			t.Fatalf("Send after probe %d: %v", i, err)
		}
		if _, err := other.Sender(); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("another handle's Sender() after probe %d: %v, want ErrBusy", i, err)
		}
	}
	if err := RemoveGarbage(name); !errors.Is(err, ErrLive) {
		t.Fatalf("RemoveGarbage with a live sender here: %v, want ErrLive", err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	if _, txr, _ := load(t, name); txr.State != StateClosed {
		t.Fatalf("after Close: sender %+v, want closed", txr)
	}
}

// TestInspectRoleLockDecides: where roles are held by kernel locks (Linux's
// OFD locks, Windows' named mutexes), a role is alive exactly while its lock
// is held, whatever its token says. A sender killed after its claim, with a
// live process's token (this one's) written over its owner field, is dead
// to Load and garbage to gc, which removes it.
func TestInspectRoleLockDecides(t *testing.T) {
	if !platform.RoleLocks {
		testproc.MarkUsed("hold-sender")
		t.Skipf("no role locks on %s: tokens decide", platform.Implementation())
	}
	name, ch := newChannel(t)
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	s := startSender(t, name, "ready")
	_ = s.Cmd.Process.Kill()
	_ = s.Cmd.Wait()
	seg, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	err = seg.StoreUint64(layout.ChanOffTxOwner, uint64(platform.Self()))
	if cerr := seg.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	killed := time.Now()
	for {
		_, tx, _ := load(t, name)
		if tx.State == StateDead {
			if tx.PID != os.Getpid() {
				t.Errorf("sender's token pid %d, want this process's %d", tx.PID, os.Getpid())
			}
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("sender %+v with its holder killed and a live token; want dead (the lock decides)", tx)
		}
		time.Sleep(time.Millisecond)
	}
	if err := RemoveGarbage(name); err != nil {
		t.Fatalf("RemoveGarbage: %v", err)
	}
	if _, err := Load(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load after RemoveGarbage: %v, want fs.ErrNotExist", err)
	}
}

// TestInspectRoleMailboxWriter: a mailbox's writer, held in this process
// after its first Publish, is alive (its own lock or mutex: "writer"), and
// closed after the writer's Close; a second handle keeps the object open
// (on Windows it would go with the last handle).
func TestInspectRoleMailboxWriter(t *testing.T) {
	name := testproc.Name(t, "inspmb")
	mb, err := shm.CreateMailbox(name, 64)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no segments on %s: %v", platform.Implementation(), err)
	}
	if err != nil {
		t.Fatalf("CreateMailbox(%q): %v", name, err)
	}
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	defer mb.Close()
	other, err := shm.OpenMailbox(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	writer := func() Role {
		t.Helper()
		o, err := Load(name)
		if err != nil || o.Kind != KindMailbox || len(o.Roles) != 1 {
			t.Fatalf("Load(%q) = %+v, %v; want a mailbox with one role", name, o, err)
		}
		return o.Roles[0]
	}
	if r := writer(); r.State != StateNone {
		t.Fatalf("writer before any Publish: %+v, want none", r)
	}
	if _, err := mb.Publish([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if r := writer(); r.State != StateAlive || r.PID != os.Getpid() {
		t.Fatalf("writer after Publish: %+v, want alive (pid %d)", r, os.Getpid())
	}
	if _, err := mb.Publish([]byte("two")); err != nil { // the probe took nothing
		t.Fatalf("Publish after the probe: %v", err)
	}
	if err := mb.Close(); err != nil {
		t.Fatal(err)
	}
	if r := writer(); r.State != StateClosed {
		t.Fatalf("writer after Close: %+v, want closed", r)
	}
}
