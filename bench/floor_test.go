//go:build unix

package bench

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// The floors: what two processes pay to hand a turn back and forth with no
// ring, no payload and no library in between. Each uses one 32-bit word at
// offset 0 of a fresh /dev/shm page. The parent stores 2i+1 to hand turn i
// to the child; the child answers with 2i+2. floorStop ends the child.
//
//   - floor-atomic: both sides spin on the word with sync/atomic, so one
//     cache line bounces between the two cores: the hardware's limit.
//   - floor-futex: both sides sleep in FUTEX_WAIT on the word and wake the
//     other with FUTEX_WAKE after every store, unconditionally: what a
//     kernel wakeup costs (see floor_linux_test.go).

const floorStop = ^uint32(0)

// floor is one kind of floor: the parent's and the child's half of a turn.
type floor struct {
	name string
	// await waits until the word holds want. It reports false if it gave up
	// because dead says the peer is gone.
	await func(word *uint32, want uint32, dead func() bool) bool
	// hand stores v in the word and, for the futex floor, wakes the peer.
	hand func(word *uint32, v uint32)
}

var floors []*floor

func registerFloor(f *floor) {
	floors = append(floors, f)
	testproc.Register("bench-"+f.name, func(args []string) int {
		if err := floorChild(f, args); err != nil {
			fmt.Fprintf(os.Stderr, "bench-%s: %v\n", f.name, err)
			return 1
		}
		return 0
	})
}

func init() {
	registerFloor(&floor{name: "floor-atomic", await: spinAwait, hand: atomicHand})
}

// floorNamed returns the floor called name.
func floorNamed(tb testing.TB, name string) *floor {
	tb.Helper()
	for _, f := range floors {
		if f.name == name {
			return f
		}
	}
	tb.Skipf("bench: no floor %q on this platform", name)
	return nil
}

// spinAwait spins on the word. Every 1<<16 loads it asks dead.
func spinAwait(word *uint32, want uint32, dead func() bool) bool {
	for i := 1; ; i++ {
		// SYNC(floor): acquire. Takes the turn; pairs with the store in the
		// peer's hand.
		if atomic.LoadUint32(word) == want {
			return true
		}
		if i&(1<<16-1) == 0 && dead() {
			return false
		}
	}
}

func atomicHand(word *uint32, v uint32) {
	// SYNC(floor): release. Hands the turn over; pairs with the load in the
	// peer's await.
	atomic.StoreUint32(word, v)
}

// floorWord maps the word of a floor page.
func floorWord(seg *shm.Segment) *uint32 {
	return (*uint32)(unsafe.Pointer(&seg.Bytes()[0]))
}

// floorChild answers turns until the parent stores floorStop, or exits if
// the parent dies.
func floorChild(f *floor, args []string) error {
	defer pinHot(1)()
	name, err := argValue(args, "name")
	if err != nil {
		return err
	}
	seg, err := shm.Open(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	word := floorWord(seg)
	ppid := os.Getppid()
	parentGone := func() bool { return os.Getppid() != ppid }
	fmt.Println("ready")
	for want := uint32(1); ; want += 2 {
		if !f.await(word, want, func() bool {
			// SYNC(floor): the stop value; pairs with the parent's final hand.
			return atomic.LoadUint32(word) == floorStop || parentGone()
		}) {
			if parentGone() {
				return fmt.Errorf("parent gone at turn %d", want/2)
			}
			return nil // floorStop
		}
		f.hand(word, want+1)
	}
}

// floorRun is the parent's side of a running floor.
type floorRun struct {
	f    *floor
	word *uint32
	pr   *peer
	dead func() bool // pr.dead, bound once: a method value per turn would allocate
}

// startFloor maps a fresh page and starts the child of floor f on it.
func startFloor(tb testing.TB, f *floor) *floorRun {
	tb.Helper()
	name := testproc.Name(tb, "bench")
	seg, err := shm.Create(name, 4096)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		seg.Close()
		shm.Remove(name)
	})
	r := &floorRun{f: f, word: floorWord(seg), pr: newPeer(f.name)}
	r.dead = r.pr.dead
	r.pr.spawn(tb, "bench-"+f.name, []string{"name=" + name}, nil, nil)
	r.pr.ready(tb)
	return r
}

// turn hands turn i to the child and waits for its answer.
func (r *floorRun) turn(tb testing.TB, i int) {
	v := uint32(2*i + 1)
	r.f.hand(r.word, v)
	if !r.f.await(r.word, v+1, r.dead) {
		tb.Fatalf("floor %s: peer gone at turn %d: %v", r.f.name, i, r.pr.wait(time.Second))
	}
}

// stop ends the child and waits for it.
func (r *floorRun) stop(tb testing.TB) {
	r.f.hand(r.word, floorStop)
	if err := r.pr.wait(20 * time.Second); err != nil {
		tb.Fatal(err)
	}
}

// floorPingPong measures round trips through the floor f.
func floorPingPong(b *testing.B, f *floor) {
	defer pinHot(0)()
	r := startFloor(b, f)
	for i := range warmupRounds {
		r.turn(b, i)
	}
	h := newHistogram()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		r.turn(b, warmupRounds+i)
		if err := h.RecordValue(int64(time.Since(t0))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportLatency(b, h)
	r.stop(b)
}
