package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Roles held by role locks on Windows (docs/layout.md, "Role locks": a named
// mutex per role): a role held by a live process is ErrBusy whatever its
// token says; after TerminateProcess the peer's wait reports ErrPeerGone and
// the role can be taken, each within 200 ms.

func init() {
	testproc.Register("win-hold-role", winHoldRole)
}

// winHoldRole: args name, role. Takes the role (the sender sends "hello",
// the writer publishes "v1"), says "ready" and waits to be killed.
func winHoldRole(args []string) int {
	name, which := args[0], args[1]
	var err error
	if which == "writer" {
		var mb *shm.Mailbox
		if mb, err = shm.OpenMailbox(name); err == nil {
			_, err = mb.Publish([]byte("v1"))
		}
	} else {
		var ch *shm.Channel
		if ch, err = shm.OpenChannel(name); err == nil {
			if which == "sender" {
				var tx *shm.Sender
				if tx, err = ch.Sender(); err == nil {
					err = tx.Send([]byte("hello"))
				}
			} else {
				_, err = ch.Receiver()
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

// startRoleHolder starts a win-hold-role child and waits for "ready".
func startRoleHolder(t *testing.T, name, which string) func() {
	t.Helper()
	c := testproc.Start(t, testproc.Command(t, "win-hold-role", name, which), "ready")
	c.Discard()
	cmd := c.Cmd
	return func() {
		if err := cmd.Process.Kill(); err != nil { // TerminateProcess
			t.Fatal(err)
		}
	}
}

// retake claims with claim until it succeeds and returns how long that took
// from since; it fails the test on any error but ErrBusy, or after 5 s.
func retake(t *testing.T, since time.Time, claim func() error) time.Duration {
	t.Helper()
	for {
		err := claim()
		if err == nil {
			return time.Since(since)
		}
		if !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("claim after the holder died: %v", err)
		}
		if time.Since(since) > 5*time.Second {
			t.Fatalf("the role is still busy 5 s after the holder died")
		}
		time.Sleep(time.Millisecond)
	}
}

func checkTimes(t *testing.T, which string, gone, taken time.Duration) {
	t.Helper()
	t.Logf("%s killed: ErrPeerGone after %v, the role taken after %v", which, gone, taken)
	if gone > 200*time.Millisecond || taken > 200*time.Millisecond {
		t.Errorf("ErrPeerGone after %v and the role taken after %v; want both within 200 ms", gone, taken)
	}
}

// TestRoleWindowsKilledHolder runs each role: the holder is another
// process; this one contends, waits on the holder as its peer, kills it.
func TestRoleWindowsKilledHolder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("sender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1<<12, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		kill := startRoleHolder(t, name, "sender")
		if _, err := ch.Sender(); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Sender while the holder lives: %v, want ErrBusy", err)
		}
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		if msg, err := rx.RecvContext(ctx, nil); err != nil || string(msg) != "hello" {
			t.Fatalf("Recv = %q, %v", msg, err)
		}
		done := make(chan time.Time, 1)
		go func() {
			_, err := rx.RecvContext(ctx, nil)
			if !errors.Is(err, shm.ErrPeerGone) {
				t.Errorf("Recv after the sender was killed: %v, want ErrPeerGone", err)
			}
			done <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond) // let the receiver park
		kill()
		t0 := time.Now()
		gone := (<-done).Sub(t0)
		taken := retake(t, t0, func() error { _, err := ch.Sender(); return err })
		checkTimes(t, "sender", gone, taken)
	})
	t.Run("receiver", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1<<12, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		kill := startRoleHolder(t, name, "receiver")
		if _, err := ch.Receiver(); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Receiver while the holder lives: %v, want ErrBusy", err)
		}
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		for tx.TrySend(make([]byte, 100)) == nil { // fill the ring: the next Send parks
		}
		done := make(chan time.Time, 1)
		go func() {
			err := tx.SendContext(ctx, make([]byte, 100))
			if !errors.Is(err, shm.ErrPeerGone) {
				t.Errorf("Send after the receiver was killed: %v, want ErrPeerGone", err)
			}
			done <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond)
		kill()
		t0 := time.Now()
		gone := (<-done).Sub(t0)
		taken := retake(t, t0, func() error { _, err := ch.Receiver(); return err })
		checkTimes(t, "receiver", gone, taken)
	})
	t.Run("writer", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 64, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		kill := startRoleHolder(t, name, "writer")
		if _, err := mb.Publish([]byte("x")); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Publish while the writer lives: %v, want ErrBusy", err)
		}
		done := make(chan time.Time, 1)
		go func() {
			_, _, err := mb.WaitNewer(ctx, 1, nil)
			if !errors.Is(err, shm.ErrPeerGone) {
				t.Errorf("WaitNewer after the writer was killed: %v, want ErrPeerGone", err)
			}
			done <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond)
		kill()
		t0 := time.Now()
		gone := (<-done).Sub(t0)
		taken := retake(t, t0, func() error { _, err := mb.Publish([]byte("v2")); return err })
		checkTimes(t, "writer", gone, taken)
	})
}
