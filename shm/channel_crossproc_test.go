package shm_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Cross-process channel tests: the parent and a child (this test binary,
// re-executed) on the two ends of one channel, exchanging messages whose
// size and bytes derive from a sequence number, so that a lost, duplicated,
// reordered, torn or corrupted message cannot pass.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// msgSize is the size of message seq in a channel whose largest message is
// max: mostly 12 to 311 bytes, sometimes 0 to 11, rarely up to max.
func msgSize(seq uint64, max int) int {
	h := splitmix(seq)
	switch {
	case h%64 == 0:
		return int(h >> 8 % 12)
	case h%4096 == 1:
		return 12 + int(h>>16%uint64(max-11))
	}
	return 12 + int(h>>8%300)
}

// fillMsg writes message seq into b (len(b) == msgSize): the sequence number,
// a CRC-32C of the rest, and bytes derived from seq. Messages under 12 bytes
// are a prefix of seq's derived bytes.
func fillMsg(b []byte, seq uint64) {
	var small [12]byte
	dst := b
	if len(b) < 12 {
		dst = small[:]
	}
	x := splitmix(^seq)
	for i := 12; i < len(dst); i += 8 {
		x += 0x9E3779B97F4A7C15
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		copy(dst[i:], w[:])
	}
	binary.LittleEndian.PutUint64(dst, seq)
	binary.LittleEndian.PutUint32(dst[8:], crc32.Checksum(dst[12:], castagnoli))
	if len(b) < 12 {
		copy(b, dst)
	}
}

// checkMsg verifies that msg is message seq.
func checkMsg(msg []byte, seq uint64, max int) error {
	if n := msgSize(seq, max); len(msg) != n {
		return fmt.Errorf("message %d: %d bytes, want %d (lost, duplicated or reordered)", seq, len(msg), n)
	}
	if len(msg) < 12 {
		var want [12]byte
		fillMsg(want[:len(msg)], seq)
		if string(want[:len(msg)]) != string(msg) {
			return fmt.Errorf("message %d: %d-byte message is % x, want % x", seq, len(msg), msg, want[:len(msg)])
		}
		return nil
	}
	if got := binary.LittleEndian.Uint64(msg); got != seq {
		return fmt.Errorf("message %d: carries sequence number %d", seq, got)
	}
	if got, want := binary.LittleEndian.Uint32(msg[8:]), crc32.Checksum(msg[12:], castagnoli); got != want {
		return fmt.Errorf("message %d: checksum %#x, computed %#x (torn or corrupt)", seq, got, want)
	}
	return nil
}

func parseWait(s string) shm.WaitStrategy {
	for _, w := range []shm.WaitStrategy{shm.Spin, shm.Block, shm.Adaptive} {
		if w.String() == s {
			return w
		}
	}
	panic("unknown wait strategy " + s)
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 1
}

func init() {
	// chan-send NAME WAIT FIRST COUNT: open NAME, claim the sender, print
	// "ready", send messages FIRST..FIRST+COUNT-1 (COUNT 0: until killed), close.
	testproc.Register("chan-send", func(args []string) int {
		name, wait := args[0], parseWait(args[1])
		first, _ := strconv.ParseUint(args[2], 10, 64)
		count, _ := strconv.ParseUint(args[3], 10, 64)
		ch, err := shm.OpenChannel(name, shm.WithWait(wait))
		if err != nil {
			return fail("%v", err)
		}
		defer ch.Close()
		tx, err := ch.Sender()
		if err != nil {
			return fail("%v", err)
		}
		fmt.Println("ready")
		max := ch.MaxMessage()
		for seq := first; count == 0 || seq < first+count; seq++ {
			buf, err := tx.Reserve(msgSize(seq, max))
			if err != nil {
				return fail("reserve %d: %v", seq, err)
			}
			fillMsg(buf, seq)
			if err := tx.Commit(len(buf)); err != nil {
				return fail("commit %d: %v", seq, err)
			}
		}
		if err := tx.Close(); err != nil {
			return fail("close: %v", err)
		}
		return 0
	})

	// chan-recv NAME WAIT PROGRESS: open NAME, claim the receiver, print
	// "ready", and check every message until EOF. PROGRESS names a segment
	// whose first word is the last sequence number a receiver checked plus
	// one: a receiver that takes over must start there, or one before (the
	// message its predecessor peeked and checked but did not release).
	// Prints the number of messages checked.
	testproc.Register("chan-recv", func(args []string) int {
		name, wait, progName := args[0], parseWait(args[1]), args[2]
		prog, err := shm.Open(progName)
		if err != nil {
			return fail("%v", err)
		}
		defer prog.Close()
		ch, err := shm.OpenChannel(name, shm.WithWait(wait))
		if err != nil {
			return fail("%v", err)
		}
		defer ch.Close()
		rx, err := ch.Receiver()
		if err != nil {
			return fail("%v", err)
		}
		fmt.Println("ready")
		next, _ := prog.LoadUint64(0)
		max := ch.MaxMessage()
		var n uint64
		for first := true; ; first = false {
			msg, err := rx.Peek()
			if err == io.EOF {
				fmt.Println(n)
				return 0
			}
			if err != nil {
				return fail("peek after %d: %v", next, err)
			}
			seq := next
			if first && next > 0 && checkMsg(msg, next-1, max) == nil {
				seq = next - 1 // redelivered: the predecessor died before Release
			}
			if err := checkMsg(msg, seq, max); err != nil {
				return fail("%v", err)
			}
			if err := prog.StoreUint64(0, seq+1); err != nil {
				return fail("%v", err)
			}
			if err := rx.Release(); err != nil {
				return fail("release %d: %v", seq, err)
			}
			next, n = seq+1, n+1
		}
	})

	// chan-idle NAME ROLE: claim ROLE ("sender" or "receiver"), print
	// "ready", and wait to be killed.
	testproc.Register("chan-idle", func(args []string) int {
		ch, err := shm.OpenChannel(args[0])
		if err != nil {
			return fail("%v", err)
		}
		if args[1] == "sender" {
			_, err = ch.Sender()
		} else {
			_, err = ch.Receiver()
		}
		if err != nil {
			return fail("%v", err)
		}
		fmt.Println("ready")
		// Not select{}: without cgo the runtime would call that a deadlock
		// and exit the child before the test kills it.
		time.Sleep(time.Hour)
		return 0
	})
}

// newChannel creates a channel under a fresh name, closed (and removed) when
// the test ends.
func newChannel(t testing.TB, capacity int64, opts ...shm.Option) *shm.Channel {
	t.Helper()
	name := newName(t)
	ch, err := shm.CreateChannel(name, capacity, opts...)
	if err != nil {
		t.Fatalf("CreateChannel(%q, %d): %v", name, capacity, err)
	}
	t.Cleanup(func() {
		if err := ch.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ch
}

// startChild starts cmd and waits for its "ready" line (testproc.Start,
// which starts it again if Wine fails to).
func startChild(t testing.TB, cmd *exec.Cmd) *bufio.Reader {
	t.Helper()
	return testproc.Start(t, cmd, "ready").Out
}

func stressCount() uint64 {
	if s := os.Getenv("SHMCHAN_STRESS_N"); s != "" {
		n, _ := strconv.ParseUint(s, 10, 64)
		return n
	}
	if raceEnabled || testing.Short() {
		return 200_000
	}
	return 10_000_000
}

// TestChannelStress sends 10 million messages of random sizes from a child
// process and checks every one: none lost, duplicated, reordered, torn or
// corrupt, in each wait strategy.
func TestChannelStress(t *testing.T) {
	n := stressCount()
	for _, wait := range []shm.WaitStrategy{shm.Spin, shm.Block, shm.Adaptive} {
		t.Run("wait="+wait.String(), func(t *testing.T) {
			ch := newChannel(t, 1<<16, shm.WithWait(wait))
			rx, err := ch.Receiver()
			if err != nil {
				t.Fatal(err)
			}
			cmd := testproc.Command(t, "chan-send", ch.Name(), wait.String(), "0", strconv.FormatUint(n, 10))
			start := time.Now()
			startChild(t, cmd)
			max := ch.MaxMessage()
			var bytes int64
			buf := make([]byte, 0, max)
			for seq := uint64(0); ; seq++ {
				msg, err := rx.Recv(buf[:0])
				if err == io.EOF {
					if seq != n {
						t.Fatalf("EOF after %d messages, want %d", seq, n)
					}
					break
				}
				if err != nil {
					t.Fatalf("Recv %d: %v", seq, err)
				}
				if err := checkMsg(msg, seq, max); err != nil {
					t.Fatal(err)
				}
				bytes += int64(len(msg))
			}
			el := time.Since(start)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("sender: %v", err)
			}
			t.Logf("%s: %d messages, %d bytes in %v: %.2f M msg/s, zero lost, duplicated, reordered or corrupt",
				wait, n, bytes, el.Round(time.Millisecond), float64(n)/el.Seconds()/1e6)
		})
	}
}

// TestChannelCrossProcessEOF: a child sender's Close gives the parent io.EOF
// after the last message, and the parent receiver's Close gives a child
// sender ErrClosed.
func TestChannelCrossProcessClose(t *testing.T) {
	t.Run("sender-closes", func(t *testing.T) {
		ch := newChannel(t, 1<<12)
		rx, _ := ch.Receiver()
		cmd := testproc.Command(t, "chan-send", ch.Name(), "block", "0", "3")
		startChild(t, cmd)
		for i := 0; i < 3; i++ {
			if _, err := rx.Recv(nil); err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
		}
		if _, err := rx.Recv(nil); err != io.EOF {
			t.Fatalf("Recv after close: %v, want io.EOF", err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("sender: %v", err)
		}
	})
	t.Run("receiver-closes", func(t *testing.T) {
		ch := newChannel(t, 1<<12)
		rx, _ := ch.Receiver()
		cmd := testproc.Command(t, "chan-send", ch.Name(), "block", "0", "0")
		cmd.Stderr = io.Discard
		startChild(t, cmd)
		if _, err := rx.Recv(nil); err != nil {
			t.Fatal(err)
		}
		rx.Close()
		// The child fails with "reserve N: ... ErrClosed" and exits 1.
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("sender after receiver close: %v, want exit status 1", err)
		}
	})
}

// TestChannelPeerGoneWhileParked kills an idle peer with SIGKILL while this
// side is blocked on it, in each wait strategy, and expects ErrPeerGone
// (the issue asks for about 200 ms; the bound here only catches a hang).
func TestChannelPeerGoneWhileParked(t *testing.T) {
	for _, wait := range []shm.WaitStrategy{shm.Spin, shm.Block, shm.Adaptive} {
		for _, side := range []string{"receiver", "sender"} {
			t.Run("wait="+wait.String()+"/blocked="+side, func(t *testing.T) {
				ch := newChannel(t, 1<<10, shm.WithWait(wait))
				peer := map[string]string{"receiver": "sender", "sender": "receiver"}[side]
				cmd := testproc.Command(t, "chan-idle", ch.Name(), peer)
				startChild(t, cmd)
				errc := make(chan error, 1)
				if side == "receiver" {
					rx, err := ch.Receiver()
					if err != nil {
						t.Fatal(err)
					}
					go func() { _, err := rx.Recv(nil); errc <- err }()
				} else {
					tx, err := ch.Sender()
					if err != nil {
						t.Fatal(err)
					}
					go func() {
						for {
							if err := tx.Send(make([]byte, 100)); err != nil {
								errc <- err
								return
							}
						}
					}()
				}
				time.Sleep(100 * time.Millisecond) // let it fill the ring and park
				select {
				case err := <-errc:
					t.Fatalf("returned before the peer died: %v", err)
				default:
				}
				killed := time.Now()
				cmd.Process.Kill()
				select {
				case err := <-errc:
					if !errors.Is(err, shm.ErrPeerGone) {
						t.Fatalf("got %v, want ErrPeerGone", err)
					}
					t.Logf("ErrPeerGone %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
				case <-time.After(10 * time.Second):
					t.Fatalf("no ErrPeerGone 10 s after the peer died")
				}
				cmd.Wait()
			})
		}
	}
}

func crashTrials() int {
	if raceEnabled || testing.Short() {
		return 20
	}
	return 200
}

// TestChannelCrashSender kills a child sender with SIGKILL at a random
// moment while it sends, 200 times over one channel. Each time the receiver
// must drain every committed message, whole and in order, then get
// ErrPeerGone rather than hang; a new sender then claims the dead one's role
// and continues from the next sequence number.
func TestChannelCrashSender(t *testing.T) {
	ch := newChannel(t, 1<<14, shm.WithWait(shm.Adaptive))
	rx, err := ch.Receiver()
	if err != nil {
		t.Fatal(err)
	}
	max := ch.MaxMessage()
	rng := rand.New(rand.NewPCG(1, 2))
	var next uint64
	buf := make([]byte, 0, max)
	var detect time.Duration
	trials := crashTrials()
	for trial := 0; trial < trials; trial++ {
		cmd := testproc.Command(t, "chan-send", ch.Name(), "adaptive", strconv.FormatUint(next, 10), "0")
		startChild(t, cmd)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		killed := make(chan time.Time, 1)
		timer := time.AfterFunc(delay, func() {
			killed <- time.Now()
			cmd.Process.Signal(syscall.SIGKILL)
		})
		for {
			msg, err := rx.Recv(buf[:0])
			if errors.Is(err, shm.ErrPeerGone) {
				break
			}
			if err != nil {
				t.Fatalf("trial %d: Recv %d: %v", trial, next, err)
			}
			if err := checkMsg(msg, next, max); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			next++
		}
		timer.Stop()
		cmd.Wait()
		detect += time.Since(<-killed)
	}
	t.Logf("%d senders killed; %d messages received whole and in order; mean time from SIGKILL to ErrPeerGone %v",
		trials, next, (detect / time.Duration(trials)).Round(time.Millisecond))
}

// TestChannelCrashReceiver kills a child receiver with SIGKILL at a random
// moment, 200 times, while this process sends. The sender must get
// ErrPeerGone when the ring is full rather than hang; a new receiver takes
// over and checks that it continues exactly where the dead one stopped (or
// gets again the one message the dead one had not released).
func TestChannelCrashReceiver(t *testing.T) {
	ch := newChannel(t, 1<<14, shm.WithWait(shm.Adaptive))
	tx, err := ch.Sender()
	if err != nil {
		t.Fatal(err)
	}
	prog := create(t, 4096)
	max := ch.MaxMessage()
	rng := rand.New(rand.NewPCG(3, 4))
	var seq uint64
	trials := crashTrials()
	for trial := 0; trial <= trials; trial++ {
		cmd := testproc.Command(t, "chan-recv", ch.Name(), "adaptive", prog.Name())
		out := startChild(t, cmd)
		if trial == trials {
			// The last receiver lives: close, and it must check everything to EOF.
			for i := 0; i < 1000; i++ {
				sendSeq(t, tx, seq, max)
				seq++
			}
			tx.Close()
			line, _ := out.ReadString('\n')
			if err := cmd.Wait(); err != nil {
				t.Fatalf("last receiver: %v", err)
			}
			got, _ := prog.LoadUint64(0)
			if got != seq {
				t.Fatalf("receivers checked up to %d, sent %d", got, seq)
			}
			t.Logf("%d receivers killed; %d messages sent; the last receiver checked %s messages to EOF", trials, seq, line[:len(line)-1])
			return
		}
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		for {
			buf, err := tx.Reserve(msgSize(seq, max))
			if errors.Is(err, shm.ErrPeerGone) {
				break
			}
			if err != nil {
				t.Fatalf("trial %d: Reserve %d: %v", trial, seq, err)
			}
			fillMsg(buf, seq)
			if err := tx.Commit(len(buf)); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		timer.Stop()
		if err := cmd.Wait(); err == nil || err.(*exec.ExitError).ExitCode() != -1 && runtime.GOOS != "windows" {
			t.Fatalf("trial %d: receiver ended with %v, want killed (a failed check exits 1)", trial, err)
		}
	}
}

func sendSeq(t *testing.T, tx *shm.Sender, seq uint64, max int) {
	t.Helper()
	buf, err := tx.ReserveContext(context.Background(), msgSize(seq, max))
	if err != nil {
		t.Fatalf("Reserve %d: %v", seq, err)
	}
	fillMsg(buf, seq)
	if err := tx.Commit(len(buf)); err != nil {
		t.Fatal(err)
	}
}
