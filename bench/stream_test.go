//go:build unix

package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The kernel baselines: a unix domain stream socket, a pair of pipes, and
// TCP over loopback with TCP_NODELAY. All three carry the same framing, a
// 4-byte little-endian length and the payload, as a Go program would write
// it: one write system call per message (header and payload copied into one
// buffer for small messages, two writes for large ones where the copy would
// cost more than the call), and a buffered reader on the receiving side.

func init() {
	register(&transport{name: "uds", listen: listenUnix, dial: dialUnix})
	register(&transport{name: "pipe", listen: listenPipe, dial: dialPipe})
	register(&transport{name: "tcp", listen: listenTCP, dial: dialTCP})
}

const (
	frameHeader   = 4
	copyFrameUpTo = 4 << 10  // larger payloads go out in a second write instead of a copy
	readBuffer    = 64 << 10 // the receiver's bufio size
	maxFrame      = 1 << 30
)

// streamConn frames messages over a byte stream.
type streamConn struct {
	r       *bufio.Reader
	w       io.Writer
	wbuf    []byte            // frame header, and the payload of a small message
	rhdr    [frameHeader]byte // the frame header being read; a field, so that it does not escape per call
	halfFn  func() error      // closes the writing direction only
	closeFn func() error
}

func newStreamConn(r io.Reader, w io.Writer, size int, half, closeAll func() error) *streamConn {
	return &streamConn{
		r:       bufio.NewReaderSize(r, readBuffer),
		w:       w,
		wbuf:    make([]byte, frameHeader+min(size, copyFrameUpTo)),
		halfFn:  half,
		closeFn: closeAll,
	}
}

func (c *streamConn) send(msg []byte) error {
	binary.LittleEndian.PutUint32(c.wbuf, uint32(len(msg)))
	if len(msg) <= copyFrameUpTo {
		n := copy(c.wbuf[frameHeader:], msg)
		_, err := c.w.Write(c.wbuf[:frameHeader+n])
		return err
	}
	if _, err := c.w.Write(c.wbuf[:frameHeader]); err != nil {
		return err
	}
	_, err := c.w.Write(msg)
	return err
}

func (c *streamConn) recv(buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(c.r, c.rhdr[:]); err != nil {
		return buf, err // io.EOF exactly at a frame boundary: the peer closed
	}
	n := int(binary.LittleEndian.Uint32(c.rhdr[:]))
	if n > maxFrame {
		return buf, fmt.Errorf("frame of %d bytes: larger than %d", n, maxFrame)
	}
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(c.r, buf[start:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:start], err
	}
	return buf, nil
}

func (c *streamConn) closeSend() error { return c.halfFn() }
func (c *streamConn) close() error     { return c.closeFn() }

// Sockets.

// tempDir returns a short directory for a socket path (sun_path holds 108
// bytes, and a benchmark's TempDir can be longer) and removes it at the end.
func tempDir(tb testing.TB) (string, error) {
	dir, err := os.MkdirTemp("", "shmbench")
	if err != nil {
		return "", err
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir, nil
}

// socketConn wraps a connected stream socket that supports half-close.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

func newSocketConn(c halfCloser, size int) *streamConn {
	return newStreamConn(c, c, size, c.CloseWrite, c.Close)
}

// acceptOne accepts one connection within a deadline and closes the
// listener.
func acceptOne(l interface {
	Accept() (net.Conn, error)
	Close() error
	SetDeadline(time.Time) error
}, size int) (conn, error) {
	defer l.Close()
	if err := l.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return nil, err
	}
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetNoDelay(true); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return newSocketConn(c.(halfCloser), size), nil
}

func listenUnix(tb testing.TB, size int) (*listening, error) {
	dir, err := tempDir(tb)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	return &listening{
		args:   []string{"path=" + path},
		accept: func() (conn, error) { return acceptOne(l, size) },
	}, nil
}

func dialUnix(args []string, _ []*os.File, size int) (conn, error) {
	path, err := argValue(args, "path")
	if err != nil {
		return nil, err
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	return newSocketConn(c, size), nil
}

func listenTCP(tb testing.TB, size int) (*listening, error) {
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &listening{
		args:   []string{"addr=" + l.Addr().String()},
		accept: func() (conn, error) { return acceptOne(l, size) },
	}, nil
}

func dialTCP(args []string, _ []*os.File, size int) (conn, error) {
	addr, err := argValue(args, "addr")
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTCP("tcp4", nil, raddr)
	if err != nil {
		return nil, err
	}
	if err := c.SetNoDelay(true); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return newSocketConn(c, size), nil
}

// Pipes: the parent keeps the write end of one and the read end of the
// other; the child inherits the opposite ends as fds 3 (read) and 4 (write).

func listenPipe(_ testing.TB, size int) (*listening, error) {
	downR, downW, err := os.Pipe() // parent -> child
	if err != nil {
		return nil, err
	}
	upR, upW, err := os.Pipe() // child -> parent
	if err != nil {
		return nil, errors.Join(err, downR.Close(), downW.Close())
	}
	return &listening{
		files:  []*os.File{downR, upW},
		accept: func() (conn, error) { return newPipeConn(upR, downW, size), nil },
	}, nil
}

func dialPipe(_ []string, files []*os.File, size int) (conn, error) {
	if len(files) != 2 {
		return nil, fmt.Errorf("pipe: want 2 inherited files, have %d", len(files))
	}
	return newPipeConn(files[0], files[1], size), nil
}

func newPipeConn(r, w *os.File, size int) *streamConn {
	var wClosed bool
	closeW := func() error {
		if wClosed {
			return nil
		}
		wClosed = true
		return w.Close()
	}
	return newStreamConn(r, w, size, closeW, func() error { return errors.Join(closeW(), r.Close()) })
}
