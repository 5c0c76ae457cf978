package shm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Listeners and clients in other PID namespaces (docs/layout.md, "Listener",
// "Lock ranges"): the listener's owner and each slot's client are held by
// role locks, so a process that is PID 1 of its own namespace (a PID that
// names init outside) is judged by the kernel, not by its PID. With the
// token checks of listener layout version 1 a second Listen outside took
// over a live listener in a namespace, and the reaper freed the slot of a
// live client in one.

func init() {
	// ns-listen NAME N: listen, say "ready PID", echo the first N
	// connections, then stop accepting and wait to be killed.
	testproc.Register("ns-listen", func(args []string) int {
		l, err := shm.Listen(args[0])
		if err != nil {
			return childFail("Listen: %v", err)
		}
		var n int
		fmt.Sscan(args[1], &n)
		fmt.Printf("ready %d\n", os.Getpid())
		for range n {
			c, err := l.AcceptContext(context.Background())
			if err != nil {
				return childFail("Accept: %v", err)
			}
			go func() { _, _ = io.Copy(c, c); _ = c.CloseWrite() }()
		}
		for {
			time.Sleep(time.Hour)
		}
	})
	// ns-dial NAME: say "dialing PID", dial, say "connected", echo until
	// EOF, then wait to be killed.
	testproc.Register("ns-dial", func(args []string) int {
		fmt.Printf("dialing %d\n", os.Getpid())
		c, err := shm.Dial(args[0])
		if err != nil {
			return childFail("Dial: %v", err)
		}
		fmt.Println("connected")
		_, _ = io.Copy(c, c)
		_ = c.CloseWrite()
		for {
			time.Sleep(time.Hour)
		}
	})
}

// peerGoneWithin is how long a parked end may take to see a peer's death:
// the poller's sweep period (500 ms) plus the liveness cache (100 ms), and
// slack for a loaded machine.
const peerGoneWithin = 2 * time.Second

// startNSListener starts ns-listen in its own PID namespace and waits for it
// to serve name as PID 1 there.
func startNSListener(t *testing.T, name string, accepts int) *exec.Cmd {
	t.Helper()
	testproc.NeedRoot(t, "unshare")
	cmd := testproc.Command(t, "ns-listen", name, fmt.Sprint(accepts))
	testproc.InPIDNamespace(t, cmd)
	r := lines(t, cmd)
	if got := expect(t, cmd, r, "ready"); got != "ready 1" {
		t.Fatalf("listener says %q: want PID 1 of its own namespace", got)
	}
	return cmd
}

// roundTrip writes msg on c and reads its echo.
func roundTrip(t *testing.T, c *shm.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo = %q, %v; want %q", buf, err, msg)
	}
}

// parkAcrossSweep parks a Read on c for longer than a poller sweep and
// checks that it ends by its deadline, not with ErrPeerGone: the peer, in
// another PID namespace, is alive.
func parkAcrossSweep(t *testing.T, c *shm.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(1200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("parked Read across two liveness sweeps: %v, want os.ErrDeadlineExceeded (the peer lives)", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// dialAsync dials name in a goroutine; the result arrives on the channel.
func dialAsync(t *testing.T, name string) <-chan dialResult {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	done := make(chan dialResult, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		c, err := shm.DialContext(ctx, name)
		done <- dialResult{c, err, time.Now()}
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
		select {
		case r := <-done: // not taken by the test
			if r.c != nil {
				r.c.Close()
			}
		default: // the test took the result and closes its Conn
		}
	})
	return done
}

type dialResult struct {
	c   *shm.Conn
	err error
	at  time.Time
}

// readAsync reads from c in a goroutine and reports when the read ended.
func readAsync(c *shm.Conn) <-chan dialResult {
	done := make(chan dialResult, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- dialResult{nil, err, time.Now()}
	}()
	return done
}

// TestListenerPIDNamespace: a listener that is PID 1 of its own PID
// namespace keeps its name against a Listen outside (ErrBusy) and serves a
// client outside, also across liveness sweeps. Its SIGKILL frees the name
// for a new Listen within 200 ms, the open connection gets ErrPeerGone, and
// the new listener serves the client that was still waiting in the segment.
func TestListenerPIDNamespace(t *testing.T) {
	name := newName(t)
	hc := startNSListener(t, name, 1)
	if l, err := shm.Listen(name); !errors.Is(err, shm.ErrBusy) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("Listen outside while the listener in the namespace lives: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := shm.DialContext(ctx, name)
	if err != nil {
		t.Fatalf("Dial from outside: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, "ping")
	parkAcrossSweep(t, c)
	roundTrip(t, c, "pong")
	if l, err := shm.Listen(name); !errors.Is(err, shm.ErrBusy) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("Listen outside after the sweeps: %v, want ErrBusy", err)
	}

	waiting := dialAsync(t, name) // the listener accepts no more: this client waits in its slot
	time.Sleep(100 * time.Millisecond)
	read := readAsync(c)
	kill := time.Now()
	if err := syscall.Kill(testproc.Innermost(t, hc.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var l *shm.Listener
	for {
		l, err = shm.Listen(name)
		if err == nil {
			break
		}
		if !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Listen after the holder's SIGKILL: %v", err)
		}
		if time.Since(kill) > 200*time.Millisecond {
			t.Fatalf("Listen still ErrBusy 200 ms after the holder's SIGKILL: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(kill)
	defer l.Close()
	r := <-read
	if !errors.Is(r.err, shm.ErrPeerGone) {
		t.Fatalf("Read on the dead listener's connection: %v, want ErrPeerGone", r.err)
	}
	if d := r.at.Sub(kill); d > peerGoneWithin {
		t.Errorf("Read saw ErrPeerGone %v after the SIGKILL, want within %v", d, peerGoneWithin)
	}
	t.Logf("after the listener's SIGKILL: new Listen after %v, ErrPeerGone on its connection after %v", took, r.at.Sub(kill))
	serveEcho(t, l)
	w := <-waiting
	if w.err != nil {
		t.Fatalf("the client waiting in the segment, after the takeover: %v", w.err)
	}
	defer w.c.Close() // before serveEcho's cleanup, which waits for this connection's end
	roundTrip(t, w.c, "served by the successor")
}

// TestListenerPIDNamespaceKilled: a listener in its own PID namespace is
// killed and nobody takes over: the client waiting in its slot and a new
// Dial fail with ErrNoListener and ErrPeerGone, the open connection with
// ErrPeerGone.
func TestListenerPIDNamespaceKilled(t *testing.T) {
	name := newName(t)
	hc := startNSListener(t, name, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := shm.DialContext(ctx, name)
	if err != nil {
		t.Fatalf("Dial from outside: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, "ping")
	waiting := dialAsync(t, name)
	time.Sleep(100 * time.Millisecond)
	read := readAsync(c)
	kill := time.Now()
	if err := syscall.Kill(testproc.Innermost(t, hc.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w := <-waiting
	if !errors.Is(w.err, shm.ErrNoListener) || !errors.Is(w.err, shm.ErrPeerGone) {
		t.Fatalf("the waiting Dial after the listener's SIGKILL: %v, want ErrNoListener and ErrPeerGone", w.err)
	}
	r := <-read
	if !errors.Is(r.err, shm.ErrPeerGone) {
		t.Fatalf("Read on the dead listener's connection: %v, want ErrPeerGone", r.err)
	}
	for _, d := range []time.Duration{w.at.Sub(kill), r.at.Sub(kill)} {
		if d > peerGoneWithin {
			t.Errorf("an error %v after the SIGKILL, want within %v", d, peerGoneWithin)
		}
	}
	_ = hc.Wait()
	if _, err := shm.Dial(name); !errors.Is(err, shm.ErrNoListener) || !errors.Is(err, shm.ErrPeerGone) {
		t.Fatalf("Dial to the dead listener: %v, want ErrNoListener and ErrPeerGone", err)
	}
	t.Logf("after the listener's SIGKILL: the waiting Dial failed after %v, the connection's Read after %v", w.at.Sub(kill), r.at.Sub(kill))
}

// TestListenerClientPIDNamespace: a client that is PID 1 of its own PID
// namespace holds its slot: the reaper, asked again and again while the
// client waits for its accept, leaves it alone; the accepted connection
// serves across liveness sweeps; its SIGKILL is ErrPeerGone on the
// connection. A second such client killed while it waits in its slot is
// reaped.
func TestListenerClientPIDNamespace(t *testing.T) {
	testproc.NeedRoot(t, "unshare")
	name := newName(t)
	l, err := shm.Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := func() (*exec.Cmd, *bufio.Reader) {
		cmd := testproc.Command(t, "ns-dial", name)
		testproc.InPIDNamespace(t, cmd)
		r := lines(t, cmd)
		if got := expect(t, cmd, r, "dialing"); got != "dialing 1" {
			t.Fatalf("client says %q: want PID 1 of its own namespace", got)
		}
		return cmd, r
	}
	waitReady := func(n int) {
		t.Helper()
		for t0 := time.Now(); shm.ListenerReadySlotsForTest(l) != n; time.Sleep(time.Millisecond) {
			if time.Since(t0) > 10*time.Second {
				t.Fatalf("%d slots ready, want %d", shm.ListenerReadySlotsForTest(l), n)
			}
		}
	}
	cmd, r := start()
	waitReady(1)
	for range 3 {
		if n := shm.ListenerReapForTest(l); n != 0 {
			t.Fatalf("the reaper freed %d slots of a live client in another PID namespace", n)
		}
		time.Sleep(150 * time.Millisecond) // past the reaper's cached verdict
	}
	if n := shm.ListenerReadySlotsForTest(l); n != 1 {
		t.Fatalf("%d slots ready after the reaper ran, want the client's 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.AcceptContext(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer c.Close()
	expect(t, cmd, r, "connected")
	roundTrip(t, c, "ping")
	parkAcrossSweep(t, c)
	roundTrip(t, c, "pong")
	read := readAsync(c)
	kill := time.Now()
	if err := syscall.Kill(testproc.Innermost(t, cmd.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := <-read
	if !errors.Is(got.err, shm.ErrPeerGone) {
		t.Fatalf("Read after the client's SIGKILL: %v, want ErrPeerGone", got.err)
	}
	if d := got.at.Sub(kill); d > peerGoneWithin {
		t.Errorf("ErrPeerGone %v after the SIGKILL, want within %v", d, peerGoneWithin)
	}

	// A client killed while it waits in its slot is reaped.
	cmd2, _ := start()
	waitReady(1)
	kill2 := time.Now()
	if err := syscall.Kill(testproc.Innermost(t, cmd2.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for shm.ListenerReapForTest(l) == 0 {
		if time.Since(kill2) > 200*time.Millisecond {
			t.Fatalf("the dead client's slot not reaped 200 ms after its SIGKILL")
		}
		time.Sleep(time.Millisecond)
	}
	reaped := time.Since(kill2)
	if n := shm.ListenerReadySlotsForTest(l); n != 0 {
		t.Fatalf("%d slots ready after the reap, want 0", n)
	}
	t.Logf("after the client's SIGKILL: ErrPeerGone on its connection after %v; a waiting client's slot reaped after %v", got.at.Sub(kill), reaped)
}
