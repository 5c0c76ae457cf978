//go:build unix

package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// BenchmarkPaired takes the ratios of issue 16's latency goals between
// round trips that run milliseconds apart, in one pair of processes.
//
// The host of these runs has two speeds: the cache-line floor itself
// measures 100–170 ns or 391–451 ns, and changes between them within a
// second (docs/design.md, "The machine's two speeds"). BenchmarkPingPong
// runs each transport in its own pair of processes, seconds apart, so a
// ratio to the floor taken within one round is often a fast floor against a
// slow channel, or the reverse: the rounds of one report gave 8 B spin ÷
// floor from 1.53× to 2.90×. Here one child serves every arm of
// bench.PairedArms (the floors, the bare ring of proto_test.go, and
// shmchan's transports at 8 and 64 bytes)
// and the parent runs them in turn, a block of pairedBlock round trips
// each (the first half timed one by one, the second as a whole), cycle
// after cycle: both sides know the schedule, so only the arm
// being measured spins, and an arm's block is at most a few milliseconds
// from the floor's block of the same cycle. Each cycle gives every arm the
// p50 of its block and its ratio to the floor's; the arm's results are
// the medians over the cycles.
//
// Each arm is reported as BenchmarkPaired/transport=T/size=N:
//
//	p50-ns            median over the cycles of the block's p50
//	ratio             median of the per-cycle ratio p50 ÷ floor-atomic's p50 (the clock's
//	                  share included on both sides, as in the goals table)
//	mean-ns           median over the cycles of the mean round trip of the block's second
//	                  half, timed as a whole: without the clock's cost (BenchmarkClock) and
//	                  its 10 ns steps, both in every p50; mean-ratio is its ratio
//	ratio-p10, -p90   the spread of the per-cycle ratios
//	fast-ratio        the median ratio over the cycles whose floor block ran fast (below
//	                  1.6× the floor blocks' 10th percentile), slow-ratio over the others
//	payload64-ratio   64-byte arms: ratio to floor-payload64 of the same cycle
//
// and floor-atomic reports slow-share, the fraction of its blocks that ran
// slow.
func BenchmarkPaired(b *testing.B) {
	res := runPaired(b, pairedCycles, pairedBlock)
	for _, r := range res {
		b.Run(fmt.Sprintf("transport=%s/size=%d", r.arm.Transport, r.arm.Size), func(b *testing.B) {
			for range b.N {
			}
			for _, m := range r.metrics {
				b.ReportMetric(m.v, m.unit)
			}
		})
	}
}

const (
	pairedCycles = 300  // cycles of BenchmarkPaired
	pairedBlock  = 1000 // round trips per arm per cycle
	pairedWarm   = 3    // untimed cycles first
	// pairedSlow is where a floor block counts as slow: this many times the
	// 10th percentile of the run's floor blocks.
	pairedSlow = 1.6
)

// pairedArm is the parent's half of an arm.
type pairedArm struct {
	arm    PairedArm
	turn   func(i int) error    // round trip i
	accept func() (conn, error) // a channel arm's end, once the child has dialled
	c      conn                 // what accept returned
}

// pairedMetric is one figure an arm reports.
type pairedMetric struct {
	v    float64
	unit string
}

// pairedResult is an arm's figures.
type pairedResult struct {
	arm     PairedArm
	metrics []pairedMetric
}

func init() {
	testproc.Register("bench-paired", func(args []string) int {
		defer pinHot(1)()
		if err := pairedChild(args); err != nil {
			fmt.Fprintf(os.Stderr, "bench-paired: %v\n", err)
			return 1
		}
		return 0
	})
}

// runPaired starts the child, runs cycles cycles of block round trips per
// arm, and returns every arm's figures.
func runPaired(tb testing.TB, cycles, block int) []pairedResult {
	tb.Helper()
	defer pinHot(0)()
	pr := newPeer("paired")
	var args []string
	arms := make([]*pairedArm, len(PairedArms))
	for a, spec := range PairedArms {
		arm := &pairedArm{arm: spec}
		arms[a] = arm
		switch spec.Transport {
		case "floor-atomic", "floor-atomic+work":
			name := testproc.Name(tb, "bench")
			seg := createPage(tb, name, 4096)
			word := floorWord(seg)
			var work func() error
			if spec.Transport == "floor-atomic+work" {
				work = localWork(tb, spec.Size)
				args = append(args, fmt.Sprintf("arm%d=work:%s:%d", a, name, spec.Size))
			} else {
				args = append(args, fmt.Sprintf("arm%d=floor:%s", a, name))
			}
			arm.turn = func(i int) error {
				if work != nil {
					if err := work(); err != nil {
						return err
					}
				}
				v := uint32(2*i + 1)
				atomicHand(word, v)
				if !spinAwait(word, v+1, pr.dead) {
					return errors.New("peer gone")
				}
				return nil
			}
		case "proto-ring":
			name := testproc.Name(tb, "bench")
			rs := ringSpec{size: spec.Size, slot: slotFor(spec.Size, false), k: 1}
			seg := createPage(tb, name, int64(protoData+2*rs.ringBytes()))
			data := seg.Bytes()[protoData:]
			tx, rx := newRing(rs, data), newRing(rs, data[rs.ringBytes():])
			args = append(args, fmt.Sprintf("arm%d=ring:%s:%d", a, name, spec.Size))
			msg, buf := make([]byte, spec.Size), make([]byte, spec.Size)
			arm.turn = func(i int) error {
				binary.LittleEndian.PutUint64(msg, uint64(i))
				if !tx.send(msg, pr.dead) {
					return errors.New("peer gone")
				}
				if seq, ok := rx.recv(buf, pr.dead); !ok || seq != uint64(i) {
					return fmt.Errorf("reply carries %d (peer gone: %v)", seq, !ok)
				}
				return nil
			}
		case "floor-payload64":
			name := testproc.Name(tb, "bench")
			seg := createPage(tb, name, protoData+256)
			s, _ := turnNamed(floorPayload64)
			args = append(args, fmt.Sprintf("arm%d=payload:%s", a, name))
			arm.turn = payloadTurn(seg.Bytes()[protoData:], s, pr.dead)
		default:
			tr, err := lookup(spec.Transport)
			if err != nil {
				tb.Fatal(err)
			}
			l, err := tr.listen(tb, spec.Size)
			if err != nil {
				tb.Fatalf("bench: listen %s: %v", tr.name, err)
			}
			args = append(args, fmt.Sprintf("arm%d=chan:%s:%d:%s", a, spec.Transport, spec.Size, strings.Join(l.args, ",")))
			arm.accept = l.accept
			msg, buf := make([]byte, spec.Size), make([]byte, 0, spec.Size)
			arm.turn = func(i int) error {
				_, err := roundTrip(arm.c, msg, buf, uint64(i), false)
				return err
			}
		}
	}
	args = append(args, "cycles="+strconv.Itoa(cycles), "block="+strconv.Itoa(block))
	pr.spawn(tb, "bench-paired", args, nil, nil)
	for _, arm := range arms {
		if arm.accept == nil {
			continue
		}
		c, err := arm.accept()
		if err != nil {
			tb.Fatalf("bench: paired accept %s: %v (peer: %v)", arm.arm.Transport, err, pr.wait(5*time.Second))
		}
		arm.c = c
	}
	pr.ready(tb)

	// p50[a][c] is arm a's block p50 in cycle c.
	p50 := make([][]float64, len(arms))
	for a := range p50 {
		p50[a] = make([]float64, cycles)
	}
	// mean[a][c] is its mean round trip over the block's untimed half.
	mean := make([][]float64, len(arms))
	for a := range mean {
		mean[a] = make([]float64, cycles)
	}
	h := newHistogram()
	next := make([]int, len(arms))
	for c := -pairedWarm; c < cycles; c++ {
		for a, arm := range arms {
			h.Reset()
			// The first half of the block is timed round trip by round
			// trip, for the p50; the second half as a whole, for the mean,
			// which then has neither the clock's cost nor its 10 ns steps.
			timed := block / 2
			// fail reports a failed round trip; the loops call the arm's
			// turn directly, so that the timed path has no extra call.
			fail := func(err error) {
				tb.Fatalf("bench: paired %s/%d cycle %d turn %d: %v (peer: %v)", arm.arm.Transport, arm.arm.Size, c, next[a], err, pr.wait(time.Second))
			}
			for range timed {
				t0 := time.Now()
				err := arm.turn(next[a])
				d := time.Since(t0)
				if err != nil {
					fail(err)
				}
				next[a]++
				if err := h.RecordValue(int64(d)); err != nil {
					tb.Fatal(err)
				}
			}
			start := time.Now()
			for range block - timed {
				if err := arm.turn(next[a]); err != nil {
					fail(err)
				}
				next[a]++
			}
			if c >= 0 {
				p50[a][c] = float64(h.ValueAtQuantile(50))
				mean[a][c] = float64(time.Since(start)) / float64(block-timed)
			}
		}
	}
	for _, arm := range arms {
		if arm.c != nil {
			if err := arm.c.close(); err != nil {
				tb.Error(err)
			}
		}
	}
	if err := pr.wait(20 * time.Second); err != nil {
		tb.Fatal(err)
	}
	return pairedFigures(PairedArms, p50, mean)
}

// createPage creates a segment of size bytes, removed at the end of tb.
func createPage(tb testing.TB, name string, size int64) *shm.Segment {
	tb.Helper()
	seg, err := shm.Create(name, size)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		seg.Close()
		shm.Remove(name)
	})
	return seg
}

// localWork returns what floor-atomic+work adds to each side's half of a
// turn: one Send and one Recv of a size-byte message through a channel of
// this process alone, with the ring of the transports' size (ringFor): the
// library's own work on a message, with no line of it shared with the other
// process. The channel is removed at the end of tb.
func localWork(tb testing.TB, size int) func() error {
	tb.Helper()
	work, done, err := newLocalWork(testproc.Name(tb, "benchw"), size)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { done() })
	return work
}

// newLocalWork makes localWork's channel, called name, and returns the work
// and what removes the channel.
func newLocalWork(name string, size int) (work func() error, done func() error, err error) {
	ch, err := shm.CreateChannel(name, ringFor(size), shm.WithWait(shm.Spin))
	if err != nil {
		return nil, nil, err
	}
	done = func() error { return errors.Join(ch.Close(), shm.Remove(name)) }
	tx, err := ch.Sender()
	if err != nil {
		return nil, nil, errors.Join(err, done())
	}
	rx, err := ch.Receiver()
	if err != nil {
		return nil, nil, errors.Join(err, done())
	}
	msg, buf := make([]byte, size), make([]byte, 0, size)
	return func() error {
		if err := tx.Send(msg); err != nil {
			return err
		}
		_, err := rx.Recv(buf[:0])
		return err
	}, done, nil
}

// payloadTurn is the parent's round trip of the turn s (floor-payload64).
func payloadTurn(data []byte, s turnSpec, dead func() bool) func(i int) error {
	msg, buf := make([]byte, s.size), make([]byte, s.size)
	return func(i int) error {
		binary.LittleEndian.PutUint64(msg, uint64(i))
		turnHand(data, msg, s.pingPay, s.pingSeq, uint64(2*i+1))
		if !spinFor(word(data, s.pongSeq), uint64(2*i+2), false, dead) {
			return errors.New("peer gone")
		}
		copy(buf, data[s.pongPay:s.pongPay+s.size])
		if got := binary.LittleEndian.Uint64(buf); got != uint64(i) {
			return fmt.Errorf("reply carries %d", got)
		}
		return nil
	}
}

// pairedFigures turns the block p50s into every arm's figures. Arm 0 is
// floor-atomic, the denominator of every ratio.
func pairedFigures(arms []PairedArm, p50, mean [][]float64) []pairedResult {
	floor := p50[0]
	fast := quantile(floor, 0.1) // a robust "fastest": a single block can be an outlier
	slow := func(c int) bool { return floor[c] > pairedSlow*fast }
	payload := -1
	for a, arm := range arms {
		if arm.Transport == "floor-payload64" {
			payload = a
		}
	}
	var out []pairedResult
	for a, arm := range arms {
		r := pairedResult{arm: arm}
		r.metrics = append(r.metrics, pairedMetric{quantile(p50[a], 0.5), "p50-ns"}, pairedMetric{quantile(mean[a], 0.5), "mean-ns"})
		if a == 0 {
			n := 0
			for c := range floor {
				if slow(c) {
					n++
				}
			}
			r.metrics = append(r.metrics, pairedMetric{float64(n) / float64(len(floor)), "slow-share"})
			out = append(out, r)
			continue
		}
		var all, fst, slw, pay, mq []float64
		for c := range floor {
			q := p50[a][c] / floor[c]
			all = append(all, q)
			mq = append(mq, mean[a][c]/mean[0][c])
			if slow(c) {
				slw = append(slw, q)
			} else {
				fst = append(fst, q)
			}
			if payload >= 0 && arm.Size == 64 && a != payload {
				pay = append(pay, p50[a][c]/p50[payload][c])
			}
		}
		r.metrics = append(r.metrics,
			pairedMetric{quantile(all, 0.5), "ratio"},
			pairedMetric{quantile(all, 0.1), "ratio-p10"},
			pairedMetric{quantile(all, 0.9), "ratio-p90"})
		r.metrics = append(r.metrics, pairedMetric{quantile(mq, 0.5), "mean-ratio"})
		if len(fst) > 0 {
			r.metrics = append(r.metrics, pairedMetric{quantile(fst, 0.5), "fast-ratio"})
		}
		if len(slw) > 0 {
			r.metrics = append(r.metrics, pairedMetric{quantile(slw, 0.5), "slow-ratio"})
		}
		if len(pay) > 0 {
			r.metrics = append(r.metrics, pairedMetric{quantile(pay, 0.5), "payload64-ratio"})
		}
		out = append(out, r)
	}
	return out
}

// quantile returns the q-quantile of vs (nearest rank below; the mean of
// the middle two for the median of an even count), or 0 for none.
func quantile(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[i]
}

// pairedChild serves every arm, block after block, as runPaired runs them.
func pairedChild(args []string) error {
	ppid := os.Getppid()
	gone := func() bool { return os.Getppid() != ppid }
	kv := map[string]string{}
	var armArgs []string
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		kv[k] = v
		if strings.HasPrefix(k, "arm") {
			armArgs = append(armArgs, k)
		}
	}
	cycles, err := strconv.Atoi(kv["cycles"])
	if err != nil {
		return fmt.Errorf("cycles: %w", err)
	}
	block, err := strconv.Atoi(kv["block"])
	if err != nil {
		return fmt.Errorf("block: %w", err)
	}
	arms := make([]func(i int) error, len(armArgs))
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	// open opens the segment an arm's argument names, "NAME" or
	// "NAME:SIZE", for the rest of the child's life, and returns the size
	// (0 if none).
	open := func(arg string) (*shm.Segment, int, error) {
		name, sz, sized := strings.Cut(arg, ":")
		size := 0
		if sized {
			var err error
			if size, err = strconv.Atoi(sz); err != nil {
				return nil, 0, fmt.Errorf("arm %q: %w", arg, err)
			}
		}
		seg, err := shm.Open(name)
		if err != nil {
			return nil, 0, err
		}
		closers = append(closers, seg.Close)
		return seg, size, nil
	}
	for a := range arms {
		kind, rest, _ := strings.Cut(kv["arm"+strconv.Itoa(a)], ":")
		switch kind {
		case "floor", "work":
			seg, size, err := open(rest)
			if err != nil {
				return err
			}
			word := floorWord(seg)
			var work func() error
			if kind == "work" {
				var done func() error
				if work, done, err = newLocalWork(testproc.ProcessPrefix("benchw")+strconv.Itoa(a), size); err != nil {
					return err
				}
				closers = append(closers, done)
			}
			arms[a] = func(i int) error {
				if !spinAwait(word, uint32(2*i+1), gone) {
					return errors.New("parent gone")
				}
				if work != nil {
					if err := work(); err != nil {
						return err
					}
				}
				atomicHand(word, uint32(2*i+2))
				return nil
			}
		case "ring":
			seg, size, err := open(rest)
			if err != nil {
				return err
			}
			rs := ringSpec{size: size, slot: slotFor(size, false), k: 1}
			data := seg.Bytes()[protoData:]
			rx, tx := newRing(rs, data), newRing(rs, data[rs.ringBytes():])
			buf := make([]byte, size)
			arms[a] = func(i int) error {
				if _, ok := rx.recv(buf, gone); !ok {
					return errors.New("parent gone")
				}
				if !tx.send(buf, gone) {
					return errors.New("parent gone")
				}
				return nil
			}
		case "payload":
			seg, _, err := open(rest)
			if err != nil {
				return err
			}
			data := seg.Bytes()[protoData:]
			s, _ := turnNamed(floorPayload64)
			buf := make([]byte, s.size)
			arms[a] = func(i int) error {
				if !spinFor(word(data, s.pingSeq), uint64(2*i+1), false, gone) {
					return errors.New("parent gone")
				}
				copy(buf, data[s.pingPay:s.pingPay+s.size])
				turnHand(data, buf, s.pongPay, s.pongSeq, uint64(2*i+2))
				return nil
			}
		case "chan":
			parts := strings.SplitN(rest, ":", 3)
			if len(parts) != 3 {
				return fmt.Errorf("arm %d: bad channel arm %q", a, rest)
			}
			name, list := parts[0], parts[2]
			size, err := strconv.Atoi(parts[1])
			if err != nil {
				return fmt.Errorf("arm %d: %w", a, err)
			}
			tr, err := lookup(name)
			if err != nil {
				return err
			}
			c, err := tr.dial(strings.Split(list, ","), nil, size)
			if err != nil {
				return fmt.Errorf("dial %s: %w", name, err)
			}
			closers = append(closers, c.close)
			buf := make([]byte, 0, size)
			arms[a] = func(int) error {
				m, err := c.recv(buf[:0])
				if err != nil {
					return err
				}
				return c.send(m)
			}
		default:
			return fmt.Errorf("arm %d: bad kind %q", a, kind)
		}
	}
	fmt.Println("ready")
	next := make([]int, len(arms))
	for c := -pairedWarm; c < cycles; c++ {
		for a, serve := range arms {
			for range block {
				if err := serve(next[a]); err != nil {
					return fmt.Errorf("arm %d cycle %d turn %d: %w", a, c, next[a], err)
				}
				next[a]++
			}
		}
	}
	return nil
}

// TestPaired runs BenchmarkPaired's schedule briefly and checks that every
// arm reports.
func TestPaired(t *testing.T) {
	res := runPaired(t, 4, 50)
	if len(res) != len(PairedArms) {
		t.Fatalf("%d arms reported, want %d", len(res), len(PairedArms))
	}
	for _, r := range res {
		t.Logf("%s/%d: %v", r.arm.Transport, r.arm.Size, r.metrics)
		if r.metrics[0].unit != "p50-ns" || r.metrics[0].v <= 0 {
			t.Errorf("%s/%d: no p50: %v", r.arm.Transport, r.arm.Size, r.metrics)
		}
	}
}
