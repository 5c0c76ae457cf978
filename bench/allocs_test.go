//go:build unix

package bench

import (
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// TestAllocsPerMessage checks that no channel API allocates per message,
// with both ends in this process so that every allocation is counted. The
// benchmarks report the same across processes (allocs/op, rx-allocs/op),
// where a wait longer than the liveness tick may add the allocations of a
// liveness check.
func TestAllocsPerMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	name := testproc.Name(t, "bench")
	ch, err := shm.CreateChannel(name, 1<<16, shm.RemoveOnClose())
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	t.Cleanup(func() { ch.Close() })
	tx, err := ch.Sender()
	if err != nil {
		t.Fatal(err)
	}
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	msg, buf := make([]byte, 64), make([]byte, 0, 64)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		api string
		f   func()
	}{
		{"Send+Recv", func() {
			must(tx.Send(msg))
			_, err := rx.Recv(buf[:0])
			must(err)
		}},
		{"TrySend+TryRecv", func() {
			must(tx.TrySend(msg))
			_, err := rx.TryRecv(buf[:0])
			must(err)
		}},
		{"Reserve+Commit+Peek+Release", func() {
			p, err := tx.Reserve(len(msg))
			must(err)
			copy(p, msg)
			must(tx.Commit(len(msg)))
			_, err = rx.Peek()
			must(err)
			must(rx.Release())
		}},
		{"TryReserve+Commit+TryPeek+Release", func() {
			p, err := tx.TryReserve(len(msg))
			must(err)
			copy(p, msg)
			must(tx.Commit(len(msg)))
			_, err = rx.TryPeek()
			must(err)
			must(rx.Release())
		}},
	} {
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("%s: %v allocations per message, want 0", c.api, n)
		}
	}
}
