package shm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm"
)

// TestChannelStats counts messages, bytes, a wait, a park, a wake and a
// takeover, each on its own end's line.
func TestChannelStats(t *testing.T) {
	name := newName(t)
	ch, err := shm.CreateChannel(name, 4096, shm.WithWait(shm.Block))
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	t.Cleanup(func() { ch.Close() })
	// A sender that died holding the role: the next claim is a takeover.
	seg := open(t, name)
	dead := uint64(0x7FFFFFFE) // a PID above pid_max: no such process
	if err := seg.StoreUint64(layout.ChanOffTxOwner, dead); err != nil {
		t.Fatal(err)
	}
	tx, err := ch.Sender()
	if err != nil {
		t.Fatalf("Sender after a dead one: %v", err)
	}
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 10, 100} {
		if err := tx.Send(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if _, err := rx.Recv(nil); err != nil {
			t.Fatal(err)
		}
	}
	// The receiver blocks (Block parks at once) until a send wakes it.
	got := make(chan error, 1)
	go func() { _, err := rx.Recv(nil); got <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := tx.Send([]byte("wake")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	st, err := ch.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := shm.ChannelStats{
		Sender:   shm.Stats{Messages: 4, Bytes: 115, Wakes: 1, Takeovers: 1},
		Receiver: shm.Stats{Messages: 4, Bytes: 115, Waits: 1, Parks: st.Receiver.Parks},
	}
	if st.Receiver.Parks < 1 {
		t.Errorf("receiver parks %d, want at least 1", st.Receiver.Parks)
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	// Another handle, in any process, reads the same lines.
	other, err := shm.OpenChannel(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if st2, err := other.Stats(); err != nil || st2 != st {
		t.Errorf("Stats through another handle = %+v, %v; want %+v", st2, err, st)
	}
	ch.Close()
	if _, err := ch.Stats(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Stats after Close = %v, want ErrClosed", err)
	}
}

// TestStatsWithoutFlag opens a channel whose creator kept no counters (flag
// bit 16 clear, as an older creator leaves it): Stats says so, and the ends
// leave the reserved bytes alone.
func TestStatsWithoutFlag(t *testing.T) {
	name := newName(t)
	ch, err := shm.CreateChannel(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// Open the segment before the channel closes: on Windows an object
	// lives only as long as some handle to it.
	seg := open(t, name)
	ch.Close()
	if err := seg.StoreUint32(layout.ChanOffFlags, 0); err != nil {
		t.Fatal(err)
	}
	ch, err = shm.OpenChannel(name)
	if err != nil {
		t.Fatalf("OpenChannel without the flag: %v", err)
	}
	defer ch.Close()
	tx, _ := ch.Sender()
	rx, _ := ch.Receiver()
	if err := tx.Send([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := rx.Recv(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Stats(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Stats = %v, want ErrUnsupported", err)
	}
	for off := int64(layout.ChanOffTxStats); off < layout.ChanHeaderSize; off += 8 {
		if v, _ := seg.LoadUint64(off); v != 0 {
			t.Fatalf("reserved u64 at %#x = %d, want 0", off, v)
		}
	}
}

// TestMailboxStats counts the writer's values, bytes and wakes.
func TestMailboxStats(t *testing.T) {
	name := newName(t)
	mb, err := shm.CreateMailbox(name, 64, shm.WithWait(shm.Block))
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	got := make(chan error, 1)
	go func() { _, _, err := mb.WaitNewer(context.Background(), 0, nil); got <- err }()
	time.Sleep(20 * time.Millisecond)
	if _, err := mb.Publish([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Publish([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	st, err := mb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (shm.Stats{Messages: 2, Bytes: 7, Wakes: 1}); st.Writer != want {
		t.Errorf("Stats = %+v, want %+v", st.Writer, want)
	}
}

// TestStatsNoAllocs: counting keeps the message path free of allocations.
func TestStatsNoAllocs(t *testing.T) {
	name := newName(t)
	ch, err := shm.CreateChannel(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	tx, _ := ch.Sender()
	rx, _ := ch.Receiver()
	msg, buf := make([]byte, 64), make([]byte, 0, 64)
	if n := testing.AllocsPerRun(1000, func() {
		_ = tx.TrySend(msg)
		buf, _ = rx.TryRecv(buf[:0])
	}); n != 0 {
		t.Errorf("TrySend+TryRecv with counters: %v allocations, want 0", n)
	}
}
