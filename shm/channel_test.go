package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm"
)

// In-process channel tests: two handles on one channel in this process, the
// sender on one and the receiver on the other, often in two goroutines. The
// cross-process tests are in channel_crossproc_test.go.

var waitStrategies = []shm.WaitStrategy{shm.Spin, shm.Block, shm.Adaptive}

// openChannel opens name as a second handle, closed when the test ends.
func openChannel(t testing.TB, name string, opts ...shm.Option) *shm.Channel {
	t.Helper()
	ch, err := shm.OpenChannel(name, opts...)
	if err != nil {
		t.Fatalf("OpenChannel(%q): %v", name, err)
	}
	t.Cleanup(func() {
		if err := ch.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ch
}

// chanEnds creates a channel and opens it again: the sender comes from the
// first handle, the receiver from the second.
func chanEnds(t testing.TB, capacity int64, opts ...shm.Option) (a, b *shm.Channel, tx *shm.Sender, rx *shm.Receiver) {
	t.Helper()
	a = newChannel(t, capacity, opts...)
	b = openChannel(t, a.Name(), opts...)
	tx, err := a.Sender()
	if err != nil {
		t.Fatalf("Sender: %v", err)
	}
	rx, err = b.Receiver()
	if err != nil {
		t.Fatalf("Receiver: %v", err)
	}
	return a, b, tx, rx
}

// wantErr fails the test unless err matches target.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want an error matching %v", what, err, target)
	}
}

// fill sends n-byte messages with TrySend until the ring is full and
// returns how many it sent.
func fill(t testing.TB, tx *shm.Sender, n int) int {
	t.Helper()
	for i := 0; ; i++ {
		switch err := tx.TrySend(pattern(n, byte(i))); {
		case err == shm.ErrFull:
			return i
		case err != nil:
			t.Fatalf("TrySend #%d: %v", i, err)
		}
	}
}

func TestChannelInvalidSize(t *testing.T) {
	for _, capacity := range []int64{0, -1, 1000, 512, 1<<10 + 8, 1 << 41, -1 << 20} {
		name := newName(t)
		ch, err := shm.CreateChannel(name, capacity)
		wantErr(t, fmt.Sprintf("CreateChannel(%d)", capacity), err, shm.ErrInvalidSize)
		ch2, _, err := shm.OpenOrCreateChannel(name, capacity)
		wantErr(t, fmt.Sprintf("OpenOrCreateChannel(%d)", capacity), err, shm.ErrInvalidSize)
		if ch != nil || ch2 != nil {
			t.Fatalf("capacity %d: got a channel with an error", capacity)
		}
		if exists(t, name) {
			t.Errorf("capacity %d: a refused channel left %s behind", capacity, name)
		}
	}
}

func TestChannelInvalidName(t *testing.T) {
	for _, name := range badNames {
		_, err := shm.CreateChannel(name, 1<<10)
		wantErr(t, fmt.Sprintf("CreateChannel(%q)", name), err, shm.ErrInvalidName)
		_, err = shm.OpenChannel(name)
		wantErr(t, fmt.Sprintf("OpenChannel(%q)", name), err, shm.ErrInvalidName)
		_, _, err = shm.OpenOrCreateChannel(name, 1<<10)
		wantErr(t, fmt.Sprintf("OpenOrCreateChannel(%q)", name), err, shm.ErrInvalidName)
	}
}

// TestChannelTooLarge checks that a message over MaxMessage gets
// ErrTooLarge from every sending call and that nothing is written.
func TestChannelTooLarge(t *testing.T) {
	a, _, tx, rx := chanEnds(t, 1<<10)
	if got, want := a.MaxMessage(), 1<<10/2-8; got != want {
		t.Fatalf("MaxMessage() = %d, want %d", got, want)
	}
	big := pattern(a.MaxMessage()+1, 1)
	free := tx.Free()
	ctx := context.Background()
	wantErr(t, "Send(MaxMessage+1)", tx.Send(big), shm.ErrTooLarge)
	wantErr(t, "SendContext(MaxMessage+1)", tx.SendContext(ctx, big), shm.ErrTooLarge)
	wantErr(t, "TrySend(MaxMessage+1)", tx.TrySend(big), shm.ErrTooLarge)
	for _, n := range []int{a.MaxMessage() + 1, 1 << 20, -1} {
		_, err := tx.Reserve(n)
		wantErr(t, fmt.Sprintf("Reserve(%d)", n), err, shm.ErrTooLarge)
		_, err = tx.TryReserve(n)
		wantErr(t, fmt.Sprintf("TryReserve(%d)", n), err, shm.ErrTooLarge)
	}
	if got := tx.Free(); got != free {
		t.Errorf("Free() = %d after refused messages, was %d", got, free)
	}
	if msg, err := rx.TryRecv(nil); err != shm.ErrEmpty {
		t.Fatalf("TryRecv after refused messages = %q, %v; want ErrEmpty", msg, err)
	}
	// On a full ring, a message too large is refused at once, not waited for.
	n := fill(t, tx, 100)
	done := make(chan error, 1)
	go func() { done <- tx.Send(big) }()
	select {
	case err := <-done:
		wantErr(t, "Send(MaxMessage+1) on a full ring", err, shm.ErrTooLarge)
	case <-time.After(5 * time.Second):
		t.Fatal("Send(MaxMessage+1) on a full ring blocked")
	}
	for range n {
		if _, err := rx.TryRecv(nil); err != nil {
			t.Fatal(err)
		}
	}
	// The largest message goes through, whole.
	max := pattern(a.MaxMessage(), 2)
	if err := tx.Send(max); err != nil {
		t.Fatalf("Send(MaxMessage): %v", err)
	}
	if got, err := rx.Recv(nil); err != nil || !bytes.Equal(got, max) {
		t.Fatalf("Recv of MaxMessage bytes = %d bytes, %v", len(got), err)
	}
}

func TestChannelNoReservation(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10)
	wantErr(t, "Commit without Reserve", tx.Commit(0), shm.ErrNoReservation)
	wantErr(t, "Release without Peek", rx.Release(), shm.ErrNoReservation)
	if _, err := tx.Reserve(8); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Commit(9) of 8 reserved", tx.Commit(9), shm.ErrTooLarge)
	if err := tx.Commit(8); err != nil {
		t.Fatalf("Commit(8) after a refused Commit(9): %v", err)
	}
	wantErr(t, "second Commit", tx.Commit(0), shm.ErrNoReservation)
	if _, err := rx.Peek(); err != nil {
		t.Fatal(err)
	}
	if err := rx.Release(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second Release", rx.Release(), shm.ErrNoReservation)
}

// TestChannelUseAfterClose checks every call on a closed Sender, Receiver
// and Channel.
func TestChannelUseAfterClose(t *testing.T) {
	ctx := context.Background()
	t.Run("sender", func(t *testing.T) {
		_, _, tx, _ := chanEnds(t, 1<<10)
		if _, err := tx.Reserve(4); err != nil {
			t.Fatal(err)
		}
		if err := tx.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantErr(t, "Send", tx.Send(nil), shm.ErrClosed)
		wantErr(t, "SendContext", tx.SendContext(ctx, nil), shm.ErrClosed)
		wantErr(t, "TrySend", tx.TrySend(nil), shm.ErrClosed)
		_, err := tx.Reserve(1)
		wantErr(t, "Reserve", err, shm.ErrClosed)
		_, err = tx.ReserveContext(ctx, 1)
		wantErr(t, "ReserveContext", err, shm.ErrClosed)
		_, err = tx.TryReserve(1)
		wantErr(t, "TryReserve", err, shm.ErrClosed)
		wantErr(t, "Commit of a reservation made before Close", tx.Commit(4), shm.ErrClosed)
		if err := tx.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("receiver", func(t *testing.T) {
		_, _, tx, rx := chanEnds(t, 1<<10)
		if err := tx.Send([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := rx.Peek(); err != nil {
			t.Fatal(err)
		}
		if err := rx.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := rx.Recv(nil)
		wantErr(t, "Recv", err, shm.ErrClosed)
		_, err = rx.RecvContext(ctx, nil)
		wantErr(t, "RecvContext", err, shm.ErrClosed)
		_, err = rx.TryRecv(nil)
		wantErr(t, "TryRecv", err, shm.ErrClosed)
		_, err = rx.Peek()
		wantErr(t, "Peek", err, shm.ErrClosed)
		_, err = rx.PeekContext(ctx)
		wantErr(t, "PeekContext", err, shm.ErrClosed)
		_, err = rx.TryPeek()
		wantErr(t, "TryPeek", err, shm.ErrClosed)
		wantErr(t, "Release of a message peeked before Close", rx.Release(), shm.ErrClosed)
		if err := rx.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("channel", func(t *testing.T) {
		a := newChannel(t, 1<<10)
		tx, err := a.Sender()
		if err != nil {
			t.Fatal(err)
		}
		rx, err := a.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err = a.Sender()
		wantErr(t, "Sender after Close", err, shm.ErrClosed)
		_, err = a.Receiver()
		wantErr(t, "Receiver after Close", err, shm.ErrClosed)
		wantErr(t, "Send on a closed channel's sender", tx.Send(nil), shm.ErrClosed)
		_, err = tx.TryReserve(0)
		wantErr(t, "TryReserve on a closed channel's sender", err, shm.ErrClosed)
		_, err = rx.TryRecv(nil)
		wantErr(t, "TryRecv on a closed channel's receiver", err, shm.ErrClosed)
		_, err = rx.Recv(nil)
		wantErr(t, "Recv on a closed channel's receiver", err, shm.ErrClosed)
		for what, err := range map[string]error{"Channel": a.Close(), "Sender": tx.Close(), "Receiver": rx.Close()} {
			if err != nil {
				t.Errorf("%s.Close after Channel.Close: %v", what, err)
			}
		}
	})
}

// TestChannelRoles checks that each role is held once across handles.
func TestChannelRoles(t *testing.T) {
	a := newChannel(t, 1<<10)
	b := openChannel(t, a.Name())
	tx, err := a.Sender()
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Sender()
	wantErr(t, "second Sender on the same handle", err, shm.ErrBusy)
	_, err = b.Sender()
	wantErr(t, "second Sender on another handle", err, shm.ErrBusy)
	rx, err := b.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Receiver()
	wantErr(t, "second Receiver on the same handle", err, shm.ErrBusy)
	_, err = a.Receiver()
	wantErr(t, "second Receiver on another handle", err, shm.ErrBusy)

	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = b.Sender()
	wantErr(t, "Sender on another handle after Sender.Close", err, shm.ErrClosed)
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = a.Receiver()
	wantErr(t, "Receiver on another handle after Receiver.Close", err, shm.ErrClosed)
}

// TestChannelClaimAfterCloseSameHandle checks that a role closed on a
// handle cannot be claimed again from that handle either: Channel.Sender
// documents ErrClosed "once a sender has closed the channel".
func TestChannelClaimAfterCloseSameHandle(t *testing.T) {
	a := newChannel(t, 1<<10)
	tx, err := a.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := a.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = a.Sender()
	wantErr(t, "Sender on the same handle after Sender.Close", err, shm.ErrClosed)
	_, err = a.Receiver()
	wantErr(t, "Receiver on the same handle after Receiver.Close", err, shm.ErrClosed)
}

// TestChannelSenderCloseDrains checks that the receiver reads what was sent
// before Close, then gets io.EOF from every receiving call, and keeps
// getting it.
func TestChannelSenderCloseDrains(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10)
	for i := range 5 {
		if err := tx.Send(pattern(10*i, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		var got []byte
		var err error
		switch i % 3 {
		case 0:
			got, err = rx.Recv(nil)
		case 1:
			got, err = rx.TryRecv(nil)
		case 2:
			if got, err = rx.Peek(); err == nil {
				got = bytes.Clone(got)
				err = rx.Release()
			}
		}
		if err != nil || !bytes.Equal(got, pattern(10*i, byte(i))) {
			t.Fatalf("message %d after the sender closed = %d bytes, %v", i, len(got), err)
		}
	}
	ctx := context.Background()
	for range 2 {
		_, err := rx.Recv(nil)
		wantErr(t, "Recv after the drain", err, io.EOF)
		_, err = rx.RecvContext(ctx, nil)
		wantErr(t, "RecvContext after the drain", err, io.EOF)
		_, err = rx.TryRecv(nil)
		wantErr(t, "TryRecv after the drain", err, io.EOF)
		_, err = rx.Peek()
		wantErr(t, "Peek after the drain", err, io.EOF)
		_, err = rx.TryPeek()
		wantErr(t, "TryPeek after the drain", err, io.EOF)
	}
}

// TestChannelReceiverClose checks that once the receiver closes, the sender
// gets ErrClosed from every sending call.
func TestChannelReceiverClose(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10)
	if err := tx.Send([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	err := tx.Send([]byte("after"))
	if !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Send after the receiver closed = %v, want ErrClosed", err)
	}
	wantErr(t, "TrySend after the receiver closed", tx.TrySend(nil), shm.ErrClosed)
	_, err = tx.Reserve(1)
	wantErr(t, "Reserve after the receiver closed", err, shm.ErrClosed)
	_, err = tx.TryReserve(1)
	wantErr(t, "TryReserve after the receiver closed", err, shm.ErrClosed)
}

// result is what a blocked call returned, and when.
type result struct {
	err error
	at  time.Time
}

// blocked runs f in a goroutine and checks that it is still blocked after
// 100 ms (long enough for every strategy to park).
func blocked(t *testing.T, f func() error) <-chan result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		err := f()
		done <- result{err, time.Now()}
	}()
	select {
	case r := <-done:
		t.Fatalf("returned %v at once, want it blocked", r.err)
	case <-time.After(100 * time.Millisecond):
	}
	return done
}

// returns waits up to limit after since for a blocked call to return.
func returns(t *testing.T, done <-chan result, since time.Time, limit time.Duration) error {
	t.Helper()
	select {
	case r := <-done:
		if d := r.at.Sub(since); d > limit {
			t.Errorf("returned %v after %v, want within %v", r.err, d, limit)
		}
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("still blocked 10 s later")
		return nil
	}
}

// TestChannelCloseWakes checks, in each wait strategy, that closing one end
// releases a call blocked on the other: a Send on a full ring returns
// ErrClosed when the receiver closes, and a Recv on an empty ring returns
// io.EOF when the sender closes.
func TestChannelCloseWakes(t *testing.T) {
	for _, w := range waitStrategies {
		t.Run("wait="+w.String()+"/send", func(t *testing.T) {
			_, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(w))
			fill(t, tx, 100)
			done := blocked(t, func() error { return tx.Send(pattern(100, 9)) })
			now := time.Now()
			if err := rx.Close(); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "Send blocked on a full ring when the receiver closed", returns(t, done, now, time.Second), shm.ErrClosed)
		})
		t.Run("wait="+w.String()+"/recv", func(t *testing.T) {
			_, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(w))
			done := blocked(t, func() error { _, err := rx.Recv(nil); return err })
			now := time.Now()
			if err := tx.Close(); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "Recv blocked on an empty ring when the sender closed", returns(t, done, now, time.Second), io.EOF)
		})
	}
}

// TestChannelDeadline checks, in each wait strategy, that a blocked call
// with a deadline returns an error matching both os.ErrDeadlineExceeded and
// context.DeadlineExceeded, and consumes or sends nothing.
func TestChannelDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	check := func(t *testing.T, what string, start time.Time, err error) {
		t.Helper()
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s = %v, want os.ErrDeadlineExceeded and context.DeadlineExceeded", what, err)
		}
		if d := time.Since(start); d < timeout || d > timeout+time.Second {
			t.Errorf("%s returned after %v with a %v deadline", what, d, timeout)
		}
	}
	for _, w := range waitStrategies {
		t.Run("wait="+w.String(), func(t *testing.T) {
			_, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(w))

			// The clock starts before the context's, so that a preemption
			// between the two cannot make the call look early.
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			dst := []byte("dst")
			got, err := rx.RecvContext(ctx, dst)
			check(t, "RecvContext on an empty channel", start, err)
			if !bytes.Equal(got, dst) {
				t.Errorf("RecvContext changed dst to %q", got)
			}

			n := fill(t, tx, 100)
			start = time.Now()
			ctx, cancel = context.WithTimeout(context.Background(), timeout)
			defer cancel()
			check(t, "SendContext on a full channel", start, tx.SendContext(ctx, pattern(100, 200)))
			// Exactly the messages that fitted arrive, then nothing.
			for i := range n {
				if got, err := rx.TryRecv(nil); err != nil || !bytes.Equal(got, pattern(100, byte(i))) {
					t.Fatalf("message %d: %d bytes, %v", i, len(got), err)
				}
			}
			if _, err := rx.TryRecv(nil); err != shm.ErrEmpty {
				t.Fatalf("TryRecv after the sent messages = %v, want ErrEmpty", err)
			}
		})
	}
}

// TestChannelCancelWakes checks that cancelling the context of a call
// parked in Block mode wakes it promptly, not at its next timed wakeup.
func TestChannelCancelWakes(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(shm.Block))
	ctx, cancel := context.WithCancel(context.Background())
	done := blocked(t, func() error { _, err := rx.RecvContext(ctx, nil); return err })
	now := time.Now()
	cancel()
	wantErr(t, "RecvContext when cancelled", returns(t, done, now, time.Second), context.Canceled)

	fill(t, tx, 100)
	ctx, cancel = context.WithCancel(context.Background())
	done = blocked(t, func() error { return tx.SendContext(ctx, pattern(100, 1)) })
	now = time.Now()
	cancel()
	wantErr(t, "SendContext when cancelled", returns(t, done, now, time.Second), context.Canceled)
}

// TestOpenChannelChecks opens segments that are not usable channels.
func TestOpenChannelChecks(t *testing.T) {
	quick := shm.WithOpenTimeout(100 * time.Millisecond)
	t.Run("not a channel", func(t *testing.T) {
		s := create(t, 8192)
		if _, err := s.WriteAt([]byte("hello, this is not a channel"), 0); err != nil {
			t.Fatal(err)
		}
		_, err := shm.OpenChannel(s.Name(), quick)
		wantErr(t, "OpenChannel of a plain segment", err, shm.ErrNotChannel)
		_, _, err = shm.OpenOrCreateChannel(s.Name(), 1<<10, quick)
		wantErr(t, "OpenOrCreateChannel of a plain segment", err, shm.ErrNotChannel)
	})
	t.Run("too small", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("a Windows opener maps whole pages: no segment is smaller than a channel header")
		}
		s := create(t, 100)
		_, err := shm.OpenChannel(s.Name(), quick)
		wantErr(t, "OpenChannel of a 100-byte segment", err, shm.ErrNotChannel)
	})
	t.Run("mailbox", func(t *testing.T) {
		name := newName(t)
		m, err := shm.CreateMailbox(name, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		_, err = shm.OpenChannel(name, quick)
		wantErr(t, "OpenChannel of a mailbox", err, shm.ErrNotChannel)
	})
	// A channel whose header is patched after creation.
	patched := func(t *testing.T, off int64, v uint32) string {
		a := newChannel(t, 1<<10)
		s := open(t, a.Name())
		if err := s.StoreUint32(off, v); err != nil {
			t.Fatal(err)
		}
		return a.Name()
	}
	for _, tc := range []struct {
		name string
		off  int64
		v    uint32
		want error
	}{
		{"version 1", layout.ChanOffVersion, 1, shm.ErrVersionMismatch}, // a v1 peer judges roles by token
		{"version 3", layout.ChanOffVersion, 3, shm.ErrVersionMismatch},
		{"version max", layout.ChanOffVersion, 0xFFFFFFFF, shm.ErrVersionMismatch},
		{"header size", layout.ChanOffHeaderSize, 8192, shm.ErrVersionMismatch},
		{"incompatible flag", layout.ChanOffFlags, 1, shm.ErrVersionMismatch},
		{"capacity not a power of two", layout.ChanOffCapacity, 1000, shm.ErrCorrupt},
		{"capacity beyond the segment", layout.ChanOffCapacity, 1 << 20, shm.ErrCorrupt},
		{"max message", layout.ChanOffMaxMessage, 1000, shm.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := patched(t, tc.off, tc.v)
			_, err := shm.OpenChannel(name, quick)
			wantErr(t, "OpenChannel", err, tc.want)
			_, _, err = shm.OpenOrCreateChannel(name, 1<<10, quick)
			wantErr(t, "OpenOrCreateChannel", err, tc.want)
		})
	}
	// A compatible flag (bits 16-31) is ignored.
	t.Run("compatible flag", func(t *testing.T) {
		name := patched(t, layout.ChanOffFlags, 1<<16)
		ch, err := shm.OpenChannel(name, quick)
		if err != nil {
			t.Fatalf("OpenChannel with a compatible flag: %v", err)
		}
		ch.Close()
	})
	// The creator died after writing the header but before storing the
	// version: openers wait for the open timeout, then give up.
	t.Run("not ready", func(t *testing.T) {
		s := create(t, shm.ChannelSize(1<<10))
		for _, f := range []struct {
			off int64
			v   uint64
		}{{layout.ChanOffCapacity, 1 << 10}, {layout.ChanOffDataOffset, 4096}, {layout.ChanOffMaxMessage, 1<<9 - 8}} {
			if err := s.WriteUint64(f.off, f.v); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.WriteUint32(layout.ChanOffMagic, layout.ChanMagic); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteUint32(layout.ChanOffHeaderSize, 4096); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := shm.OpenChannel(s.Name(), quick)
		wantErr(t, "OpenChannel of a channel without a version", err, shm.ErrNotReady)
		if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
			t.Errorf("OpenChannel gave up after %v with a 100ms open timeout", d)
		}
		_, _, err = shm.OpenOrCreateChannel(s.Name(), 1<<10, quick)
		wantErr(t, "OpenOrCreateChannel of a channel without a version", err, shm.ErrNotReady)
	})
	t.Run("all zero", func(t *testing.T) {
		s := create(t, shm.ChannelSize(1<<10))
		_, err := shm.OpenChannel(s.Name(), quick)
		wantErr(t, "OpenChannel of a zero-filled segment", err, shm.ErrNotReady)
	})
}

func TestOpenOrCreateChannel(t *testing.T) {
	name := newName(t)
	a, created, err := shm.OpenOrCreateChannel(name, 1<<12)
	if err != nil || !created {
		t.Fatalf("first OpenOrCreateChannel = created %v, %v; want created", created, err)
	}
	defer a.Close()
	b, created, err := shm.OpenOrCreateChannel(name, 1<<12)
	if err != nil || created {
		t.Fatalf("second OpenOrCreateChannel = created %v, %v; want opened", created, err)
	}
	defer b.Close()
	if a.Capacity() != 1<<12 || b.Capacity() != 1<<12 {
		t.Fatalf("capacities %d and %d, want %d", a.Capacity(), b.Capacity(), 1<<12)
	}
	_, _, err = shm.OpenOrCreateChannel(name, 1<<13)
	wantErr(t, "OpenOrCreateChannel with another capacity", err, shm.ErrIncompatible)

	tx, err := b.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := a.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send([]byte("across handles")); err != nil {
		t.Fatal(err)
	}
	if got, err := rx.Recv(nil); err != nil || string(got) != "across handles" {
		t.Fatalf("Recv = %q, %v", got, err)
	}
}

// TestChannelZeroCopy round-trips messages through Reserve/Commit and
// Peek/Release, including a commit of less than was reserved and a
// reservation abandoned by the next.
func TestChannelZeroCopy(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10)
	for round := range 20 { // enough to wrap the ring
		buf, err := tx.Reserve(100)
		if err != nil || len(buf) != 100 {
			t.Fatalf("Reserve(100) = %d bytes, %v", len(buf), err)
		}
		copy(buf, pattern(100, byte(round)))
		m := round * 5 % 101
		if err := tx.Commit(m); err != nil {
			t.Fatalf("Commit(%d): %v", m, err)
		}
		msg, err := rx.Peek()
		if err != nil || !bytes.Equal(msg, pattern(100, byte(round))[:m]) {
			t.Fatalf("round %d: Peek = %d bytes, %v; want the first %d reserved bytes", round, len(msg), err, m)
		}
		again, err := rx.TryPeek()
		if err != nil || len(again) != len(msg) || (m > 0 && &again[0] != &msg[0]) {
			t.Fatalf("round %d: a second TryPeek returned another message (%d bytes, %v)", round, len(again), err)
		}
		if err := rx.Release(); err != nil {
			t.Fatal(err)
		}
		if _, err := rx.TryPeek(); err != shm.ErrEmpty {
			t.Fatalf("round %d: TryPeek after Release = %v, want ErrEmpty", round, err)
		}
	}

	// A reservation abandoned by the next one is never delivered.
	if _, err := tx.Reserve(10); err != nil {
		t.Fatal(err)
	}
	buf, err := tx.Reserve(20)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "twenty bytes, really")
	if err := tx.Commit(20); err != nil {
		t.Fatal(err)
	}
	// An empty message.
	if _, err := tx.TryReserve(0); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(0); err != nil {
		t.Fatal(err)
	}
	if got, err := rx.TryRecv(nil); err != nil || string(got) != "twenty bytes, really" {
		t.Fatalf("after an abandoned reservation: TryRecv = %q, %v", got, err)
	}
	if got, err := rx.TryRecv([]byte("dst")); err != nil || string(got) != "dst" {
		t.Fatalf("empty message: TryRecv = %q, %v; want dst unchanged", got, err)
	}
	if got, err := rx.TryRecv(nil); err != shm.ErrEmpty {
		t.Fatalf("TryRecv = %q, %v; want ErrEmpty", got, err)
	}
}

// allocCase is one run of a wantNoAllocs table: f does the calls and
// returns what went wrong.
type allocCase struct {
	name string
	f    func() error
}

// wantNoAllocs runs each case's f 1000 times under testing.AllocsPerRun and
// fails the test if f returns an error or any run allocates.
func wantNoAllocs(t *testing.T, cases []allocCase) {
	t.Helper()
	for _, tc := range cases {
		var err error
		allocs := testing.AllocsPerRun(1000, func() {
			if e := tc.f(); e != nil && err == nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, allocs)
		}
	}
}

// TestChannelAllocs checks that the data path allocates nothing: each run
// sends one message and receives one, in one goroutine.
func TestChannelAllocs(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<12)
	msg := pattern(64, 1)
	dst := make([]byte, 0, 256)
	ctx := context.Background()
	wantNoAllocs(t, []allocCase{
		{"Send/Recv", func() error {
			if err := tx.Send(msg); err != nil {
				return err
			}
			_, err := rx.Recv(dst[:0])
			return err
		}},
		{"SendContext/RecvContext", func() error {
			if err := tx.SendContext(ctx, msg); err != nil {
				return err
			}
			_, err := rx.RecvContext(ctx, dst[:0])
			return err
		}},
		{"TrySend/TryRecv", func() error {
			if err := tx.TrySend(msg); err != nil {
				return err
			}
			_, err := rx.TryRecv(dst[:0])
			return err
		}},
		{"Reserve/Commit/Peek/Release", func() error {
			buf, err := tx.Reserve(64)
			if err != nil {
				return err
			}
			copy(buf, msg)
			if err := tx.Commit(64); err != nil {
				return err
			}
			if _, err := rx.Peek(); err != nil {
				return err
			}
			return rx.Release()
		}},
		{"TryReserve/Commit/TryPeek/Release", func() error {
			buf, err := tx.TryReserve(64)
			if err != nil {
				return err
			}
			copy(buf, msg)
			if err := tx.Commit(64); err != nil {
				return err
			}
			if _, err := rx.TryPeek(); err != nil {
				return err
			}
			return rx.Release()
		}},
		{"TryRecv/ErrEmpty", func() error {
			if _, err := rx.TryRecv(dst[:0]); err != shm.ErrEmpty {
				return fmt.Errorf("TryRecv = %v, want ErrEmpty", err)
			}
			return nil
		}},
	})

	fill(t, tx, 64)
	var err error
	allocs := testing.AllocsPerRun(1000, func() {
		if e := tx.TrySend(msg); e != shm.ErrFull && err == nil {
			err = fmt.Errorf("TrySend on a full ring = %v, want ErrFull", e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("TrySend/ErrFull: %v allocations per run, want 0", allocs)
	}
}

// streamCount is how many messages a test streaming between two goroutines
// in wait strategy w sends: 20 000, or 5 000 under -short or the race
// detector, and 200 when both ends spin with one P.
func streamCount(w shm.WaitStrategy) int {
	if w == shm.Spin && runtime.GOMAXPROCS(0) == 1 {
		// Both ends spin in one process: with one P, each handoff
		// waits for the runtime to preempt the spinner (~ms).
		return 200
	}
	if testing.Short() || raceEnabled {
		return 5_000
	}
	return 20_000
}

// TestChannelStream streams messages of many sizes between two goroutines
// through a small ring in each wait strategy; every message arrives whole
// and in order. Run it with -race.
func TestChannelStream(t *testing.T) {
	for _, w := range waitStrategies {
		t.Run("wait="+w.String(), func(t *testing.T) {
			count := streamCount(w)
			a, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(w))
			max := a.MaxMessage()
			size := func(i int) int { return i * 7919 % (max + 1) }
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range count {
					var err error
					if i%2 == 0 {
						err = tx.Send(pattern(size(i), byte(i)))
					} else {
						var buf []byte
						if buf, err = tx.Reserve(size(i)); err == nil {
							copy(buf, pattern(size(i), byte(i)))
							err = tx.Commit(size(i))
						}
					}
					if err != nil {
						t.Errorf("send %d: %v", i, err)
						break
					}
				}
				if err := tx.Close(); err != nil {
					t.Errorf("Sender.Close: %v", err)
				}
			}()
			defer func() {
				rx.Close() // unblocks the sender if the receiver failed
				wg.Wait()
			}()
			var got []byte
			for i := 0; ; i++ {
				var err error
				if i%2 == 0 {
					got, err = rx.Recv(got[:0])
				} else {
					var msg []byte
					if msg, err = rx.Peek(); err == nil {
						got = append(got[:0], msg...)
						err = rx.Release()
					}
				}
				if err == io.EOF {
					if i != count {
						t.Fatalf("io.EOF after %d of %d messages", i, count)
					}
					return
				}
				if err != nil {
					t.Fatalf("receive %d: %v", i, err)
				}
				if want := pattern(size(i), byte(i)); !bytes.Equal(got, want) {
					t.Fatalf("message %d: %d bytes, want %d (or corrupt)", i, len(got), len(want))
				}
			}
		})
	}
}

// TestChannelCancelThenClose cancels the context of a parked RecvContext
// just as a message arrives, and closes the channel the moment the call
// returns: the cancel wakeup must not run after the call returned, when it
// would touch the unmapped header (and crash the test binary). The window is
// narrow: this is a smoke test, which does not reliably catch a regression
// (removing cancelWake's guard passed 5 runs of it).
func TestChannelCancelThenClose(t *testing.T) {
	for i := range 50 {
		a := newChannel(t, 1<<10, shm.WithWait(shm.Block))
		b, err := shm.OpenChannel(a.Name(), shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := a.Sender()
		if err != nil {
			t.Fatal(err)
		}
		rx, err := b.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		seg := open(t, a.Name())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := rx.RecvContext(ctx, nil)
			done <- errors.Join(err, b.Close()) // unmapped right after the call
		}()
		for start := time.Now(); ; {
			if v, _ := seg.LoadUint32(layout.ChanOffRxParked); v == 1 {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("round %d: the receiver never parked", i)
			}
			time.Sleep(100 * time.Microsecond)
		}
		go cancel()
		// The cancel and the send race: if the cancel wins, the receiver
		// returns and closes its end first, and the send finds it closed.
		if err := tx.Send([]byte("wake")); err != nil && !errors.Is(err, shm.ErrClosed) {
			t.Fatal(err)
		}
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: RecvContext: %v", i, err)
		}
		cancel()
		time.Sleep(100 * time.Microsecond) // a late wakeup would fault here
	}
}

// TestOpenChannelWrongMagicFailsFast opens a segment whose magic is set but
// wrong and whose version is 0. docs/layout.md checks the magic (step 2)
// before waiting for the version (step 3): the opener knows at once that
// this is no channel, and must not wait for the open timeout.
func TestOpenChannelWrongMagicFailsFast(t *testing.T) {
	s := create(t, shm.ChannelSize(1<<10))
	if err := s.WriteUint32(layout.ChanOffMagic, 0x424D4853); err != nil { // "SHMB", a mailbox's
		t.Fatal(err)
	}
	start := time.Now()
	_, err := shm.OpenChannel(s.Name(), shm.WithOpenTimeout(2*time.Second))
	wantErr(t, "OpenChannel of a segment with another magic", err, shm.ErrNotChannel)
	if d := time.Since(start); d > time.Second {
		t.Errorf("OpenChannel took %v to refuse a wrong magic; want no wait for the version", d)
	}
}
