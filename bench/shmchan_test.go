//go:build unix

package bench

import (
	"bytes"
	"errors"
	"math/bits"
	"os"
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// shmchan's transports: one shm.Channel per direction, created by the
// parent and opened by the child, in each wait strategy, and once through
// the zero-copy API, and once through the batch API.

// chanMode is how a chanConn moves messages.
type chanMode int

const (
	copying      chanMode = iota // Send and Recv
	zeroCopy                     // Reserve/Commit and Peek/Release
	zeroCopyRead                 // zeroCopy, and recv reads every byte of the message in the ring
	batched                      // SendBatch (a stream's batches of batchSize) and RecvBatch
)

func init() {
	register(newShmchan("shmchan-spin", shm.Spin, copying))
	register(newShmchan("shmchan-adaptive", shm.Adaptive, copying))
	register(newShmchan("shmchan-block", shm.Block, copying))
	register(newShmchan("shmchan-zc", shm.Adaptive, zeroCopy))
	register(newShmchan("shmchan-zc-read", shm.Adaptive, zeroCopyRead))
	register(newShmchan("shmchan-batch", shm.Spin, batched))
}

// ringFor returns the ring capacity for messages of size bytes: 1 MiB, or
// the next power of two that holds two of them (a record can need its size
// twice, padding plus record).
func ringFor(size int) int64 {
	need := uint64(2*size + 16)
	return max(1<<20, int64(1)<<bits.Len64(need-1))
}

func newShmchan(name string, w shm.WaitStrategy, mode chanMode) *transport {
	return &transport{
		name: name,
		listen: func(tb testing.TB, size int) (*listening, error) {
			down, up := testproc.Name(tb, "bench"), testproc.Name(tb, "bench")
			dch, err := shm.CreateChannel(down, ringFor(size), shm.WithWait(w))
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { shm.Remove(down) })
			uch, err := shm.CreateChannel(up, ringFor(size), shm.WithWait(w))
			if err != nil {
				return nil, errors.Join(err, dch.Close())
			}
			tb.Cleanup(func() { shm.Remove(up) })
			return &listening{
				args:   []string{"down=" + down, "up=" + up},
				accept: func() (conn, error) { return newChanConn(dch, uch, mode, size) },
			}, nil
		},
		dial: func(args []string, _ []*os.File, size int) (conn, error) {
			down, err := argValue(args, "down")
			if err != nil {
				return nil, err
			}
			up, err := argValue(args, "up")
			if err != nil {
				return nil, err
			}
			dch, err := shm.OpenChannel(down, shm.WithWait(w))
			if err != nil {
				return nil, err
			}
			uch, err := shm.OpenChannel(up, shm.WithWait(w))
			if err != nil {
				return nil, errors.Join(err, dch.Close())
			}
			return newChanConn(uch, dch, mode, size)
		},
	}
}

// chanConn sends on one channel and receives on the other.
type chanConn struct {
	out, in *shm.Channel
	tx      *shm.Sender
	rx      *shm.Receiver
	mode    chanMode
	peeked  bool // zero-copy: a message is peeked and not yet released

	// batched: the buffers RecvBatch fills, and the next one recv returns.
	bufs       [][]byte
	next, have int
}

// newChanConn claims the sender of out and the receiver of in, for messages
// of up to size bytes. On failure it closes both channels.
func newChanConn(out, in *shm.Channel, mode chanMode, size int) (conn, error) {
	c := &chanConn{out: out, in: in, mode: mode}
	if mode == batched {
		c.bufs = make([][]byte, batchSize)
		for i := range c.bufs {
			c.bufs[i] = make([]byte, 0, size)
		}
	}
	var err error
	if c.tx, err = out.Sender(); err != nil {
		return nil, errors.Join(err, c.close())
	}
	if c.rx, err = in.Receiver(); err != nil {
		return nil, errors.Join(err, c.close())
	}
	return c, nil
}

func (c *chanConn) send(msg []byte) error {
	if c.mode != zeroCopy && c.mode != zeroCopyRead {
		return c.tx.Send(msg)
	}
	// Zero copy: the producer writes its message straight into the ring.
	buf, err := c.tx.Reserve(len(msg))
	if err != nil {
		return err
	}
	copy(buf, msg)
	return c.tx.Commit(len(msg))
}

// sendBatch makes a batched chanConn a batchSender: SendBatch sends what
// fits, waiting only for the first, and is called again for the rest.
func (c *chanConn) sendBatch(msgs [][]byte) error {
	for len(msgs) > 0 {
		n, err := c.tx.SendBatch(msgs)
		if err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (c *chanConn) recv(buf []byte) ([]byte, error) {
	switch c.mode {
	case copying:
		return c.rx.Recv(buf)
	case batched:
		// Up to batchSize messages per RecvBatch, handed out one by one;
		// each stays valid until the next RecvBatch, after the last of them.
		if c.next == c.have {
			n, err := c.rx.RecvBatch(c.bufs)
			if err != nil {
				return buf, err
			}
			c.next, c.have = 0, n
		}
		c.next++
		return c.bufs[c.next-1], nil
	}
	// Zero copy: the consumer reads the message in the ring, and releases it
	// at its next recv.
	if c.peeked {
		c.peeked = false
		if err := c.rx.Release(); err != nil {
			return buf, err
		}
	}
	m, err := c.rx.Peek()
	c.peeked = err == nil
	if err == nil && c.mode == zeroCopyRead {
		readAll(m)
	}
	return m, err
}

// readSink keeps readAll's result alive; readByte is what it counts.
var (
	readSink uint64
	readByte = []byte{0xA5}
)

// readAll reads every byte of m, as a consumer that uses the message in
// place does: shmchan-zc-read is the zero-copy round trip that pulls the
// whole echoed payload into the parent's cache, as the copying API's Recv
// does (shmchan-zc reads only its first 8 bytes, the sequence number), so
// that the two differ by the copies alone. bytes.Count reads with the
// widest loads the CPU has, as memmove does: a loop of 8-byte loads took
// twice as long as Recv's copy at 1 MiB (371455..478463 against
// 176383..225663 ns a round trip).
func readAll(m []byte) {
	readSink += uint64(bytes.Count(m, readByte))
}

func (c *chanConn) closeSend() error { return c.tx.Close() }

func (c *chanConn) close() error { return errors.Join(c.out.Close(), c.in.Close()) }

// A batched chanConn streams through SendBatch.
var _ batchSender = (*chanConn)(nil)
