// Command frames shares video frames between two processes through a
// shmchan mailbox: a writer publishes 1920x1080 RGBA frames (8,294,400
// bytes) at 60 frames per second, and a reader in another process shows the
// latency of each frame it gets and how many it skipped.
//
// It is the use case of the article that started shmchan (a flag byte, a
// length and a payload in one shared map), done so that a reader can trust
// what it reads: a reader never sees half of one frame and half of the next,
// never slows the writer down, and sleeps until a new frame is there.
//
// The writer starts a copy of itself as the reader. The reader pretends to
// process each frame for a random time between 0 and twice -work (12 ms by
// default, against a frame every 16.7 ms): after a quick frame it waits in
// WaitNewer and is woken by the next Publish, which shows the wake-up
// latency; after a slow one the newest frame is already there, and the
// frames published meanwhile are skipped, as a slow consumer of a live feed
// should.
//
//	go run ./examples/frames
//	go run ./examples/frames -duration 10s -work 0
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/shmchan/shmchan/shm"
)

const (
	width     = 1920
	height    = 1080
	frameSize = width * height * 4 // RGBA
)

func main() {
	var (
		duration = flag.Duration("duration", 3*time.Second, "how long the writer publishes frames")
		fps      = flag.Int("fps", 60, "frames per second the writer publishes")
		work     = flag.Duration("work", 12*time.Millisecond, "mean time the reader pretends to process a frame (each takes 0 to twice this)")
		wait     = flag.String("wait", "adaptive", "the reader's wait strategy: spin, adaptive or block")
		reader   = flag.String("reader", "", "internal: run as the reader of the named mailbox")
	)
	flag.Parse()
	strategy, err := parseWait(*wait)
	if err == nil && *fps < 1 {
		err = fmt.Errorf("-fps %d: want at least 1", *fps)
	}
	if err == nil {
		if *reader != "" {
			err = runReader(*reader, *work, strategy)
		} else {
			err = runWriter(*duration, *fps, *work, *wait)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "frames:", err)
		os.Exit(1)
	}
}

func parseWait(s string) (shm.WaitStrategy, error) {
	switch s {
	case "spin":
		return shm.Spin, nil
	case "adaptive":
		return shm.Adaptive, nil
	case "block":
		return shm.Block, nil
	}
	return 0, fmt.Errorf("-wait %q: want spin, adaptive or block", s)
}

// A frame carries, in its first 16 bytes, its number and the wall-clock
// time (UnixNano) at which the writer started publishing it; its last 8
// bytes repeat the number, so that a torn frame would show. The rest is a
// test card: a gradient with a bar that moves one row per frame.
func render(frame []byte, n uint64) {
	const bar = 8 // rows
	row := int(n*bar) % height
	prev := (row - bar + height) % height
	paintRows(frame, prev, bar, false)
	paintRows(frame, row, bar, true)
	binary.LittleEndian.PutUint64(frame[0:], n)
	binary.LittleEndian.PutUint64(frame[8:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint64(frame[frameSize-8:], n)
}

// paintRows paints count rows from row (wrapping) white, or back to the
// gradient.
func paintRows(frame []byte, row, count int, white bool) {
	for r := row; r < row+count; r++ {
		line := frame[(r%height)*width*4 : (r%height+1)*width*4]
		for x := 0; x < width; x++ {
			px := line[x*4 : x*4+4]
			if white {
				px[0], px[1], px[2], px[3] = 255, 255, 255, 255
			} else {
				px[0], px[1], px[2], px[3] = byte(x*255/width), byte((r%height)*255/height), 128, 255
			}
		}
	}
}

func runWriter(duration time.Duration, fps int, work time.Duration, wait string) error {
	name := fmt.Sprintf("frames-%d", os.Getpid())
	mb, err := shm.CreateMailbox(name, frameSize, shm.RemoveOnClose())
	if err != nil {
		return err
	}
	defer mb.Close()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "-reader", name, "-work", work.String(), "-wait", wait)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Printf("frames: writer publishes %dx%d RGBA frames (%d bytes) at %d fps for %v through mailbox %q; the reader works 0 to %v on each frame\n",
		width, height, frameSize, fps, duration, name, 2*work)

	frame := make([]byte, frameSize)
	paintRows(frame, 0, height, false)
	var publish []time.Duration
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	for end := time.Now().Add(duration); time.Now().Before(end); <-tick.C {
		n := uint64(len(publish) + 1)
		render(frame, n)
		start := time.Now()
		v, err := mb.Publish(frame)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return err
		}
		publish = append(publish, time.Since(start))
		if v != n {
			return fmt.Errorf("published frame %d as version %d", n, v)
		}
	}
	// Closing the writer's handle closes the mailbox: the reader gets the
	// last frame, then io.EOF.
	if err := mb.Close(); err != nil {
		return err
	}
	p := stats(publish)
	fmt.Printf("writer: %d frames published; Publish (one 8 MB copy) took p50 %v, p99 %v, max %v\n",
		len(publish), p.p50, p.p99, p.max)
	return cmd.Wait()
}

func runReader(name string, work time.Duration, strategy shm.WaitStrategy) error {
	mb, err := shm.OpenMailbox(name, shm.WithWait(strategy))
	if err != nil {
		return err
	}
	defer mb.Close()
	frame := make([]byte, mb.MaxValue()) // WaitNewer copies into it: no allocation per frame
	var (
		last    uint64
		skipped uint64
		woken   []time.Duration // frames published while the reader waited
		ages    []time.Duration // frames that were already there
	)
	for {
		// A deadline guards against a writer that hangs without dying.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		called := time.Now()
		v, version, err := mb.WaitNewer(ctx, last, frame)
		cancel()
		if errors.Is(err, io.EOF) {
			break // the writer closed the mailbox
		}
		if err != nil {
			return err // ErrPeerGone if the writer died
		}
		got := time.Now()
		if len(v) != frameSize {
			return fmt.Errorf("frame version %d has %d bytes, want %d", version, len(v), frameSize)
		}
		n := binary.LittleEndian.Uint64(v)
		sent := time.Unix(0, int64(binary.LittleEndian.Uint64(v[8:])))
		if n != version || binary.LittleEndian.Uint64(v[frameSize-8:]) != n {
			return fmt.Errorf("frame version %d is torn or misnumbered (header %d, trailer %d)",
				version, n, binary.LittleEndian.Uint64(v[frameSize-8:]))
		}
		if last > 0 {
			skipped += version - last - 1
		}
		last = version
		if sent.After(called) {
			woken = append(woken, got.Sub(sent))
		} else {
			ages = append(ages, got.Sub(sent))
		}
		if work > 0 {
			time.Sleep(rand.N(2 * work)) // "process" the frame
		}
	}
	w, a := stats(woken), stats(ages)
	fmt.Printf("reader: %d frames read, %d skipped while it was busy, 0 torn\n", len(woken)+len(ages), skipped)
	fmt.Printf("reader: %3d frames it waited for; Publish start to frame copied: p50 %v, p99 %v, max %v\n",
		len(woken), w.p50, w.p99, w.max)
	fmt.Printf("reader: %3d frames already there; their age when copied:      p50 %v, p99 %v, max %v\n",
		len(ages), a.p50, a.p99, a.max)
	return nil
}

type summary struct{ p50, p99, max time.Duration }

func stats(d []time.Duration) summary {
	if len(d) == 0 {
		return summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Microsecond)
	}
	return summary{at(0.50), at(0.99), s[len(s)-1].Round(time.Microsecond)}
}
