package shm_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// Mailbox layout offsets that the tests poke at (docs/layout.md, "Mailbox").
const (
	mbOffMagic    = 0x000
	mbOffVersion  = 0x004
	mbOffFlags    = 0x00C
	mbOffMaxValue = 0x010
	mbOffSlotSize = 0x018
	mbOffSlots    = 0x020
	mbOffLatest   = 0x080
	mbSlotsStart  = 0x1000
)

func init() {
	testproc.Register("mailbox-writer", mailboxWriter)
	testproc.Register("mailbox-reader", mailboxReader)
}

// mbStamp fills v (at least 16 bytes) with bytes that derive from seq: seq
// itself, then 8-byte words that mix seq with their index, and a CRC-32 of
// the rest in the last 4 bytes. Any mix of two versions fails mbCheck.
func mbStamp(v []byte, seq uint64) {
	binary.LittleEndian.PutUint64(v, seq)
	body := v[8 : len(v)-4]
	for i := 0; i+8 <= len(body); i += 8 {
		binary.LittleEndian.PutUint64(body[i:], mbWord(seq, i))
	}
	for i := len(body) &^ 7; i < len(body); i++ {
		body[i] = byte(seq)
	}
	binary.LittleEndian.PutUint32(v[len(v)-4:], crc32.ChecksumIEEE(v[:len(v)-4]))
}

// mbWord is the word at offset i of the body of version seq.
func mbWord(seq uint64, i int) uint64 { return seq*0x9E3779B97F4A7C15 ^ uint64(i)*0xBF58476D1CE4E5B9 }

// mbCheck checks a value made by mbStamp for version seq.
func mbCheck(v []byte, seq uint64) error {
	if len(v) < 16 {
		return fmt.Errorf("version %d: value of %d bytes", seq, len(v))
	}
	if got := binary.LittleEndian.Uint64(v); got != seq {
		return fmt.Errorf("version %d holds value %d", seq, got)
	}
	if got, want := binary.LittleEndian.Uint32(v[len(v)-4:]), crc32.ChecksumIEEE(v[:len(v)-4]); got != want {
		return fmt.Errorf("version %d (%d bytes): torn: checksum %#x, want %#x", seq, len(v), got, want)
	}
	body := v[8 : len(v)-4]
	for i := 0; i+8 <= len(body); i += 8 {
		if binary.LittleEndian.Uint64(body[i:]) != mbWord(seq, i) {
			return fmt.Errorf("version %d: torn at byte %d", seq, 8+i)
		}
	}
	for i := len(body) &^ 7; i < len(body); i++ {
		if body[i] != byte(seq) {
			return fmt.Errorf("version %d: torn at byte %d", seq, 8+i)
		}
	}
	return nil
}

// mbSize is the length of the value for version seq: 16 bytes up to max.
func mbSize(seq uint64, max int) int { return 16 + int(seq*7919%uint64(max-15)) }

func newMailbox(t testing.TB, maxValue int, opts ...shm.Option) *shm.Mailbox {
	t.Helper()
	name := newName(t)
	m, err := shm.CreateMailbox(name, maxValue, opts...)
	if err != nil {
		t.Fatalf("CreateMailbox(%q, %d): %v", name, maxValue, err)
	}
	t.Cleanup(func() { closeMailbox(t, m) })
	return m
}

func openMailbox(t testing.TB, name string, opts ...shm.Option) *shm.Mailbox {
	t.Helper()
	m, err := shm.OpenMailbox(name, opts...)
	if err != nil {
		t.Fatalf("OpenMailbox(%q): %v", name, err)
	}
	t.Cleanup(func() { closeMailbox(t, m) })
	return m
}

func closeMailbox(t testing.TB, m *shm.Mailbox) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Errorf("Close(%q): %v", m.Name(), err)
	}
}

func TestMailboxPublishLatest(t *testing.T) {
	w := newMailbox(t, 100)
	r := openMailbox(t, w.Name())
	if got := r.MaxValue(); got != 100 {
		t.Fatalf("MaxValue = %d, want 100", got)
	}
	v, ver, err := r.Latest(nil)
	if err != nil || ver != 0 || len(v) != 0 {
		t.Fatalf("Latest before Publish = %q, %d, %v; want empty, 0, nil", v, ver, err)
	}
	dst := make([]byte, 100)
	for i := uint64(1); i <= 5; i++ {
		val := make([]byte, mbSize(i, 100))
		mbStamp(val, i)
		if got, err := w.Publish(val); err != nil || got != i {
			t.Fatalf("Publish #%d = %d, %v", i, got, err)
		}
		v, ver, err := r.Latest(dst)
		if err != nil || ver != i {
			t.Fatalf("Latest = version %d, %v; want %d", ver, err, i)
		}
		if err := mbCheck(v, i); err != nil {
			t.Fatal(err)
		}
		if &v[0] != &dst[0] {
			t.Fatal("Latest did not copy into dst")
		}
	}
	if got, err := r.Version(); err != nil || got != 5 {
		t.Fatalf("Version = %d, %v; want 5", got, err)
	}
	if _, err := w.Publish(make([]byte, 101)); !errors.Is(err, shm.ErrTooLarge) {
		t.Fatalf("Publish(101 bytes) = %v, want ErrTooLarge", err)
	}
	if got, _ := r.Version(); got != 5 {
		t.Fatalf("Version after a refused Publish = %d, want 5", got)
	}
	// A short dst is replaced, not overrun.
	v, _, err = r.Latest(make([]byte, 3))
	if err != nil || mbCheck(v, 5) != nil {
		t.Fatalf("Latest into a short dst: %v, %v", err, mbCheck(v, 5))
	}
}

func TestMailboxLatestAllocs(t *testing.T) {
	m := newMailbox(t, 1<<20)
	if _, err := m.Publish(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, m.MaxValue())
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := m.Latest(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Latest into a big enough dst: %v allocations, want 0", allocs)
	}
}

func TestMailboxWriterRole(t *testing.T) {
	w := newMailbox(t, 64)
	other := openMailbox(t, w.Name())
	if _, err := other.Publish([]byte("x")); err != nil {
		t.Fatalf("first Publish from the opener: %v", err)
	}
	if _, err := w.Publish([]byte("y")); !errors.Is(err, shm.ErrBusy) {
		t.Fatalf("Publish from a second handle = %v, want ErrBusy", err)
	}
	// Closing the writing handle closes the mailbox for good.
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Publish([]byte("z")); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := w.Publish([]byte("y")); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Publish to a closed mailbox = %v, want ErrClosed", err)
	}
	v, ver, err := w.Latest(nil)
	if !errors.Is(err, io.EOF) || ver != 1 || string(v) != "x" {
		t.Fatalf("Latest of a closed mailbox = %q, %d, %v; want x, 1, EOF", v, ver, err)
	}
	if v, ver, err := w.WaitNewer(context.Background(), 0, nil); err != nil || ver != 1 || string(v) != "x" {
		t.Fatalf("WaitNewer(0) of a closed mailbox = %q, %d, %v; want x, 1, nil", v, ver, err)
	}
	if _, _, err := w.WaitNewer(context.Background(), 1, nil); !errors.Is(err, io.EOF) {
		t.Fatalf("WaitNewer(1) of a closed mailbox = %v, want EOF", err)
	}
}

func TestMailboxWaitNewer(t *testing.T) {
	for _, wait := range []shm.WaitStrategy{shm.Adaptive, shm.Spin, shm.Block} {
		t.Run(wait.String(), func(t *testing.T) {
			w := newMailbox(t, 64)
			r := openMailbox(t, w.Name(), shm.WithWait(wait))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := uint64(1); i <= 20; i++ {
					time.Sleep(time.Millisecond)
					val := make([]byte, 16)
					mbStamp(val, i)
					if _, err := w.Publish(val); err != nil {
						t.Errorf("Publish: %v", err)
						return
					}
				}
				if err := w.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			var last uint64
			var got int
			for {
				v, ver, err := r.WaitNewer(ctx, last, nil)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("WaitNewer(%d): %v", last, err)
				}
				if ver <= last {
					t.Fatalf("WaitNewer(%d) returned version %d", last, ver)
				}
				if err := mbCheck(v, ver); err != nil {
					t.Fatal(err)
				}
				last = ver
				got++
			}
			wg.Wait()
			if last != 20 {
				t.Fatalf("last version %d, want 20", last)
			}
			t.Logf("%d of 20 versions seen", got)
		})
	}
}

func TestMailboxWaitNewerContext(t *testing.T) {
	m := newMailbox(t, 64, shm.WithWait(shm.Block))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := m.WaitNewer(ctx, 0, nil); !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitNewer past its deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	// A cancel without a deadline wakes the parked reader at once, not at
	// the next 50 ms tick. A loaded machine can delay any one wakeup past
	// the tick, so the test passes if one of three tries is prompt.
	var took []time.Duration
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Millisecond, cancel)
		start := time.Now()
		if _, _, err := m.WaitNewer(ctx, 0, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitNewer after cancel = %v, want context.Canceled", err)
		}
		took = append(took, time.Since(start))
		if took[len(took)-1] < 45*time.Millisecond {
			return
		}
	}
	t.Errorf("WaitNewer returned %v after the cancel, want well under 50ms", took)
}

func TestMailboxUseAfterClose(t *testing.T) {
	m := newMailbox(t, 64)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := m.Latest(nil); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Latest after Close = %v, want ErrClosed", err)
	}
	if _, _, err := m.WaitNewer(context.Background(), 0, nil); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("WaitNewer after Close = %v, want ErrClosed", err)
	}
	if _, err := m.Version(); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Version after Close = %v, want ErrClosed", err)
	}
}

func TestMailboxCreateOpenErrors(t *testing.T) {
	for _, max := range []int{0, -1, int(shm.MaxSize)} {
		if _, err := shm.CreateMailbox(newName(t), max); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("CreateMailbox(max %d) = %v, want ErrInvalidSize", max, err)
		}
	}
	if _, err := shm.CreateMailbox(newName(t), 64, shm.ReadOnly()); !errors.Is(err, shm.ErrReadOnly) {
		t.Errorf("CreateMailbox(ReadOnly) = %v, want ErrReadOnly", err)
	}
	m := newMailbox(t, 64)
	if _, err := shm.CreateMailbox(m.Name(), 64); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateMailbox of an existing name = %v, want fs.ErrExist", err)
	}
	if _, err := shm.OpenMailbox(m.Name(), shm.ReadOnly()); !errors.Is(err, shm.ErrReadOnly) {
		t.Errorf("OpenMailbox(ReadOnly) = %v, want ErrReadOnly", err)
	}
	if _, err := shm.OpenMailbox(newName(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenMailbox of a missing name = %v, want fs.ErrNotExist", err)
	}
	if _, _, err := shm.OpenOrCreateMailbox(m.Name(), 65); !errors.Is(err, shm.ErrIncompatible) {
		t.Errorf("OpenOrCreateMailbox with another maximum = %v, want ErrIncompatible", err)
	}
	m2, created, err := shm.OpenOrCreateMailbox(m.Name(), 64)
	if err != nil || created {
		t.Fatalf("OpenOrCreateMailbox of an existing mailbox = %v, created %v", err, created)
	}
	closeMailbox(t, m2)
	name := newName(t)
	m3, created, err := shm.OpenOrCreateMailbox(name, 64, shm.RemoveOnClose())
	if err != nil || !created {
		t.Fatalf("OpenOrCreateMailbox of a new name = %v, created %v", err, created)
	}
	closeMailbox(t, m3)
	if exists(t, name) {
		t.Errorf("RemoveOnClose left %s behind", name)
	}
}

// TestMailboxOpenChecks breaks one header field at a time.
func TestMailboxOpenChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		off   int64
		value uint64
		size  int // bytes written: 4 or 8
		want  error
	}{
		{"magic", mbOffMagic, 0x434D4853, 4, shm.ErrNotChannel},
		{"version 1", mbOffVersion, 1, 4, shm.ErrVersionMismatch},
		{"version 3", mbOffVersion, 3, 4, shm.ErrVersionMismatch},
		{"incompatible flag", mbOffFlags, 1, 4, shm.ErrVersionMismatch},
		{"max value", mbOffMaxValue, 1 << 40, 8, shm.ErrCorrupt},
		{"max value zero", mbOffMaxValue, 0, 8, shm.ErrCorrupt},
		{"slot size", mbOffSlotSize, 256 + 128, 8, shm.ErrCorrupt},
		{"one slot", mbOffSlots, 1, 4, shm.ErrCorrupt},
		{"too many slots", mbOffSlots, 17, 4, shm.ErrCorrupt},
		{"slots beyond the segment", mbOffSlots, 4, 4, shm.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "slots beyond the segment" && runtime.GOOS == "windows" {
				t.Skip("a Windows opener maps whole pages")
			}
			m := newMailbox(t, 100)
			seg := open(t, m.Name())
			var err error
			if tc.size == 4 {
				err = seg.WriteUint32(tc.off, uint32(tc.value))
			} else {
				err = seg.WriteUint64(tc.off, tc.value)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := shm.OpenMailbox(m.Name(), shm.WithOpenTimeout(0)); !errors.Is(err, tc.want) {
				t.Fatalf("OpenMailbox = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("channel", func(t *testing.T) {
		ch := newChannel(t, 1<<10)
		if _, err := shm.OpenMailbox(ch.Name()); !errors.Is(err, shm.ErrNotChannel) {
			t.Fatalf("OpenMailbox of a channel = %v, want ErrNotChannel", err)
		}
	})
	t.Run("small segment", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("a Windows opener maps whole pages")
		}
		s := create(t, 100)
		if _, err := shm.OpenMailbox(s.Name()); !errors.Is(err, shm.ErrNotChannel) {
			t.Fatalf("OpenMailbox of a 100-byte segment = %v, want ErrNotChannel", err)
		}
	})
	t.Run("never initialised", func(t *testing.T) {
		s := create(t, 8192)
		if _, err := shm.OpenMailbox(s.Name(), shm.WithOpenTimeout(10*time.Millisecond)); !errors.Is(err, shm.ErrNotReady) {
			t.Fatalf("OpenMailbox of a zero segment = %v, want ErrNotReady", err)
		}
	})
}

// TestMailboxCorruptSlots breaks the slots under an open reader: Latest
// fails with ErrCorrupt, never panics and never hangs.
func TestMailboxCorruptSlots(t *testing.T) {
	m := newMailbox(t, 100)
	for range 4 {
		if _, err := m.Publish([]byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	seg := open(t, m.Name())
	slot := int64(mbSlotsStart + (4%3)*256) // version 4's slot
	if err := seg.WriteUint64(slot+8, 101); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Latest(nil); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Latest with a length over the maximum = %v, want ErrCorrupt", err)
	}
	if err := seg.WriteUint64(slot+8, 5); err != nil {
		t.Fatal(err)
	}
	if err := seg.WriteUint64(slot, 3); err != nil { // a sequence behind latest
		t.Fatal(err)
	}
	if _, _, err := m.Latest(nil); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Latest with a stale slot = %v, want ErrCorrupt", err)
	}
	if _, _, err := m.WaitNewer(context.Background(), 1, nil); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("WaitNewer with a stale slot = %v, want ErrCorrupt", err)
	}
	if err := seg.WriteUint64(mbOffLatest, 1<<63); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Version(); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Version with latest = 1<<63: %v, want ErrCorrupt", err)
	}
}

// mailboxWriter is a child: it opens the mailbox args[0] and publishes
// values made by mbStamp, of up to args[1] bytes, back to back, for
// args[2] (a duration) or until killed. It prints "ready" after its first
// publish, and closes the mailbox at the end if args[3] is "close".
func mailboxWriter(args []string) int {
	name, max := args[0], atoi(args[1])
	d, err := time.ParseDuration(args[2])
	if err != nil {
		return fail("bad duration: %v", err)
	}
	m, err := shm.OpenMailbox(name)
	if err != nil {
		return fail("OpenMailbox: %v", err)
	}
	val := make([]byte, max)
	deadline := time.Now().Add(d)
	for i := 0; i == 0 || time.Now().Before(deadline); i++ {
		cur, err := m.Version()
		if err != nil {
			return fail("Version: %v", err)
		}
		next := cur + 1
		v := val[:mbSize(next, max)]
		mbStamp(v, next)
		got, err := m.Publish(v)
		if err != nil {
			return fail("Publish %d: %v", next, err)
		}
		if got != next {
			return fail("Publish returned version %d, want %d", got, next)
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
	if len(args) > 3 && args[3] == "close" {
		if err := m.Close(); err != nil {
			return fail("Close: %v", err)
		}
	}
	return 0
}

// mailboxReader is a child: it reads the mailbox args[0] with Latest as fast
// as it can until the writer closes it, checks every value it reads (whole,
// and the one its version names) and that versions never go back, and prints
// "reads=N distinct=D skipped=S last=V" (reads of a value, not of the empty
// mailbox before the writer starts).
func mailboxReader(args []string) int {
	m, err := shm.OpenMailbox(args[0])
	if err != nil {
		return fail("OpenMailbox: %v", err)
	}
	defer m.Close()
	fmt.Println("ready")
	dst := make([]byte, m.MaxValue())
	var last, reads, distinct, skipped uint64
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		v, ver, err := m.Latest(dst)
		if err != nil && !errors.Is(err, io.EOF) {
			return fail("Latest: %v", err)
		}
		if ver < last {
			return fail("version went back from %d to %d", last, ver)
		}
		if ver > last {
			if ver > last+1 && last > 0 {
				skipped += ver - last - 1
			}
			distinct++
		}
		if ver > 0 {
			reads++
			if cerr := mbCheck(v, ver); cerr != nil {
				return fail("read %d: %v", reads, cerr)
			}
		}
		last = ver
		if err != nil {
			fmt.Printf("reads=%d distinct=%d skipped=%d last=%d\n", reads, distinct, skipped, last)
			return 0
		}
	}
	return fail("writer did not close within a minute")
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestMailboxCrossProcessStress runs a writer process that publishes
// checksummed values back to back and three reader processes that read as
// fast as they can: zero torn values, and versions only increase.
func TestMailboxCrossProcessStress(t *testing.T) {
	const max = 64 << 10
	m := newMailbox(t, max)
	d := "1s"
	if testing.Short() || raceEnabled {
		d = "300ms"
	}
	var readers []*exec.Cmd
	var outs []*bufio.Reader
	for range 3 {
		cmd := testproc.Command(t, "mailbox-reader", m.Name())
		outs = append(outs, startChild(t, cmd))
		readers = append(readers, cmd)
	}
	writer := testproc.Command(t, "mailbox-writer", m.Name(), strconv.Itoa(max), d, "close")
	startChild(t, writer)
	if err := writer.Wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	final, err := m.Version()
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range readers {
		line, _ := outs[i].ReadString('\n')
		if err := cmd.Wait(); err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		if !strings.Contains(line, fmt.Sprintf("last=%d", final)) {
			t.Errorf("reader %d: %q, want last=%d", i, strings.TrimSpace(line), final)
		}
		t.Logf("reader %d: %s", i, strings.TrimSpace(line))
	}
	t.Logf("writer published %d values of up to %d bytes", final, max)
}

// TestMailboxKillWriter kills a writer process with SIGKILL while it
// publishes, over and over on one mailbox, until at least 100 kills have
// landed in the middle of a publish (a slot marked odd). Each time, readers
// still get the last complete version, whole, and WaitNewer reports
// ErrPeerGone; the next writer takes the dead one's role over and carries on
// from the next version.
func TestMailboxKillWriter(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("timing")
	}
	const max = 256 << 10 // a publish takes tens of microseconds: most kills land inside one
	want := 100
	if testing.Short() || raceEnabled {
		want = 10
	}
	m := newMailbox(t, max)
	seg := open(t, m.Name())
	stride := int64(128 + max)
	rng := rand.New(rand.NewPCG(7, 8))
	dst := make([]byte, max)
	var midPublish, trials int
	var detect time.Duration
	start := time.Now()
	for midPublish < want {
		if trials >= 20*want || time.Since(start) > 90*time.Second {
			t.Fatalf("only %d of %d kills landed mid-publish in %v", midPublish, trials, time.Since(start))
		}
		trials++
		before, _ := m.Version()
		cmd := testproc.Command(t, "mailbox-writer", m.Name(), strconv.Itoa(max), "1m")
		startChild(t, cmd)
		// Kill at a random moment, but aim for the inside of a publish: watch
		// for the next slot to turn odd (the writer spends most of its time
		// making the next value, not copying it).
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		for aim := time.Now().Add(50 * time.Millisecond); time.Now().Before(aim); {
			l, err1 := seg.LoadUint64(mbOffLatest)
			s, err2 := seg.LoadUint64(mbSlotsStart + int64((l+1)%3)*stride)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if s == 2*(l+1)+1 {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		_ = cmd.Wait()

		latest, err := m.Version()
		if err != nil {
			t.Fatal(err)
		}
		if latest <= before {
			t.Fatalf("trial %d: version %d after the writer published from %d", trials, latest, before)
		}
		// Was the writer inside a publish? Then the next version's slot is odd.
		seq, err := seg.LoadUint64(mbSlotsStart + int64((latest+1)%3)*stride)
		if err != nil {
			t.Fatal(err)
		}
		if seq == 2*(latest+1)+1 {
			midPublish++
		}
		v, ver, err := m.Latest(dst)
		if err != nil || ver != latest {
			t.Fatalf("trial %d: Latest = version %d, %v; want %d", trials, ver, err, latest)
		}
		if err := mbCheck(v, ver); err != nil {
			t.Fatalf("trial %d: %v", trials, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err = m.WaitNewer(ctx, latest, dst)
		cancel()
		if !errors.Is(err, shm.ErrPeerGone) {
			t.Fatalf("trial %d: WaitNewer after the writer died = %v, want ErrPeerGone", trials, err)
		}
		detect += time.Since(killed)
	}
	t.Logf("%d writers killed, %d in the middle of a publish; readers always got the last complete version; mean time from SIGKILL to ErrPeerGone %v",
		trials, midPublish, (detect / time.Duration(trials)).Round(time.Millisecond))
}
