//go:build unix

package bench

import (
	"errors"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/shmchan/shmchan/bench/streaming"
	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// The streaming baseline (the article's channel, one segment per direction)
// and the in-process Go channel reference.

func init() {
	register(&transport{name: "streaming", listen: listenStreaming, dial: dialStreaming, lossy: true})
	register(&transport{name: "gochan", pair: gochanPair})
}

// streamingConn is one end: it writes one article channel and reads the
// other.
type streamingConn struct {
	w, r *streaming.Channel
}

func (c *streamingConn) send(msg []byte) error           { return c.w.Write(msg) }
func (c *streamingConn) recv(buf []byte) ([]byte, error) { return c.r.Read(buf) }
func (c *streamingConn) closeSend() error                { return c.w.Close() }
func (c *streamingConn) close() error                    { return errors.Join(c.w.Release(), c.r.Release()) }

func listenStreaming(tb testing.TB, size int) (*listening, error) {
	down, up := testproc.Name(tb, "bench"), testproc.Name(tb, "bench")
	w, err := streaming.Create(down, size)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { shm.Remove(down) })
	r, err := streaming.Create(up, size)
	if err != nil {
		return nil, errors.Join(err, w.Release())
	}
	tb.Cleanup(func() { shm.Remove(up) })
	return &listening{
		args:   []string{"down=" + down, "up=" + up},
		accept: func() (conn, error) { return &streamingConn{w: w, r: r}, nil },
		// The baseline has no liveness check: if the child dies, mark the
		// parent's inbound channel closed so that its polling read ends.
		abort: func() { r.Close() },
	}, nil
}

func dialStreaming(args []string, _ []*os.File, _ int) (conn, error) {
	down, err := argValue(args, "down")
	if err != nil {
		return nil, err
	}
	up, err := argValue(args, "up")
	if err != nil {
		return nil, err
	}
	r, err := streaming.Open(down)
	if err != nil {
		return nil, err
	}
	w, err := streaming.Open(up)
	if err != nil {
		return nil, errors.Join(err, r.Release())
	}
	return &streamingConn{w: w, r: r}, nil
}

// gochanPair links two goroutines by a Go channel of pooled buffers per
// direction: send copies the message into a free buffer and passes it,
// recv copies it out and returns the buffer. That is the same copy-in,
// copy-out work as shm.Channel's Send and Recv, with the Go runtime's
// scheduler doing the waking.
func gochanPair(size int) (parent, peer conn) {
	down, up := newGochanLink(size), newGochanLink(size)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	return &gochanConn{out: down, in: up, done: done, stop: stop},
		&gochanConn{out: up, in: down, done: done, stop: stop}
}

// gochanLink is one direction.
type gochanLink struct {
	full, free chan []byte
	closeOnce  sync.Once
}

// gochanBuffers holds about as many messages as a 1 MiB ring would, within
// [2, 256].
func newGochanLink(size int) *gochanLink {
	n := min(max((1<<20)/max(size, 1), 2), 256)
	l := &gochanLink{full: make(chan []byte, n), free: make(chan []byte, n)}
	for range n {
		l.free <- make([]byte, 0, size)
	}
	return l
}

type gochanConn struct {
	out, in *gochanLink
	done    chan struct{}
	stop    func()
}

func (c *gochanConn) send(msg []byte) error {
	var b []byte
	select {
	case b = <-c.out.free:
	case <-c.done:
		return os.ErrClosed
	}
	c.out.full <- append(b[:0], msg...) // never blocks: there are as many slots as buffers
	return nil
}

func (c *gochanConn) recv(buf []byte) ([]byte, error) {
	select {
	case b, ok := <-c.in.full:
		if !ok {
			return buf, io.EOF
		}
		buf = append(buf, b...)
		c.in.free <- b
		return buf, nil
	case <-c.done:
		return buf, os.ErrClosed
	}
}

func (c *gochanConn) closeSend() error {
	c.out.closeOnce.Do(func() { close(c.out.full) })
	return nil
}

// close ends both directions for both ends: a peer blocked on this one
// returns.
func (c *gochanConn) close() error {
	c.closeSend()
	c.stop()
	return nil
}
