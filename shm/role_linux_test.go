package shm_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Roles held by role locks (docs/layout.md, layout version 2), shown with
// real processes in real namespaces: a holder in another PID namespace, or
// under another uid with /proc hidden, keeps its role; its SIGKILL frees the
// role and is reported as ErrPeerGone within 200 ms.

func init() {
	testproc.Register("ns-hold-sender", nsHoldSender)
	testproc.Register("ns-contend", nsContend)
	testproc.Register("squat", squat)
	testproc.Register("open-squatted", openSquatted)
}

// nsHoldSender: args name. Claims the sender, sends "hello", says "ready"
// and waits to be killed.
func nsHoldSender(args []string) int {
	ch, err := shm.OpenChannel(args[0], shm.AllowOwner(0))
	if err != nil {
		return childFail("OpenChannel: %v", err)
	}
	tx, err := ch.Sender()
	if err != nil {
		return childFail("Sender: %v", err)
	}
	if err := tx.Send([]byte("hello")); err != nil {
		return childFail("Send: %v", err)
	}
	fmt.Printf("ready %d\n", os.Getpid())
	for {
		time.Sleep(time.Hour)
	}
}

// nsContend: args name. Tries the sender role (must be busy), takes the
// receiver role, receives "hello", says "waiting", then blocks in Recv until
// the sender is gone and takes the sender role; it prints the wall-clock
// times (Unix ns) of both.
func nsContend(args []string) int {
	ch, err := shm.OpenChannel(args[0], shm.AllowOwner(0), shm.WithWait(shm.Block))
	if err != nil {
		return childFail("OpenChannel: %v", err)
	}
	defer ch.Close()
	if _, err := ch.Sender(); !errors.Is(err, shm.ErrBusy) {
		return childFail("Sender while the holder lives: %v, want ErrBusy", err)
	}
	fmt.Println("busy")
	rx, err := ch.Receiver()
	if err != nil {
		return childFail("Receiver: %v", err)
	}
	if msg, err := rx.Recv(nil); err != nil || string(msg) != "hello" {
		return childFail("Recv = %q, %v", msg, err)
	}
	fmt.Println("waiting")
	if _, err := rx.Recv(nil); !errors.Is(err, shm.ErrPeerGone) {
		return childFail("Recv after the holder's death: %v, want ErrPeerGone", err)
	}
	gone := time.Now().UnixNano()
	for {
		_, err := ch.Sender()
		if err == nil {
			break
		}
		if !errors.Is(err, shm.ErrBusy) {
			return childFail("Sender after the holder's death: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("gone %d taken %d\n", gone, time.Now().UnixNano())
	return 0
}

// lines starts cmd and returns a reader of its standard output.
func lines(t *testing.T, cmd *exec.Cmd) *bufio.Reader {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return bufio.NewReader(out)
}

// expect reads a line from r and checks that it starts with want.
func expect(t *testing.T, cmd *exec.Cmd, r *bufio.Reader, want string) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		go io.Copy(io.Discard, r)
		if werr := cmd.Wait(); testproc.Refused(werr) {
			t.Skip("the kernel refused the namespace or the hidepid=2 mount")
		}
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if !strings.HasPrefix(line, want) {
		t.Fatalf("child said %q, want %q", line, want)
	}
	return strings.TrimSpace(line)
}

// rolePassesOn runs the holder and the contender (wrapped by the caller)
// on a fresh channel and checks the times after the holder's SIGKILL.
func rolePassesOn(t *testing.T, holder, contender func(name string) *exec.Cmd) {
	name := newName(t)
	ch, err := shm.CreateChannel(name, 1<<12, shm.WithMode(0o666))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	h := holder(name)
	hr := lines(t, h)
	if got := expect(t, h, hr, "ready"); got != "ready 1" {
		t.Fatalf("holder says %q: want PID 1 of its own namespace", got)
	}
	c := contender(name)
	cr := lines(t, c)
	expect(t, c, cr, "busy")
	expect(t, c, cr, "waiting")
	// The contender's claim from outside failed; so does ours, here.
	if _, err := ch.Sender(); !errors.Is(err, shm.ErrBusy) {
		t.Fatalf("Sender in the test process while the holder lives: %v, want ErrBusy", err)
	}
	time.Sleep(20 * time.Millisecond) // let the contender park in Recv
	kill := time.Now()
	if err := syscall.Kill(testproc.Innermost(t, h.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(expect(t, c, cr, "gone"))
	goneAt, _ := strconv.ParseInt(f[1], 10, 64)
	takenAt, _ := strconv.ParseInt(f[3], 10, 64)
	gone, taken := time.Unix(0, goneAt).Sub(kill), time.Unix(0, takenAt).Sub(kill)
	t.Logf("after the holder's SIGKILL: ErrPeerGone after %v, the sender role taken after %v", gone, taken)
	if gone > 200*time.Millisecond || taken > 200*time.Millisecond {
		t.Errorf("ErrPeerGone after %v and the role taken after %v; want both within 200 ms", gone, taken)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("contender: %v", err)
	}
}

// TestRolePIDNamespace: a sender inside unshare --pid --fork --mount-proc
// keeps its role against a process outside (layout version 1 judged it
// dead by its PID and let the second sender in).
func TestRolePIDNamespace(t *testing.T) {
	testproc.NeedRoot(t, "unshare")
	rolePassesOn(t, func(name string) *exec.Cmd {
		cmd := testproc.Command(t, "ns-hold-sender", name)
		testproc.InPIDNamespace(t, cmd)
		return cmd
	}, func(name string) *exec.Cmd {
		return testproc.Command(t, "ns-contend", name)
	})
}

// TestRoleHiddenProcOtherUsers: the holder runs as uid 65534 in its own PID
// namespace; the contender runs as uid 65533 in a mount namespace where
// /proc is mounted hidepid=2, so that it can see neither the holder's /proc
// entry nor its PID.
func TestRoleHiddenProcOtherUsers(t *testing.T) {
	testproc.NeedRoot(t, "unshare", "setpriv", "mount")
	bin := testproc.CopyForOthers(t)
	rolePassesOn(t, func(name string) *exec.Cmd {
		cmd := testproc.CommandPath(t, bin, "ns-hold-sender", name)
		testproc.AsUser(t, cmd, "65534")
		testproc.InPIDNamespace(t, cmd)
		return cmd
	}, func(name string) *exec.Cmd {
		cmd := testproc.CommandPath(t, bin, "ns-contend", name)
		testproc.AsUser(t, cmd, "65533")
		testproc.WithHiddenProc(t, cmd)
		return cmd
	})
}

// squat: args name. Creates a channel with mode 0666, as a squatter would,
// and leaves it behind.
func squat(args []string) int {
	ch, err := shm.CreateChannel(args[0], 1<<12, shm.WithMode(0o666))
	if err != nil {
		return childFail("CreateChannel: %v", err)
	}
	return exitCode(ch.Close())
}

func exitCode(err error) int {
	if err != nil {
		return childFail("%v", err)
	}
	return 0
}

// openSquatted: args name, owner. Every opener refuses the object with
// fs.ErrPermission naming the owner; AllowOwner(owner) opens it.
func openSquatted(args []string) int {
	name, owner := args[0], args[1]
	uid, _ := strconv.Atoi(owner)
	if _, err := shm.OpenChannel(name); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "uid "+owner) {
		return childFail("OpenChannel of a squatted name: %v, want fs.ErrPermission naming uid %s", err, owner)
	}
	if _, created, err := shm.OpenOrCreateChannel(name, 1<<12); !errors.Is(err, fs.ErrPermission) || created {
		return childFail("OpenOrCreateChannel of a squatted name: created %v, %v, want fs.ErrPermission", created, err)
	}
	if _, err := shm.OpenMailbox(name); !errors.Is(err, fs.ErrPermission) {
		return childFail("OpenMailbox of a squatted name: %v, want fs.ErrPermission", err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrPermission) {
		return childFail("Open of a squatted name: %v, want fs.ErrPermission", err)
	}
	ch, err := shm.OpenChannel(name, shm.AllowOwner(uid))
	if err != nil {
		return childFail("OpenChannel with AllowOwner(%d): %v", uid, err)
	}
	return exitCode(ch.Close())
}

// TestSquatting: an object created by uid 65534 with mode 0666 is refused
// for uid 65533 with fs.ErrPermission, and opens with AllowOwner(65534).
func TestSquatting(t *testing.T) {
	testproc.NeedRoot(t, "setpriv")
	bin := testproc.CopyForOthers(t)
	name := newName(t)
	run := func(uid, role string, args ...string) {
		t.Helper()
		cmd := testproc.CommandPath(t, bin, role, args...)
		testproc.AsUser(t, cmd, uid)
		if out, err := cmd.Output(); err != nil {
			t.Fatalf("%s as uid %s: %v %s", role, uid, err, out)
		}
	}
	run("65534", "squat", name)
	run("65533", "open-squatted", name, "65534")
	// Root is checked like anyone else.
	if _, err := shm.OpenChannel(name); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("OpenChannel as root of uid 65534's object: %v, want fs.ErrPermission", err)
	}
}

// TestClaimRacingClose: a claim racing the holder's close, many times, never
// claims the closed end (the claim re-checks closed after taking the role).
func TestClaimRacingClose(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		a := newChannel(t, 1<<10)
		b := openChannel(t, a.Name())
		tx, err := a.Sender()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			for {
				if _, err := b.Sender(); !errors.Is(err, shm.ErrBusy) {
					done <- err
					return
				}
			}
		}()
		if err := tx.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, shm.ErrClosed) {
			t.Fatalf("trial %d: a claim racing the close got %v, want ErrClosed", i, err)
		}
		a.Close()
		b.Close()
	}
}
