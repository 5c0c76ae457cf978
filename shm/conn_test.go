package shm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/shmchan/shmchan/internal/testproc"

	"github.com/shmchan/shmchan/shm"
)

// listen starts a listener under a fresh name, closed when the test ends.
func listen(t testing.TB, opts ...shm.Option) *shm.Listener {
	t.Helper()
	name := newName(t)
	l, err := shm.Listen(name, opts...)
	if err != nil {
		t.Fatalf("Listen(%q): %v", name, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// pipe dials l and accepts the connection.
func pipe(t testing.TB, l *shm.Listener, opts ...shm.Option) (client, server *shm.Conn) {
	t.Helper()
	type result struct {
		c   *shm.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := shm.Dial(l.Addr().String(), opts...)
		done <- result{c, err}
	}()
	server, err := l.AcceptContext(context.Background())
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
	return r.c, server
}

// shmConnEntries lists the connection channels of this process in /dev/shm.
func shmConnEntries(t testing.TB, pid int) []string {
	t.Helper()
	des, err := os.ReadDir(shmDir)
	if err != nil {
		t.Skipf("no %s: %v", shmDir, err)
	}
	prefix := "shmc-" + strconv.Itoa(pid) + "-"
	var names []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), prefix) {
			names = append(names, de.Name())
		}
	}
	return names
}

// TestConnNettest runs x/net's net.Conn conformance suite on a Listen/Dial
// pair in one process: with the default options, and with WithDirectPark and
// WithWait(Block), where every wait parks on its own futex (while fewer than
// four do), so that Close and deadlines must wake the sleeping thread.
func TestConnNettest(t *testing.T) {
	t.Run("default", func(t *testing.T) { connNettest(t) })
	t.Run("direct-park", func(t *testing.T) { connNettest(t, shm.WithDirectPark(), shm.WithWait(shm.Block)) })
}

func connNettest(t *testing.T, opts ...shm.Option) {
	l := listen(t, opts...)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := pipe(t, l, opts...)
		return a, b, func() { _ = a.Close(); _ = b.Close() }, nil
	})
	if left := shmConnEntries(t, os.Getpid()); len(left) > 0 {
		t.Errorf("left in %s: %v", shmDir, left)
	}
}

func TestConnBasics(t *testing.T) {
	l := listen(t, shm.WithBacklog(4))
	c, s := pipe(t, l, shm.WithConnCapacity(4096))
	if got, want := c.RemoteAddr().Network(), "shm"; got != want {
		t.Errorf("Network() = %q, want %q", got, want)
	}
	if got := c.RemoteAddr().String(); got != l.Addr().String() {
		t.Errorf("client RemoteAddr = %q, want %q", got, l.Addr())
	}
	// A write larger than the ring is split and arrives whole.
	big := pattern(100_000, 7)
	go func() {
		if _, err := c.Write(big); err != nil {
			t.Errorf("Write: %v", err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Errorf("CloseWrite: %v", err)
		}
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if d := diffBytes(big, got); d != "" {
		t.Fatalf("stream mismatch (-want +got):\n%s", d)
	}
	// Half-close: the server can still write back.
	if _, err := s.Write([]byte("bye")); err != nil {
		t.Fatalf("server Write after client CloseWrite: %v", err)
	}
	buf := make([]byte, 10)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "bye" {
		t.Fatalf("client Read = %q, %v", buf[:n], err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after CloseWrite: %v, want net.ErrClosed", err)
	}
	// Deadlines: expire, extend, clear.
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	go func() { time.Sleep(20 * time.Millisecond); _, _ = s.Write([]byte("z")) }()
	if n, err := c.Read(buf); err != nil || n != 1 {
		t.Fatalf("Read after clearing the deadline: %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("Read after peer Close: %v, want EOF", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, shm.ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func TestListenDialErrors(t *testing.T) {
	if _, err := shm.Listen("bad/name"); !errors.Is(err, shm.ErrInvalidName) {
		t.Errorf("Listen(bad name): %v, want ErrInvalidName", err)
	}
	if _, err := shm.Dial("-bad"); !errors.Is(err, shm.ErrInvalidName) {
		t.Errorf("Dial(bad name): %v, want ErrInvalidName", err)
	}
	name := newName(t)
	if _, err := shm.Dial(name); !errors.Is(err, shm.ErrNoListener) {
		t.Errorf("Dial(no listener): %v, want ErrNoListener", err)
	}
	l, err := shm.Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Listen(name); !errors.Is(err, shm.ErrBusy) {
		t.Errorf("second Listen: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.AcceptContext(ctx); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("AcceptContext past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := shm.Dial(name); !errors.Is(err, shm.ErrNoListener) {
		t.Errorf("Dial after Close: %v, want ErrNoListener", err)
	}
	if exists(t, name) {
		t.Errorf("%s left after Close", name)
	}
}

// A full listener makes Dial wait until its context ends.
func TestDialFull(t *testing.T) {
	l := listen(t, shm.WithBacklog(1))
	first := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, err := shm.DialContext(ctx, l.Addr().String()); first <- err }()
	time.Sleep(50 * time.Millisecond) // the first client holds the only slot, unaccepted
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err := shm.DialContext(ctx2, l.Addr().String())
	if !errors.Is(err, shm.ErrListenerFull) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Dial on a full listener: %v, want ErrListenerFull and ErrDeadlineExceeded", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first Dial after cancel: %v, want context.Canceled", err)
	}
	// Its slot is free again: a new client is served.
	c, s := pipe(t, l)
	_, _ = c.Close(), s.Close()
	if left := shmConnEntries(t, os.Getpid()); len(left) > 0 {
		t.Errorf("left in %s: %v", shmDir, left)
	}
}

func TestWaitAny(t *testing.T) {
	var rs []*shm.Receiver
	var ss []*shm.Sender
	for range 3 {
		ch, err := shm.CreateChannel(newName(t), 4096)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ch.Close() })
		r, _ := ch.Receiver()
		s, _ := ch.Sender()
		rs, ss = append(rs, r), append(ss, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if i, err := shm.WaitAny(ctx, rs...); i != -1 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WaitAny on empty channels = %d, %v", i, err)
	}
	sent := make(chan error, 1)
	go func() { time.Sleep(20 * time.Millisecond); sent <- ss[2].Send([]byte("hi")) }()
	i, err := shm.WaitAny(context.Background(), rs...)
	if err := <-sent; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if i != 2 || err != nil {
		t.Fatalf("WaitAny = %d, %v; want 2, nil", i, err)
	}
}

// The stream path makes no allocation when data is there: a Write and the
// Read of what it wrote.
func TestConnAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	l := listen(t)
	c, s := pipe(t, l)
	defer c.Close()
	defer s.Close()
	msg := pattern(64, 1)
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write+Read: %v allocations per run, want 0", allocs)
	}
}

// FuzzDial: Dial against a listener segment of arbitrary bytes never
// panics, and leaves nothing behind.
func FuzzDial(f *testing.F) {
	good := make([]byte, 0x200+2*128)
	le := func(off int, v uint32) {
		good[off], good[off+1], good[off+2], good[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le(0, 0x4C4D4853)
	le(4, 1)
	le(8, 0x200)
	le(0x10, 2)
	le(0x14, 128)
	f.Add(good)
	bad := append([]byte(nil), good...)
	bad[0x10] = 200 // more slots than the segment holds
	f.Add(bad)
	busy := append([]byte(nil), good...)
	busy[0x200+0x10] = 7 // a slot in an unknown state
	f.Add(busy)
	f.Fuzz(func(t *testing.T, mem []byte) {
		if len(mem) == 0 || len(mem) > 1<<16 {
			return
		}
		name := newName(t)
		seg, err := shm.Create(name, int64(len(mem)))
		if err != nil {
			t.Fatal(err)
		}
		defer seg.Close()
		copy(seg.Bytes(), mem)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		c, err := shm.DialContext(ctx, name, shm.WithOpenTimeout(time.Millisecond))
		if err == nil {
			_ = c.Close()
			t.Fatalf("Dial succeeded without a listener")
		}
		if left := shmConnEntries(t, os.Getpid()); len(left) > 0 {
			t.Fatalf("left in %s: %v", shmDir, left)
		}
	})
}

func requireLinux(t *testing.T, roles ...string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		testproc.MarkUsed(roles...)
		t.Skip("needs /dev/shm and /proc")
	}
}

// checkNoConnLeft fails if a channel of a connection of pid is in /dev/shm.
func checkNoConnLeft(t *testing.T, pid int) {
	t.Helper()
	if left := shmConnEntries(t, pid); len(left) > 0 {
		t.Errorf("left in %s by connections of pid %d: %v", shmDir, pid, left)
	}
}

// A write to a connection whose peer closed fails with ErrClosed.
func TestConnWriteAfterPeerClose(t *testing.T) {
	l := listen(t)
	c, s := pipe(t, l)
	defer c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Write after the peer's Close: %v, want ErrClosed", err)
	}
}

// A Read parked on its own futex (WithDirectPark) is woken by a deadline,
// by a data write and by Close, hands its wait to the poller when idle, and
// gives its place back each time.
func TestConnDirectParkWakes(t *testing.T) {
	opts := []shm.Option{shm.WithDirectPark(), shm.WithWait(shm.Block)}
	l := listen(t, opts...)
	c, s := pipe(t, l, opts...)
	defer c.Close()
	parked := func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); shm.DirectParkedForTest() != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("the Read did not park on its own futex (%d parked)", shm.DirectParkedForTest())
			}
			time.Sleep(time.Millisecond)
		}
	}
	read := func() chan error {
		done := make(chan error, 1)
		go func() {
			_, err := s.Read(make([]byte, 8))
			done <- err
		}()
		return done
	}
	within := func(done chan error, what string) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("the parked Read did not return after %s", what)
			return nil
		}
	}

	done := read()
	parked()
	if err := s.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := within(done, "its deadline"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read at the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if err := s.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	done = read()
	parked()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := within(done, "a write"); err != nil {
		t.Fatalf("Read after a write: %v", err)
	}

	// Parked longer than 500 ms, it hands the wait to the poller, which
	// wakes it in turn.
	done = read()
	parked()
	for deadline := time.Now().Add(5 * time.Second); shm.DirectParkedForTest() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("an idle Read kept its own futex wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if err := within(done, "a write, through the poller"); err != nil {
		t.Fatalf("Read after a write: %v", err)
	}

	done = read()
	parked()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := within(done, "Close"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read at Close: %v, want net.ErrClosed", err)
	}
	if n := shm.DirectParkedForTest(); n != 0 {
		t.Errorf("%d ends still counted as parked on their own futex", n)
	}
}
