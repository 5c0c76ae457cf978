// Command pingpong measures request/response latency between two processes
// over a shmchan channel, and over a unix domain socket in the same run for
// comparison.
//
// It starts a copy of itself as the peer, which answers every request with
// the same bytes. For each transport it times round trips of -size bytes for
// -duration, and prints the p50, p99 and p99.9 round-trip times (from an
// HdrHistogram), the round trips per second, and the one-way messages per
// second of a stream of the same messages.
//
//	go run ./examples/pingpong
//	go run ./examples/pingpong -size 1024 -wait spin -duration 5s
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shmchan/shmchan/shm"
)

// Every message starts with a kind byte. The peer echoes a ping, counts a
// stream message, and answers an end-of-stream with the count it received.
const (
	kindPing   = 'P'
	kindStream = 'S'
	kindEnd    = 'E'
)

func main() {
	var (
		size     = flag.Int("size", 64, "message size in bytes (at least 9)")
		duration = flag.Duration("duration", 2*time.Second, "how long to measure each transport's latency (the stream runs half as long)")
		wait     = flag.String("wait", "adaptive", "shmchan wait strategy: spin, adaptive or block")
		peer     = flag.String("peer", "", "internal: run as the peer of the given transport (shm or uds)")
		addr     = flag.String("addr", "", "internal: the peer's channel name prefix or socket path")
	)
	flag.Parse()
	strategy, err := parseWait(*wait)
	if err == nil && *size < 9 {
		err = fmt.Errorf("-size %d: want at least 9 bytes (a kind byte and a sequence number)", *size)
	}
	if err == nil {
		if *peer != "" {
			err = runPeer(*peer, *addr, *size, strategy)
		} else {
			err = run(*size, *duration, strategy)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pingpong:", err)
		os.Exit(1)
	}
}

func parseWait(s string) (shm.WaitStrategy, error) {
	for _, w := range []shm.WaitStrategy{shm.Spin, shm.Adaptive, shm.Block} {
		if w.String() == s {
			return w, nil
		}
	}
	return 0, fmt.Errorf("-wait %q: want spin, adaptive or block", s)
}

// link is a two-way message link to the peer, over either transport.
type link interface {
	send(msg []byte) error
	recv(buf []byte) ([]byte, error)
	close() error
}

// figures are one transport's results.
type figures struct {
	name             string
	p50, p99, p999   time.Duration
	roundTripsPerSec float64
	msgsPerSec       float64
}

func run(size int, d time.Duration, w shm.WaitStrategy) error {
	fmt.Printf("pingpong: %d-byte messages between two processes, %v of round trips and %v of streaming per transport\n\n", size, d, d/2)
	shmFig, err := measure("shmchan ("+w.String()+")", size, d, func() (link, *exec.Cmd, error) { return startShm(size, w) })
	if err != nil {
		return fmt.Errorf("shmchan: %w", err)
	}
	udsFig, err := measure("unix socket", size, d, func() (link, *exec.Cmd, error) { return startUnix(size) })
	if err != nil {
		return fmt.Errorf("unix socket: %w", err)
	}
	fmt.Printf("%-20s %10s %10s %10s %15s %15s\n", "transport", "p50", "p99", "p99.9", "round trips/s", "one-way msg/s")
	for _, f := range []figures{shmFig, udsFig} {
		fmt.Printf("%-20s %10s %10s %10s %15s %15s\n", f.name, dur(f.p50), dur(f.p99), dur(f.p999), rate(f.roundTripsPerSec), rate(f.msgsPerSec))
	}
	fmt.Printf("\nshmchan against the unix socket, same run: p50 round trip %s, one-way messages per second %s.\n",
		times(float64(udsFig.p50)/float64(shmFig.p50), "lower", "higher"), times(shmFig.msgsPerSec/udsFig.msgsPerSec, "higher", "lower"))
	return nil
}

// measure starts a peer, times round trips for d, then streams for d/2.
func measure(name string, size int, d time.Duration, start func() (link, *exec.Cmd, error)) (f figures, err error) {
	f.name = name
	l, cmd, err := start()
	if err != nil {
		return f, err
	}
	defer func() {
		err = errors.Join(err, l.close(), cmd.Wait())
	}()

	msg, buf := make([]byte, size), make([]byte, 0, size)
	msg[0] = kindPing
	roundTrip := func(seq uint64) error {
		binary.LittleEndian.PutUint64(msg[1:], seq)
		if err := l.send(msg); err != nil {
			return err
		}
		r, err := l.recv(buf[:0])
		if err != nil {
			return err
		}
		if len(r) != size || binary.LittleEndian.Uint64(r[1:]) != seq {
			return fmt.Errorf("round trip %d: wrong reply", seq)
		}
		return nil
	}
	// The first reply proves the peer is up; give it 10 seconds. (A shmchan
	// receiver notices a peer that dies once it has claimed its end, but
	// not one that never started.)
	if sl, ok := l.(*closingShmLink); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sl.ctx = ctx
		err := roundTrip(0)
		sl.ctx = context.Background()
		cancel()
		if err != nil {
			return f, fmt.Errorf("first round trip: %w", err)
		}
	}
	const warmup = 1000
	for i := range warmup {
		if err := roundTrip(uint64(i)); err != nil {
			return f, fmt.Errorf("warm-up: %w", err)
		}
	}

	h := hdrhistogram.New(1, int64(10*time.Second), 3)
	begin := time.Now()
	deadline := begin.Add(d)
	n := 0
	for seq := uint64(warmup); ; seq++ {
		t0 := time.Now()
		if err := roundTrip(seq); err != nil {
			return f, err
		}
		t1 := time.Now()
		if err := h.RecordValue(int64(t1.Sub(t0))); err != nil {
			return f, err
		}
		n++
		if n%64 == 0 && t1.After(deadline) {
			break
		}
	}
	f.roundTripsPerSec = float64(n) / time.Since(begin).Seconds()
	f.p50 = time.Duration(h.ValueAtQuantile(50))
	f.p99 = time.Duration(h.ValueAtQuantile(99))
	f.p999 = time.Duration(h.ValueAtQuantile(99.9))

	// The stream: send as fast as the transport takes messages, then ask
	// the peer how many it got; the clock stops at its answer.
	msg[0] = kindStream
	sent := uint64(0)
	begin = time.Now()
	deadline = begin.Add(d / 2)
	for {
		binary.LittleEndian.PutUint64(msg[1:], sent)
		if err := l.send(msg); err != nil {
			return f, err
		}
		sent++
		if sent%1024 == 0 && time.Now().After(deadline) {
			break
		}
	}
	msg[0] = kindEnd
	if err := l.send(msg); err != nil {
		return f, err
	}
	r, err := l.recv(buf[:0])
	if err != nil {
		return f, err
	}
	elapsed := time.Since(begin)
	if got := binary.LittleEndian.Uint64(r[1:]); got != sent {
		return f, fmt.Errorf("stream: sent %d messages, the peer received %d", sent, got)
	}
	f.msgsPerSec = float64(sent) / elapsed.Seconds()
	return f, nil
}

// serve is the peer's loop over any link.
func serve(l link, size int) error {
	buf := make([]byte, 0, size)
	var streamed uint64
	for {
		m, err := l.recv(buf[:0])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(m) < 9 {
			return fmt.Errorf("short message of %d bytes", len(m))
		}
		switch m[0] {
		case kindPing:
			err = l.send(m)
		case kindStream:
			if binary.LittleEndian.Uint64(m[1:]) != streamed {
				return fmt.Errorf("stream message %d arrived as number %d", binary.LittleEndian.Uint64(m[1:]), streamed)
			}
			streamed++
		case kindEnd:
			binary.LittleEndian.PutUint64(m[1:], streamed)
			err = l.send(m)
			streamed = 0
		default:
			return fmt.Errorf("unknown message kind %q", m[0])
		}
		if err != nil {
			return err
		}
	}
}

// spawn starts this program as the peer.
func spawn(transport, addr string, size int, w shm.WaitStrategy) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-peer", transport, "-addr", addr, "-size", fmt.Sprint(size), "-wait", w.String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd, cmd.Start()
}

func runPeer(transport, addr string, size int, w shm.WaitStrategy) error {
	var l link
	var err error
	switch transport {
	case "shm":
		l, err = openShm(addr, w)
	case "uds":
		l, err = dialUnix(addr, size)
	default:
		err = fmt.Errorf("-peer %q: want shm or uds", transport)
	}
	if err != nil {
		return err
	}
	return errors.Join(serve(l, size), l.close())
}

// shmchan: one channel per direction. The parent creates both (and removes
// their names when it closes them); the peer opens them.

type shmLink struct {
	out, in *shm.Channel
	tx      *shm.Sender
	rx      *shm.Receiver
	ctx     context.Context // bounds a receive: the first waits for a peer that may never come
}

func (l *shmLink) send(msg []byte) error           { return l.tx.Send(msg) }
func (l *shmLink) recv(buf []byte) ([]byte, error) { return l.rx.RecvContext(l.ctx, buf) }
func (l *shmLink) close() error                    { return errors.Join(l.out.Close(), l.in.Close()) }

// newShmLink claims the sender of out and the receiver of in.
func newShmLink(out, in *shm.Channel) (*shmLink, error) {
	l := &shmLink{out: out, in: in, ctx: context.Background()}
	var err error
	if l.tx, err = out.Sender(); err != nil {
		return nil, errors.Join(err, l.close())
	}
	if l.rx, err = in.Receiver(); err != nil {
		return nil, errors.Join(err, l.close())
	}
	return l, nil
}

// ringSize is a ring that holds a good burst of messages: 1 MiB, or more
// for messages larger than half of that.
func ringSize(size int) int64 {
	c := int64(1 << 20)
	for c/2-8 < int64(size) {
		c *= 2
	}
	return c
}

func startShm(size int, w shm.WaitStrategy) (link, *exec.Cmd, error) {
	prefix := fmt.Sprintf("pingpong-%d", os.Getpid())
	req, err := shm.CreateChannel(prefix+"-req", ringSize(size), shm.WithWait(w), shm.RemoveOnClose())
	if err != nil {
		return nil, nil, err
	}
	resp, err := shm.CreateChannel(prefix+"-resp", ringSize(size), shm.WithWait(w), shm.RemoveOnClose())
	if err != nil {
		return nil, nil, errors.Join(err, req.Close())
	}
	l, err := newShmLink(req, resp)
	if err != nil {
		return nil, nil, err
	}
	cmd, err := spawn("shm", prefix, size, w)
	if err != nil {
		return nil, nil, errors.Join(err, l.close())
	}
	// The sender closes the request channel at the end; the peer then gets
	// io.EOF and exits.
	return &closingShmLink{l}, cmd, nil
}

// closingShmLink closes its sending end before the channels, so that the
// peer reads io.EOF rather than waiting for a sender that is gone.
type closingShmLink struct{ *shmLink }

func (l *closingShmLink) close() error {
	return errors.Join(l.tx.Close(), l.shmLink.close())
}

func openShm(prefix string, w shm.WaitStrategy) (link, error) {
	req, err := shm.OpenChannel(prefix+"-req", shm.WithWait(w))
	if err != nil {
		return nil, err
	}
	resp, err := shm.OpenChannel(prefix+"-resp", shm.WithWait(w))
	if err != nil {
		return nil, errors.Join(err, req.Close())
	}
	return newShmLink(resp, req)
}

// The unix socket: a stream socket with a 4-byte length before each
// message, read through a buffer.

type unixLink struct {
	c    *net.UnixConn
	r    *bufio.Reader
	wbuf []byte
	hdr  [4]byte
	dir  string // the parent's socket directory, removed at close
}

func newUnixLink(c *net.UnixConn, size int, dir string) *unixLink {
	return &unixLink{c: c, r: bufio.NewReaderSize(c, 64<<10), wbuf: make([]byte, 4+size), dir: dir}
}

func (l *unixLink) send(msg []byte) error {
	binary.LittleEndian.PutUint32(l.wbuf, uint32(len(msg)))
	n := copy(l.wbuf[4:], msg)
	_, err := l.c.Write(l.wbuf[:4+n])
	return err
}

func (l *unixLink) recv(buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(l.r, l.hdr[:]); err != nil {
		return buf, err
	}
	n := int(binary.LittleEndian.Uint32(l.hdr[:]))
	if n > cap(l.wbuf) {
		return buf, fmt.Errorf("frame of %d bytes: larger than any message", n)
	}
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	_, err := io.ReadFull(l.r, buf[start:])
	return buf, err
}

func (l *unixLink) close() error {
	err := l.c.Close()
	if l.dir != "" {
		err = errors.Join(err, os.RemoveAll(l.dir))
	}
	return err
}

func startUnix(size int) (link, *exec.Cmd, error) {
	dir, err := os.MkdirTemp("", "pingpong")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	defer ln.Close()
	cmd, err := spawn("uds", path, size, shm.Adaptive)
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.AcceptUnix()
	if err != nil {
		cmd.Process.Kill()
		return nil, nil, errors.Join(err, cmd.Wait(), os.RemoveAll(dir))
	}
	return newUnixLink(c, size, dir), cmd, nil
}

func dialUnix(path string, size int) (link, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	return newUnixLink(c, size, ""), nil
}

// times says "12x better" for a ratio r >= 1, and "2x worse" for r = 0.5.
func times(r float64, better, worse string) string {
	if r >= 1 {
		return fmt.Sprintf("%.3gx %s", r, better)
	}
	return fmt.Sprintf("%.3gx %s", 1/r, worse)
}

// dur formats a duration with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.2f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d)
}

// rate formats a rate with k or M.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
