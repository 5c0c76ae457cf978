// Command gopeer is the Go process of the Python binding's tests
// (python/tests) and of its ping-pong example: it opens channels and
// mailboxes that the Python side created and speaks the test protocol on
// them. It prints one result line on standard output and exits 0 only if
// every check passed.
//
//	gopeer exchange IN OUT N SEED       receive N messages on IN, send N on OUT, both checked
//	gopeer send NAME K close|stay       send K messages; close the sender, or stay until killed
//	gopeer recv NAME                    receive until an error; print the count and the error
//	gopeer send-until-error NAME        send until an error; print it
//	gopeer pong IN OUT                  echo every message from IN on OUT until EOF
//	gopeer ping IN OUT N SIZE           N round trips against a pong; print percentiles
//	gopeer mbwriter NAME DURATION       publish checked values for DURATION, then close
//
// A message of the exchange is a 16-byte header, then the payload:
// seq (u64 LE, from 0), crc32 IEEE of the payload (u32 LE), payload length
// (u32 LE). A mailbox value has the same header with seq = its version.
//
// The -wait flag (spin, block, adaptive) sets the wait strategy.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shmchan/shmchan/shm"
)

const headerLen = 16

var wait = flag.String("wait", "adaptive", "wait strategy: spin, block or adaptive")

func main() {
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		usage()
	}
	var err error
	switch cmd, a := args[0], args[1:]; {
	case cmd == "exchange" && len(a) == 4:
		err = exchange(a[0], a[1], atoi(a[2]), uint64(atoi(a[3])))
	case cmd == "send" && len(a) == 3:
		err = send(a[0], atoi(a[1]), a[2] == "close")
	case cmd == "recv" && len(a) == 1:
		err = recv(a[0])
	case cmd == "send-until-error" && len(a) == 1:
		err = sendUntilError(a[0])
	case cmd == "pong" && len(a) == 2:
		err = pong(a[0], a[1])
	case cmd == "ping" && len(a) == 4:
		err = ping(a[0], a[1], atoi(a[2]), atoi(a[3]))
	case cmd == "mbwriter" && len(a) == 2:
		d, perr := time.ParseDuration(a[1])
		if perr != nil {
			fail(perr)
		}
		err = mbwriter(a[0], d)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gopeer [-wait W] exchange|send|recv|send-until-error|pong|ping|mbwriter ARGS (see the source)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gopeer:", err)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err)
	}
	return n
}

func strategy() shm.Option {
	switch *wait {
	case "spin":
		return shm.WithWait(shm.Spin)
	case "block":
		return shm.WithWait(shm.Block)
	case "adaptive":
		return shm.WithWait(shm.Adaptive)
	}
	fail(fmt.Errorf("bad -wait %q", *wait))
	return nil
}

// errName names an error as the Python tests expect it.
func errName(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, shm.ErrPeerGone):
		return "peer-gone"
	case errors.Is(err, shm.ErrClosed):
		return "closed"
	case errors.Is(err, shm.ErrCorrupt):
		return "corrupt"
	}
	return "other: " + err.Error()
}

// message fills dst with message seq: the header, then n payload bytes from rng.
func message(dst []byte, seq uint64, n int, rng *rand.ChaCha8) []byte {
	dst = slices.Grow(dst[:0], headerLen+n)[:headerLen+n]
	p := dst[headerLen:]
	_, _ = rng.Read(p)
	binary.LittleEndian.PutUint64(dst[0:], seq)
	binary.LittleEndian.PutUint32(dst[8:], crc32.ChecksumIEEE(p))
	binary.LittleEndian.PutUint32(dst[12:], uint32(n))
	return dst
}

// check reports what is wrong with msg as message seq, or "".
func check(msg []byte, seq uint64) string {
	if len(msg) < headerLen {
		return fmt.Sprintf("message %d: %d bytes, shorter than the header", seq, len(msg))
	}
	if got := binary.LittleEndian.Uint64(msg); got != seq {
		return fmt.Sprintf("message %d: seq %d", seq, got)
	}
	p := msg[headerLen:]
	if n := binary.LittleEndian.Uint32(msg[12:]); int(n) != len(p) {
		return fmt.Sprintf("message %d: length %d in the header, %d received", seq, n, len(p))
	}
	if binary.LittleEndian.Uint32(msg[8:]) != crc32.ChecksumIEEE(p) {
		return fmt.Sprintf("message %d: crc mismatch", seq)
	}
	return ""
}

// size draws a payload size: mostly under 4 KiB, one in a hundred up to 60 KiB.
func size(r *rand.Rand, max int) int {
	n := r.IntN(4096)
	if r.IntN(100) == 0 {
		n = r.IntN(60 << 10)
	}
	return min(n, max-headerLen)
}

// pair is the two channels of a two-way exchange: it receives on one and
// sends on the other.
type pair struct {
	rx       *shm.Receiver
	tx       *shm.Sender
	max      int // the largest message tx takes
	rch, wch *shm.Channel
}

// openPair opens the pair that receives on in and sends on out; close
// closes both channels.
func openPair(in, out string) (*pair, error) {
	p := new(pair)
	var err error
	if p.rch, err = shm.OpenChannel(in, strategy()); err != nil {
		return nil, err
	}
	if p.wch, err = shm.OpenChannel(out, strategy()); err != nil {
		p.rch.Close()
		return nil, err
	}
	if p.rx, err = p.rch.Receiver(); err == nil {
		p.tx, err = p.wch.Sender()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	p.max = p.wch.MaxMessage()
	return p, nil
}

func (p *pair) close() {
	p.wch.Close()
	p.rch.Close()
}

func exchange(in, out string, n int, seed uint64) error {
	p, err := openPair(in, out)
	if err != nil {
		return err
	}
	defer p.close()
	rx, tx := p.rx, p.tx

	var wg sync.WaitGroup
	var sendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 1))
		rng := rand.NewChaCha8([32]byte{byte(seed)})
		var buf []byte
		for i := range n {
			buf = message(buf, uint64(i), size(r, p.max), rng)
			if err := tx.Send(buf); err != nil {
				sendErr = fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		sendErr = tx.Close()
	}()

	var got, corrupt int
	var first string
	var msg []byte
	for {
		msg, err = rx.Recv(msg[:0])
		if err != nil {
			break
		}
		if bad := check(msg, uint64(got)); bad != "" {
			corrupt++
			if first == "" {
				first = bad
			}
		}
		got++
	}
	wg.Wait()
	fmt.Printf("received=%d lost=%d corrupt=%d end=%s sent=%d send-error=%s first=%q\n",
		got, max(0, n-got), corrupt, errName(err), n, errName(sendErr), first)
	if got != n || corrupt != 0 || !errors.Is(err, io.EOF) || sendErr != nil {
		return fmt.Errorf("exchange failed")
	}
	return nil
}

func send(name string, k int, closeAfter bool) error {
	ch, err := shm.OpenChannel(name, strategy())
	if err != nil {
		return err
	}
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{7})
	r := rand.New(rand.NewPCG(7, 7))
	var buf []byte
	for i := range k {
		buf = message(buf, uint64(i), size(r, min(ch.MaxMessage(), 1<<10)), rng)
		if err := tx.Send(buf); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	if closeAfter {
		if err := tx.Close(); err != nil {
			return err
		}
		fmt.Printf("sent=%d closed\n", k)
		return nil
	}
	fmt.Printf("sent=%d staying\n", k)
	time.Sleep(time.Hour) // until the test kills us
	return nil
}

func recv(name string) error {
	ch, err := shm.OpenChannel(name, strategy())
	if err != nil {
		return err
	}
	defer ch.Close()
	rx, err := ch.Receiver()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var got, corrupt int
	var msg []byte
	for {
		msg, err = rx.Recv(msg[:0])
		if err != nil {
			break
		}
		if check(msg, uint64(got)) != "" {
			corrupt++
		}
		got++
	}
	fmt.Printf("received=%d corrupt=%d end=%s\n", got, corrupt, errName(err))
	return nil
}

func sendUntilError(name string) error {
	ch, err := shm.OpenChannel(name, strategy())
	if err != nil {
		return err
	}
	defer ch.Close()
	tx, err := ch.Sender()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	msg := make([]byte, 64)
	n := 0
	for {
		if err = tx.Send(msg); err != nil {
			break
		}
		n++
	}
	fmt.Printf("sent=%d end=%s\n", n, errName(err))
	return nil
}

func pong(in, out string) error {
	p, err := openPair(in, out)
	if err != nil {
		return err
	}
	defer p.close()
	rx, tx := p.rx, p.tx
	var msg []byte
	n := 0
	for {
		msg, err = rx.Recv(msg[:0])
		if err != nil {
			break
		}
		if err := tx.Send(msg); err != nil {
			return err
		}
		n++
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	fmt.Printf("echoed=%d\n", n)
	return tx.Close()
}

// ping measures n round trips of size-byte messages: send on out, wait for
// the echo on in. It prints the percentiles in nanoseconds.
func ping(in, out string, n, size int) error {
	p, err := openPair(in, out)
	if err != nil {
		return err
	}
	defer p.close()
	rx, tx := p.rx, p.tx
	msg := make([]byte, size)
	back := make([]byte, 0, size)
	rtts := make([]time.Duration, 0, n)
	for i := range n + n/10 { // the first tenth warms up
		t0 := time.Now()
		if err := tx.Send(msg); err != nil {
			return err
		}
		if back, err = rx.Recv(back[:0]); err != nil {
			return err
		}
		if i >= n/10 {
			rtts = append(rtts, time.Since(t0))
		}
	}
	if err := tx.Close(); err != nil {
		return err
	}
	slices.Sort(rtts)
	pct := func(p float64) int64 { return rtts[int(p*float64(len(rtts)-1))].Nanoseconds() }
	fmt.Printf("go round trip size=%d n=%d wait=%s p50=%dns p90=%dns p99=%dns\n", size, n, *wait, pct(0.5), pct(0.9), pct(0.99))
	return nil
}

func mbwriter(name string, d time.Duration) error {
	mb, err := shm.OpenMailbox(name, strategy())
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(3, 3))
	rng := rand.NewChaCha8([32]byte{3})
	var buf []byte
	end := time.Now().Add(d)
	var v uint64
	for time.Now().Before(end) {
		want := v + 1 // versions count publishes from 1
		buf = message(buf, want, r.IntN(mb.MaxValue()-headerLen+1), rng)
		got, err := mb.Publish(buf)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("publish returned version %d, want %d (a fresh mailbox?)", got, want)
		}
		v = got
	}
	fmt.Printf("published=%d\n", v)
	return mb.Close()
}
