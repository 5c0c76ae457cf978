package interop_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Mailbox stream parameters: values of up to 600 bytes, each derived from its
// version (mbValue), so that a reader can tell a torn or misnumbered value.
const mbMax = 600

func mbCount() int {
	switch {
	case testing.Short():
		return 10_000
	case raceEnabled:
		return 30_000
	}
	return 100_000
}

func init() {
	testproc.Register("go-mb-hold", goMailboxHold)
}

// mbValue returns the value of version v for a mailbox of max bytes, as the
// C peer's mb_stamp makes it: 16 + v*7919 % (max-15) bytes; u64 v, u64 FNV-1a
// of the rest, then xorshift bytes seeded by v.
func mbValue(v uint64, max int) []byte {
	n := 16 + int(v*7919%uint64(max-15))
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, v)
	s := v*0x9E3779B97F4A7C15 | 1
	for i := 16; i < n; i++ {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		b[i] = byte(s)
	}
	binary.LittleEndian.PutUint64(b[8:], checksum(b[16:]))
	return b
}

// mbCheck checks that value is the whole value of version v.
func mbCheck(value []byte, v uint64, max int) error {
	if want := mbValue(v, max); string(value) != string(want) {
		return fmt.Errorf("version %d: torn or wrong value of %d bytes (want %d)", v, len(value), len(want))
	}
	return nil
}

// goMailboxHold is the Go twin of the C peer's mb-hold mode: it publishes
// the next three versions of the mailbox args[0], prints "ready" and sleeps
// until it is killed.
func goMailboxHold(args []string) int {
	mb, err := shm.OpenMailbox(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	v, err := mb.Version()
	for i := v + 1; i <= v+3 && err == nil; i++ {
		_, err = mb.Publish(mbValue(i, mb.MaxValue()))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return 1
}

// mbReader reads the mailbox until EOF, with WaitNewer or by polling Latest,
// and checks every value it sees and that versions only increase. It
// returns the number of versions it saw and the last one.
func mbReader(ctx context.Context, name string, w shm.WaitStrategy, poll bool) (seen, last uint64, err error) {
	mb, err := shm.OpenMailbox(name, shm.WithWait(w))
	if err != nil {
		return 0, 0, err
	}
	defer mb.Close()
	buf := make([]byte, mb.MaxValue())
	for {
		var (
			value []byte
			v     uint64
			rerr  error
		)
		if poll {
			value, v, rerr = mb.Latest(buf)
			if ctx.Err() != nil {
				return seen, last, ctx.Err()
			}
		} else {
			value, v, rerr = mb.WaitNewer(ctx, last, buf)
		}
		if rerr != nil && !(poll && errors.Is(rerr, io.EOF)) {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return seen, last, rerr
		}
		if v < last || (!poll && v == last) {
			return seen, last, fmt.Errorf("version %d after %d: versions must only increase", v, last)
		}
		if v > last {
			if err := mbCheck(value, v, mb.MaxValue()); err != nil {
				return seen, last, err
			}
			seen, last = seen+1, v
		}
		if rerr != nil { // io.EOF with the final value
			break
		}
	}
	// Once closed, Latest still gives the final value, with io.EOF.
	value, v, err := mb.Latest(buf)
	if !errors.Is(err, io.EOF) || v != last {
		return seen, last, fmt.Errorf("Latest after EOF = version %d, %v; want %d, io.EOF", v, err, last)
	}
	return seen, last, mbCheck(value, v, mb.MaxValue())
}

// TestMailboxCToGo runs a C writer that publishes stamped versions and Go
// readers (two waiting, one polling) that check every value they see: none
// torn, versions only increasing, the last one the final version, then
// io.EOF.
func TestMailboxCToGo(t *testing.T) {
	for _, m := range modes {
		t.Run("wait="+m.name, func(t *testing.T) {
			name := newName(t)
			count := mbCount()
			mb, err := shm.CreateMailbox(name, mbMax)
			if err != nil {
				t.Fatalf("CreateMailbox(%q): %v", name, err)
			}
			defer mb.Close()
			ctx := testContext(t, 5*time.Minute)
			var wg sync.WaitGroup
			type result struct {
				seen, last uint64
				err        error
			}
			results := make([]result, 3)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := &results[i]
					r.seen, r.last, r.err = mbReader(ctx, name, m.wait, i == 2)
				}()
			}
			start := time.Now()
			p := startPeer(t, false, "mb-write", name, strconv.Itoa(count), strconv.Itoa(mbMax))
			if lines := p.wait(); len(lines) != 1 || lines[0] != "mb-write: 0 shmchan: success" {
				t.Fatalf("C writer said %q", lines)
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil {
					t.Errorf("Go reader %d: %v", i, r.err)
				} else if r.last != uint64(count) {
					t.Errorf("Go reader %d: last version %d, want %d", i, r.last, count)
				}
				t.Logf("Go reader %d (poll=%v): saw %d of %d versions", i, i == 2, r.seen, count)
			}
			t.Logf("%d versions in %v", count, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestMailboxGoToC is the mirror image: a Go writer and C readers (one
// waiting, one polling), each checking every value it sees.
func TestMailboxGoToC(t *testing.T) {
	for _, m := range modes {
		t.Run("wait="+m.name, func(t *testing.T) {
			name := newName(t)
			count := mbCount()
			mb, err := shm.CreateMailbox(name, mbMax)
			if err != nil {
				t.Fatalf("CreateMailbox(%q): %v", name, err)
			}
			readers := []*peer{
				startPeer(t, false, "mb-read", name, strconv.Itoa(count), m.name, "wait"),
				startPeer(t, false, "mb-read", name, strconv.Itoa(count), m.name, "poll"),
			}
			for _, p := range readers {
				p.expect("ready")
			}
			start := time.Now()
			for i := 1; i <= count; i++ {
				v, err := mb.Publish(mbValue(uint64(i), mbMax))
				if err != nil || v != uint64(i) {
					t.Fatalf("Publish %d = %d, %v", i, v, err)
				}
			}
			if err := mb.Close(); err != nil {
				t.Fatal(err)
			}
			for i, p := range readers {
				lines := p.wait()
				if len(lines) != 3 || lines[2] != "mb-read: -1 EOF" ||
					!strings.HasPrefix(lines[1], "mb-read seen ") || !strings.HasSuffix(lines[1], fmt.Sprintf(" last %d torn 0", count)) {
					t.Fatalf("C reader %d said %q", i, lines)
				}
				t.Logf("C reader %d: %s", i, lines[1])
			}
			t.Logf("%d versions in %v", count, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestMailboxWriterDeath kills the writer's process, in each language, while
// a reader of the other waits: the reader gets ErrPeerGone (PEER_GONE in C),
// and what the dead writer published is still there. A new writer then
// takes over where the dead one left off.
func TestMailboxWriterDeath(t *testing.T) {
	t.Run("c-writer", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 100, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		p := startPeer(t, true, "mb-hold", name)
		p.expect("ready")
		ctx := testContext(t, time.Minute)
		value, v, err := mb.WaitNewer(ctx, 0, nil)
		if err != nil || v != 3 {
			t.Fatalf("WaitNewer = version %d, %v; want 3", v, err)
		}
		if err := mbCheck(value, 3, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.Publish([]byte("x")); !errors.Is(err, shm.ErrBusy) {
			t.Fatalf("Publish while the C writer lives: %v, want ErrBusy", err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := mb.WaitNewer(ctx, 3, nil)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond) // let the reader park
		p.kill()
		start := time.Now()
		if err := <-done; !errors.Is(err, shm.ErrPeerGone) {
			t.Fatalf("WaitNewer after the C writer was killed: %v, want ErrPeerGone", err)
		}
		t.Logf("ErrPeerGone after %v", time.Since(start).Round(time.Millisecond))
		if v, err := mb.Publish(mbValue(4, 100)); err != nil || v != 4 {
			t.Fatalf("Publish after the C writer died = %d, %v; want version 4", v, err)
		}
	})
	t.Run("go-writer", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		g := startGo(t, "go-mb-hold", name)
		g.expect(t, "ready")
		p := startPeer(t, true, "mb-wait", name)
		p.expect("ready")
		time.Sleep(20 * time.Millisecond) // let the reader park
		if err := g.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = g.cmd.Wait()
		lines := p.wait()
		if strings.Join(lines[1:], "; ") != "mb-wait last 3; mb-wait: -7 shmchan: peer process is gone" {
			t.Fatalf("C reader said %q after the Go writer was killed, want PEER_GONE after version 3", lines)
		}
		// A C writer takes over from the dead Go writer and continues from version 3.
		h := startPeer(t, true, "mb-hold", name)
		h.expect("ready")
		h.kill()
		value, v, err := mb.Latest(nil)
		if err != nil || v != 6 {
			t.Fatalf("Latest = version %d, %v; want 6 (the C writer continued from 3)", v, err)
		}
		if err := mbCheck(value, 6, 100); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMailboxMixedCreation opens in Go a mailbox that C created, wrote and
// closed, and in C a mailbox that Go created, wrote and closed.
func TestMailboxMixedCreation(t *testing.T) {
	t.Run("c-creates", func(t *testing.T) {
		name := newName(t)
		// The C creator keeps a handle until its stdin closes: on Windows the
		// name lives only as long as some handle to it.
		p := startPeer(t, true, "mb-create", name, "5", "1000")
		p.expect("ready")
		defer p.wait()
		defer p.stdin.Close()
		mb, err := shm.OpenMailbox(name)
		if err != nil {
			t.Fatalf("OpenMailbox(%q) of a C mailbox: %v", name, err)
		}
		defer mb.Close()
		if mb.MaxValue() != 1000 {
			t.Fatalf("MaxValue = %d, want 1000", mb.MaxValue())
		}
		value, v, err := mb.Latest(nil)
		if !errors.Is(err, io.EOF) || v != 5 {
			t.Fatalf("Latest = version %d, %v; want 5, io.EOF", v, err)
		}
		if err := mbCheck(value, 5, 1000); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.Publish([]byte("x")); !errors.Is(err, shm.ErrClosed) {
			t.Fatalf("Publish on a mailbox the C writer closed: %v, want ErrClosed", err)
		}
		if _, _, err := shm.OpenOrCreateMailbox(name, 999); !errors.Is(err, shm.ErrIncompatible) {
			t.Fatalf("OpenOrCreateMailbox with another maximum: %v, want ErrIncompatible", err)
		}
	})
	t.Run("go-creates", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 1000)
		if err != nil {
			t.Fatal(err)
		}
		// A second handle keeps the name after the writer's Close (Windows).
		keep, err := shm.OpenMailbox(name)
		if err != nil {
			t.Fatal(err)
		}
		defer keep.Close()
		for i := uint64(1); i <= 7; i++ {
			if _, err := mb.Publish(mbValue(i, 1000)); err != nil {
				t.Fatal(err)
			}
		}
		if err := mb.Close(); err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, true, "mb-read", name, "7", "block", "wait")
		p.expect("ready")
		if lines := p.wait(); strings.Join(lines[1:], "; ") != "mb-read seen 1 last 7 torn 0; mb-read: -1 EOF" {
			t.Fatalf("C reader of a closed Go mailbox said %q", lines)
		}
	})
}

// TestMailboxWakeAcrossLanguages checks that a writer in one language wakes
// a reader of the other parked on the wait word (a futex on Linux, the named
// event "Local\shmchan.wake:NAME.mbwake" on Windows) at once, not at its
// 50 ms tick: a reader woken only by the tick would take about 45 ms per
// round here, since it parks about 5 ms before each publish.
func TestMailboxWakeAcrossLanguages(t *testing.T) {
	const rounds = 20
	const limit = 20 * time.Millisecond // average wake latency; the tick alone gives about 45 ms
	check := func(t *testing.T, total time.Duration) {
		t.Helper()
		avg := total / rounds
		t.Logf("average wake latency %v over %d rounds", avg.Round(time.Microsecond), rounds)
		if avg > limit {
			t.Errorf("average wake latency %v, want under %v: is the reader woken at all, or only by its tick?", avg, limit)
		}
	}
	t.Run("go-writer", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 100)
		if err != nil {
			t.Fatal(err)
		}
		p := startPeer(t, false, "mb-echo", name)
		p.expect("ready")
		var total time.Duration
		for i := uint64(1); i <= rounds; i++ {
			time.Sleep(5 * time.Millisecond) // let the C reader park
			start := time.Now()
			if _, err := mb.Publish(mbValue(i, 100)); err != nil {
				t.Fatal(err)
			}
			p.expect(fmt.Sprintf("got %d", i))
			total += time.Since(start)
		}
		if err := mb.Close(); err != nil {
			t.Fatal(err)
		}
		if lines := p.wait(); lines[len(lines)-1] != "mb-echo: -1 EOF" {
			t.Fatalf("C reader said %q", lines)
		}
		check(t, total)
	})
	t.Run("c-writer", func(t *testing.T) {
		name := newName(t)
		mb, err := shm.CreateMailbox(name, 100, shm.WithWait(shm.Block))
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		p := startPeer(t, false, "mb-step", name)
		p.expect("ready")
		ctx := testContext(t, time.Minute)
		var total time.Duration
		for i := uint64(1); i <= rounds; i++ {
			type result struct {
				v   uint64
				err error
				at  time.Time
			}
			got := make(chan result, 1)
			go func() {
				_, v, err := mb.WaitNewer(ctx, i-1, nil)
				got <- result{v, err, time.Now()}
			}()
			time.Sleep(5 * time.Millisecond) // let the Go reader park
			start := time.Now()
			if _, err := io.WriteString(p.stdin, "publish\n"); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.err != nil || r.v != i {
				t.Fatalf("WaitNewer = version %d, %v; want %d", r.v, r.err, i)
			}
			total += r.at.Sub(start)
		}
		_ = p.stdin.Close()
		if lines := p.wait(); lines[len(lines)-1] != "mb-step: 0 shmchan: success" {
			t.Fatalf("C writer said %q", lines)
		}
		check(t, total)
	})
}
