package interop_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// Stream parameters: a 64 KiB ring, so that a million messages wrap it many
// thousand times, and messages of 16 to 600 bytes.
const (
	streamCapacity = 1 << 16
	streamMaxLen   = 600
)

func streamCount() int {
	switch {
	case testing.Short():
		return 20_000
	case raceEnabled:
		return 100_000
	}
	return 1_000_000
}

var modes = []struct {
	name string
	wait shm.WaitStrategy
}{
	{"block", shm.Block},
	{"spin", shm.Spin},
}

// TestGoToC sends a million messages of random sizes from Go to a C
// receiver, which checks that none is lost, duplicated, reordered or
// corrupted, and that the stream ends with EOF when the Go sender closes.
func TestGoToC(t *testing.T) {
	for _, m := range modes {
		t.Run("wait="+m.name, func(t *testing.T) {
			name := newName(t)
			count := streamCount()
			ch, tx := createEnd(t, name, streamCapacity, m.wait, (*shm.Channel).Sender)
			defer ch.Close()
			p := startPeer(t, false, "recv", name, strconv.Itoa(count), m.name)

			ctx := testContext(t, 5*time.Minute)
			r := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, streamMaxLen)
			start := time.Now()
			for i := range count {
				n := 16 + r.IntN(streamMaxLen-16+1)
				var err error
				if i%2 == 0 {
					makeMessage(buf[:n], uint64(i), r)
					err = tx.SendContext(ctx, buf[:n])
				} else {
					var b []byte
					if b, err = tx.ReserveContext(ctx, n); err == nil {
						makeMessage(b, uint64(i), r)
						err = tx.Commit(n)
					}
				}
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if err := tx.Close(); err != nil {
				t.Fatalf("Sender.Close: %v", err)
			}
			waitCReceiver(t, p, count, start)
			checkStats(t, ch, uint64(count))
		})
	}
}

// createEnd creates the channel name of capacity bytes with the wait
// strategy w and claims one end of it with claim ((*shm.Channel).Sender or
// (*shm.Channel).Receiver): the Go end of a stream or a benchmark with a
// peer. The caller closes the channel.
func createEnd[E any](t testing.TB, name string, capacity int64, w shm.WaitStrategy, claim func(*shm.Channel) (E, error)) (*shm.Channel, E) {
	t.Helper()
	ch, err := shm.CreateChannel(name, capacity, shm.WithWait(w))
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	end, err := claim(ch)
	if err != nil {
		_ = ch.Close()
		t.Fatalf("claim %T: %v", end, err)
	}
	return ch, end
}

// waitCReceiver waits for the C receiver p of a stream of count messages,
// begun at start, and checks its last words (p.cmd.Args[1] is its mode):
// every message received, none bad, then EOF.
func waitCReceiver(t *testing.T, p *peer, count int, start time.Time) {
	t.Helper()
	lines := p.wait()
	t.Logf("%d messages in %v", count, time.Since(start).Round(time.Millisecond))
	want := []string{fmt.Sprintf("received %d bad 0", count), p.cmd.Args[1] + ": -1 EOF"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("C receiver said %q, want %q", lines, want)
	}
}

// waitCSender checks that the Go receiver got the count messages of the C
// sender p's stream, begun at start, and then waits for p to say success.
func waitCSender(t *testing.T, p *peer, got, count int, start time.Time) {
	t.Helper()
	t.Logf("%d messages in %v", got, time.Since(start).Round(time.Millisecond))
	if got != count {
		t.Fatalf("received %d messages before EOF, want %d", got, count)
	}
	if lines := p.wait(); len(lines) != 1 || lines[0] != p.cmd.Args[1]+": 0 shmchan: success" {
		t.Fatalf("C sender said %q", lines)
	}
}

// checkStats checks that both ends, one of them C, counted n messages and
// the same payload bytes on their counter lines (docs/layout.md, "Counters").
func checkStats(t *testing.T, ch *shm.Channel, n uint64) {
	t.Helper()
	st, err := ch.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Sender.Messages != n || st.Receiver.Messages != n || st.Sender.Bytes != st.Receiver.Bytes || st.Sender.Bytes == 0 {
		t.Errorf("Stats = %+v, want %d messages each way and the same bytes", st, n)
	}
}

// TestCToGo is TestGoToC the other way round: a C sender and a Go receiver.
func TestCToGo(t *testing.T) {
	for _, m := range modes {
		t.Run("wait="+m.name, func(t *testing.T) {
			name := newName(t)
			count := streamCount()
			ch, rx := createEnd(t, name, streamCapacity, m.wait, (*shm.Channel).Receiver)
			defer ch.Close()
			p := startPeer(t, false, "send", name, strconv.Itoa(count), strconv.Itoa(streamMaxLen), m.name)

			ctx := testContext(t, 5*time.Minute)
			buf := make([]byte, 0, streamMaxLen)
			start := time.Now()
			var got int
			for ; ; got++ {
				var msg []byte
				var err error
				if got%2 == 0 {
					msg, err = rx.RecvContext(ctx, buf[:0])
				} else {
					msg, err = rx.PeekContext(ctx)
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("receive %d: %v", got, err)
				}
				if err := checkMessage(msg, uint64(got)); err != nil {
					t.Fatal(err)
				}
				if got%2 == 1 {
					if err := rx.Release(); err != nil {
						t.Fatalf("Release %d: %v", got, err)
					}
				}
			}
			waitCSender(t, p, got, count, start)
			// The C sender counted on its line, the Go receiver on its own.
			checkStats(t, ch, uint64(count))
		})
	}
}

// TestClose checks that closing one end is seen by the other, both ways:
// a closed sender gives EOF, a closed receiver gives ErrClosed (CLOSED in C).
func TestClose(t *testing.T) {
	t.Run("go-sender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "wait-recv", name)
		p.expect("ready")
		if err := tx.Send([]byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := tx.Close(); err != nil {
			t.Fatal(err)
		}
		if lines := p.wait(); lines[len(lines)-1] != "wait-recv: -1 EOF" {
			t.Fatalf("C receiver said %q, want EOF", lines)
		}
	})
	t.Run("go-receiver", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "wait-send", name)
		p.expect("ready")
		if err := rx.Close(); err != nil {
			t.Fatal(err)
		}
		if lines := p.wait(); lines[len(lines)-1] != "wait-send: -2 shmchan: use of closed channel end" {
			t.Fatalf("C sender said %q, want CLOSED", lines)
		}
	})
	t.Run("c-sender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "send", name, "3", "100", "block")
		ctx := testContext(t, time.Minute)
		for i := range 3 {
			msg, err := rx.RecvContext(ctx, nil)
			if err != nil {
				t.Fatalf("receive %d: %v", i, err)
			}
			if err := checkMessage(msg, uint64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := rx.RecvContext(ctx, nil); !errors.Is(err, io.EOF) {
			t.Fatalf("receive after the C sender closed: %v, want io.EOF", err)
		}
		p.wait()
	})
	t.Run("c-receiver", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "recv-close", name)
		if err := tx.Send([]byte("one")); err != nil {
			t.Fatal(err)
		}
		if lines := p.wait(); len(lines) != 1 || lines[0] != "recv-close: 0 shmchan: success" {
			t.Fatalf("C receiver said %q", lines)
		}
		if err := tx.Send([]byte("two")); !errors.Is(err, shm.ErrClosed) {
			t.Fatalf("Send after the C receiver closed: %v, want ErrClosed", err)
		}
	})
}

// TestPeerDeath kills the process on one end and checks what the other end
// gets: ErrPeerGone in Go when the C process dies, SHMCHAN_ERR_PEER_GONE in C
// when the Go process dies, on both the sending and the receiving side.
func TestPeerDeath(t *testing.T) {
	const peerGone = "-7 shmchan: peer process is gone"
	t.Run("c-sender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "hold-sender", name)
		p.expect("ready")
		ctx := testContext(t, time.Minute)
		// What the C sender published before it died is still delivered.
		if msg, err := rx.RecvContext(ctx, nil); err != nil || string(msg) != "last" {
			t.Fatalf("Recv = %q, %v; want \"last\"", msg, err)
		}
		p.kill()
		start := time.Now()
		if _, err := rx.RecvContext(ctx, nil); !errors.Is(err, shm.ErrPeerGone) {
			t.Fatalf("Recv after the C sender was killed: %v, want ErrPeerGone", err)
		}
		t.Logf("ErrPeerGone after %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("c-receiver", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "hold-receiver", name)
		p.expect("ready")
		p.kill()
		ctx := testContext(t, time.Minute)
		for {
			err = tx.SendContext(ctx, make([]byte, 100))
			if err != nil {
				break
			}
		}
		if !errors.Is(err, shm.ErrPeerGone) {
			t.Fatalf("Send after the C receiver was killed: %v, want ErrPeerGone", err)
		}
	})
	// A Go process holding one role is killed; the C peer holding the other,
	// parked on it, must report PEER_GONE.
	for _, tc := range []struct{ goRole, cRole, cEnd string }{
		{"hold-sender", "wait-recv", "receiver"},
		{"hold-receiver", "wait-send", "sender"},
	} {
		t.Run("go-"+strings.TrimPrefix(tc.goRole, "hold-"), func(t *testing.T) {
			name := newName(t)
			ch, err := shm.CreateChannel(name, 1024)
			if err != nil {
				t.Fatal(err)
			}
			defer ch.Close()
			g := startGo(t, tc.goRole, name)
			g.expect(t, "ready")
			p := startPeer(t, true, tc.cRole, name)
			p.expect("ready")
			if err := g.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = g.cmd.Wait()
			if lines := p.wait(); lines[len(lines)-1] != tc.cRole+": "+peerGone {
				t.Fatalf("C %s said %q after the Go peer was killed, want PEER_GONE", tc.cEnd, lines)
			}
		})
	}
}

// TestRoleLockAcrossLanguages: a sender role held by a live process of one
// language is busy for the other (the role lock, not the token, decides:
// docs/layout.md, "Role locks"); after the holder is killed (SIGKILL,
// TerminateProcess on Windows) the waiting receiver of the other language
// reports the peer gone, and the role can be taken, each within 200 ms.
func TestRoleLockAcrossLanguages(t *testing.T) {
	check := func(t *testing.T, gone, taken time.Duration) {
		t.Helper()
		t.Logf("after the kill: peer gone after %v, the sender role taken after %v", gone, taken)
		if gone > 200*time.Millisecond || taken > 200*time.Millisecond {
			t.Errorf("peer gone after %v and the role taken after %v; want both within 200 ms", gone, taken)
		}
	}
	t.Run("c-holder-go-contender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		p := startPeer(t, true, "hold-sender", name)
		p.expect("ready")
		if _, err := ch.Sender(); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Go Sender while the C sender lives: %v, want ErrBusy", err)
		}
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		ctx := testContext(t, time.Minute)
		if msg, err := rx.RecvContext(ctx, nil); err != nil || string(msg) != "last" {
			t.Fatalf("Recv = %q, %v; want \"last\"", msg, err)
		}
		done := make(chan time.Time, 1)
		go func() {
			_, err := rx.RecvContext(ctx, nil)
			if !errors.Is(err, shm.ErrPeerGone) {
				t.Errorf("Recv after the C sender was killed: %v, want ErrPeerGone", err)
			}
			done <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond) // let the receiver park
		p.kill()
		t0 := time.Now()
		gone := (<-done).Sub(t0)
		for {
			_, err := ch.Sender()
			if err == nil {
				break
			}
			if !errors.Is(err, shm.ErrBusy) || time.Since(t0) > 5*time.Second {
				t.Fatalf("Go Sender after the C sender was killed: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
		check(t, gone, time.Since(t0))
	})
	t.Run("go-holder-c-contender", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1024)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		g := startGo(t, "hold-sender", name)
		g.expect(t, "ready")
		p := startPeer(t, true, "contend-send", name)
		p.expect("busy")
		p.expect("waiting")
		time.Sleep(20 * time.Millisecond) // let the C receiver park
		if err := g.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_ = g.cmd.Wait()
		p.expect("gone")
		gone := time.Since(t0)
		p.expect("taken")
		taken := time.Since(t0)
		p.wait()
		check(t, gone, taken)
	})
}

// TestMixedCreation opens in one language a channel created by the other.
func TestMixedCreation(t *testing.T) {
	t.Run("c-creates", func(t *testing.T) {
		name := newName(t)
		p := startPeer(t, true, "create", name, "8192")
		p.expect("ready")
		ch, err := shm.OpenChannel(name)
		if err != nil {
			t.Fatalf("OpenChannel(%q) of a C channel: %v", name, err)
		}
		defer ch.Close()
		if ch.Capacity() != 8192 || ch.MaxMessage() != 4088 {
			t.Fatalf("Capacity, MaxMessage = %d, %d; want 8192, 4088", ch.Capacity(), ch.MaxMessage())
		}
		again, created, err := shm.OpenOrCreateChannel(name, 8192)
		if err != nil || created {
			t.Fatalf("OpenOrCreateChannel = created %v, %v; want an open", created, err)
		}
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		tx, err := ch.Sender()
		if err != nil {
			t.Fatal(err)
		}
		rx, err := ch.Receiver()
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Send([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if msg, err := rx.TryRecv(nil); err != nil || string(msg) != "hello" {
			t.Fatalf("TryRecv = %q, %v", msg, err)
		}
		_ = p.stdin.Close() // the C creator closes and removes the channel
		p.wait()
	})
	t.Run("go-creates", func(t *testing.T) {
		name := newName(t)
		ch, err := shm.CreateChannel(name, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		p := startPeer(t, true, "open", name)
		if lines := p.wait(); strings.Join(lines, "; ") != "open: 0 shmchan: success; capacity 1048576 max 524280" {
			t.Fatalf("C open of a Go channel said %q", lines)
		}
	})
}

// TestMismatchRefused corrupts the version and the magic of channels created
// by each language and checks that both languages refuse them clearly.
func TestMismatchRefused(t *testing.T) {
	cases := []struct {
		name   string
		off    int
		val    uint32
		goErr  error
		goText string
		cLine  string
	}{
		{"version", 4, 1, shm.ErrVersionMismatch, "version", "open: -10 shmchan: layout version mismatch"}, // a v1 object: refused by both
		{"magic", 0, 0x58585858, shm.ErrNotChannel, "not a shmchan object", "open: -9 shmchan: segment is not a shmchan object"},
		{"incompatible-flag", 12, 1, shm.ErrVersionMismatch, "version", "open: -10 shmchan: layout version mismatch"},
	}
	for _, creator := range []string{"go", "c"} {
		for _, tc := range cases {
			t.Run(creator+"/"+tc.name, func(t *testing.T) {
				name := newName(t)
				var creatorPeer *peer // a C creator keeps the channel until its stdin closes
				if creator == "go" {
					ch, err := shm.CreateChannel(name, 1024)
					if err != nil {
						t.Fatal(err)
					}
					// Kept open: on Windows the name lives as long as a handle to it.
					defer ch.Close()
				} else {
					creatorPeer = startPeer(t, true, "create", name, "1024")
					creatorPeer.expect("ready")
				}
				seg, err := shm.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				b := seg.Bytes()
				b[tc.off], b[tc.off+1], b[tc.off+2], b[tc.off+3] = byte(tc.val), byte(tc.val>>8), byte(tc.val>>16), byte(tc.val>>24)
				seg.Close()

				_, err = shm.OpenChannel(name, shm.WithOpenTimeout(100*time.Millisecond))
				if !errors.Is(err, tc.goErr) || !strings.Contains(err.Error(), tc.goText) {
					t.Errorf("Go OpenChannel: %v; want %v mentioning %q", err, tc.goErr, tc.goText)
				}
				p := startPeer(t, true, "open", name)
				if lines := p.wait(); len(lines) != 1 || lines[0] != tc.cLine {
					t.Errorf("C open said %q, want %q", lines, tc.cLine)
				}
				if creatorPeer != nil {
					_ = creatorPeer.stdin.Close()
					creatorPeer.wait()
				}
			})
		}
	}
}
