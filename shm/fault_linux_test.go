package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// A peer that truncates the object under our mapping must cost us an error
// matching ErrCorrupt, never the process (issue 11). The truncation is made
// by a real peer process: the "truncate" child.

func init() {
	testproc.Register("truncate", truncatePeer)
}

// truncatePeer: args name. Truncates the object /dev/shm/name to 0 bytes,
// as a hostile or buggy peer would (the object is the same file for the cgo
// and pure-Go builds, and for C).
func truncatePeer(args []string) int {
	if err := os.Truncate("/dev/shm/"+args[0], 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// truncateByPeer runs the truncate child on name and waits for it.
func truncateByPeer(t *testing.T, name string) {
	t.Helper()
	if out, err := testproc.Command(t, "truncate", name).Output(); err != nil {
		t.Fatalf("truncate child: %v: %s", err, out)
	}
}

// skipUnderEmulator skips a fault test where the test binary runs under a
// user-mode emulator (testproc.EmulatorEnv, .ci/arm64.sh): qemu-user
// delivers the SIGBUS of a truncated mapping with si_addr 0, which the Go
// runtime reports as a nil dereference (no Addr), and the guard rightly
// refuses to call that a fault on the mapping. On a real arm64 kernel the
// address is the faulting one. docs/platforms.md records the limitation.
func skipUnderEmulator(t *testing.T) {
	t.Helper()
	if emu := os.Getenv(testproc.EmulatorEnv); emu != "" {
		testproc.MarkUsed("truncate")
		t.Skipf("under %s: qemu-user reports the SIGBUS of a truncated mapping at address 0, which the runtime calls a nil dereference", emu)
	}
}

// during runs call in a goroutine, lets it block, has the peer truncate the
// object, and returns call's error (failing the test after 5 s).
func during(t *testing.T, name string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		t.Fatalf("returned before the truncation: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	truncateByPeer(t, name)
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("still blocked 5 s after the truncation")
		return nil
	}
}

func wantCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("%s after the peer truncated the object = %v, want an error matching ErrCorrupt", what, err)
	}
}

// truncEnds makes a channel and its two ends on two handles. At the end of
// the test the handles must close without crashing: Close reports the fault
// of its closed-flag store (ErrCorrupt), or nil.
func truncEnds(t *testing.T, w shm.WaitStrategy) (*shm.Channel, *shm.Sender, *shm.Receiver) {
	t.Helper()
	name := newName(t)
	a, err := shm.CreateChannel(name, 1<<12, shm.WithWait(w))
	if err != nil {
		t.Fatal(err)
	}
	b, err := shm.OpenChannel(name, shm.WithWait(w))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range []*shm.Channel{a, b} {
			if err := c.Close(); err != nil && !errors.Is(err, shm.ErrCorrupt) {
				t.Errorf("Close of a truncated channel: %v", err)
			}
		}
	})
	tx, err := a.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := b.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	return a, tx, rx
}

// TestTruncatedChannel: Recv, Peek and Send blocked on a channel whose
// object a peer truncates return ErrCorrupt; so does every later call on
// the ends, and the handles still close.
func TestTruncatedChannel(t *testing.T) {
	skipUnderEmulator(t)
	for _, w := range []shm.WaitStrategy{shm.Block, shm.Adaptive} {
		t.Run(w.String(), func(t *testing.T) {
			t.Run("Recv", func(t *testing.T) {
				a, tx, rx := truncEnds(t, w)
				wantCorrupt(t, "Recv", during(t, a.Name(), func() error { _, err := rx.Recv(nil); return err }))
				wantCorrupt(t, "TryRecv", func() error { _, err := rx.TryRecv(nil); return err }())
				wantCorrupt(t, "TrySend", tx.TrySend([]byte("x")))
				if n := tx.Free(); n != 0 && n > 1<<12 {
					t.Errorf("Free = %d", n)
				}
			})
			t.Run("Peek", func(t *testing.T) {
				a, _, rx := truncEnds(t, w)
				wantCorrupt(t, "Peek", during(t, a.Name(), func() error { _, err := rx.Peek(); return err }))
				wantCorrupt(t, "TryPeek", func() error { _, err := rx.TryPeek(); return err }())
			})
			t.Run("Send", func(t *testing.T) {
				a, tx, rx := truncEnds(t, w)
				msg := make([]byte, 100)
				for tx.TrySend(msg) == nil { // fill the ring: the next Send blocks
				}
				wantCorrupt(t, "Send", during(t, a.Name(), func() error { return tx.Send(msg) }))
				wantCorrupt(t, "Reserve", func() error { _, err := tx.Reserve(8); return err }())
				wantCorrupt(t, "Recv", func() error { _, err := rx.Recv(nil); return err }())
			})
		})
	}
}

// TestTruncatedMailbox: WaitNewer blocked and Latest, Version and Publish on
// a truncated mailbox return ErrCorrupt; Close still works.
func TestTruncatedMailbox(t *testing.T) {
	skipUnderEmulator(t)
	name := newName(t)
	w, err := shm.CreateMailbox(name, 64, shm.WithWait(shm.Block))
	if err != nil {
		t.Fatal(err)
	}
	r, err := shm.OpenMailbox(name, shm.WithWait(shm.Block))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, m := range []*shm.Mailbox{w, r} {
			if err := m.Close(); err != nil {
				t.Errorf("Close of a truncated mailbox: %v", err)
			}
		}
	}()
	if _, err := w.Publish([]byte("one")); err != nil {
		t.Fatal(err)
	}
	err = during(t, w.Name(), func() error {
		_, _, err := r.WaitNewer(context.Background(), 1, nil)
		return err
	})
	wantCorrupt(t, "WaitNewer", err)
	_, _, err = r.Latest(make([]byte, 64))
	wantCorrupt(t, "Latest", err)
	_, err = r.Version()
	wantCorrupt(t, "Version", err)
	_, err = w.Publish([]byte("two"))
	wantCorrupt(t, "Publish", err)
}

// TestTruncatedSegment: a Stream read, the views and the typed and atomic
// accessors of a truncated segment return ErrCorrupt.
func TestTruncatedSegment(t *testing.T) {
	skipUnderEmulator(t)
	s := create(t, 1<<16)
	if _, err := s.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	st := s.NewStream()
	truncateByPeer(t, s.Name())
	_, err := io.ReadAll(st)
	wantCorrupt(t, "Stream read", err)
	_, err = s.ReadAt(make([]byte, 5), 0)
	wantCorrupt(t, "ReadAt", err)
	_, err = s.WriteAt([]byte("x"), 100)
	wantCorrupt(t, "WriteAt", err)
	_, err = s.ReadUint64(8)
	wantCorrupt(t, "ReadUint64", err)
	_, err = s.LoadUint32(0)
	wantCorrupt(t, "LoadUint32", err)
	_, err = s.CompareAndSwapUint64(8, 0, 1)
	wantCorrupt(t, "CompareAndSwapUint64", err)
}

// TestTruncatedOpen: opening a channel whose object was truncated and
// regrown to a size whose pages are gone is an error, not a crash; the
// opener reads the header page under the guard.
func TestTruncatedOpen(t *testing.T) {
	skipUnderEmulator(t)
	ch := newChannel(t, 1<<12)
	truncateByPeer(t, ch.Name())
	_, err := shm.OpenChannel(ch.Name(), shm.WithOpenTimeout(50*time.Millisecond))
	if err == nil {
		t.Fatalf("OpenChannel of a truncated channel succeeded")
	}
	t.Logf("OpenChannel of a truncated object: %v", err)
}
