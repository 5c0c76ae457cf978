package shm

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"sync/atomic"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/sync/ring"
)

// Receiver is the receiving end of a channel. Its methods must not be called
// concurrently with each other (one goroutine receives); Channel.Close must
// not run concurrently with them either.
//
// Recv into a large enough dst, TryRecv, RecvBatch into large enough
// buffers, Peek and Release make no allocation,
// no cgo call, and no system call unless the sender is parked.
type Receiver struct {
	ch     *Channel
	h      *layout.ChanHeader
	c      *ring.Consumer
	w      waiter
	st     *layout.Stats // the receiver's counter line, or a process-local one
	peeked int           // length of the message the last TryPeek returned, for Release's count
	closed bool
}

// Recv appends the next message to dst and returns the extended slice,
// waiting while the channel is empty. After the sender has closed and every
// message has been read it returns io.EOF. It returns ErrPeerGone if the
// sender's process died (after the messages it sent are read), ErrCorrupt if
// the shared memory breaks the layout, and ErrClosed after Close.
func (r *Receiver) Recv(dst []byte) ([]byte, error) {
	return r.RecvContext(context.Background(), dst)
}

// RecvContext is Recv with a context: when ctx is done it returns ctx.Err()
// (an expired deadline also matches os.ErrDeadlineExceeded) and consumes
// nothing.
func (r *Receiver) RecvContext(ctx context.Context, dst []byte) (out []byte, err error) {
	out = dst
	defer guard(&err, debug.SetPanicOnFault(true))
	// As PeekContext: the try, then the wait only if empty.
	msg, err := r.tryPeek()
	if err == ErrEmpty {
		msg, err = r.peekSlow(ctx)
	}
	if err != nil {
		return dst, err
	}
	out = append(dst, msg...)
	return out, r.release()
}

// TryRecv is Recv without waiting: ErrEmpty if there is no message now.
func (r *Receiver) TryRecv(dst []byte) (out []byte, err error) {
	out = dst
	defer guard(&err, debug.SetPanicOnFault(true))
	msg, err := r.tryPeek()
	if err != nil {
		return dst, err
	}
	out = append(dst, msg...)
	return out, r.release()
}

// Peek returns the next message in place (zero copy), waiting while the
// channel is empty, with Recv's errors. The message stays in the channel, and
// Peek returns it again, until Release. It is not safe to use the slice after
// Release, Close or Channel.Close; the sender cannot overwrite it before
// Release, but a hostile peer could, so copy what must not change.
func (r *Receiver) Peek() ([]byte, error) { return r.PeekContext(context.Background()) }

// PeekContext is Peek with a context, as RecvContext.
func (r *Receiver) PeekContext(ctx context.Context) (msg []byte, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	// The try, then the wait only if empty, written out in each blocking
	// call (here and in RecvContext) rather than in a shared helper: one
	// call fewer per message (docs/design.md, "Per-call cost").
	if msg, err = r.tryPeek(); err == ErrEmpty {
		msg, err = r.peekSlow(ctx)
	}
	return msg, err
}

// TryPeek is Peek without waiting: ErrEmpty if there is no message now, and
// io.EOF if the sender closed and every message has been read.
func (r *Receiver) TryPeek() (msg []byte, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return r.tryPeek()
}

func (r *Receiver) tryPeek() ([]byte, error) {
	if r.closed {
		return nil, wrap("receive", r.ch.Name(), ErrClosed)
	}
	msg, err := r.c.TryPeek()
	if err == nil {
		r.peeked = len(msg)
		return msg, nil
	}
	if err != ring.ErrEmpty {
		return nil, wrap("receive", r.ch.Name(), lift(err))
	}
	// STEP(recv.2) SYNC(tx_closed): seq_cst load after finding the ring empty; pairs with
	// the store in Sender.close, which follows the sender's last record.
	if atomic.LoadUint32(&r.h.TxClosed) != 0 {
		// Closed: anything published before the close is visible now.
		if msg, err = r.c.TryPeek(); err == ring.ErrEmpty {
			return nil, io.EOF
		} else if err != nil {
			return nil, wrap("receive", r.ch.Name(), lift(err))
		}
		r.peeked = len(msg)
		return msg, nil
	}
	return nil, ErrEmpty
}

func (r *Receiver) peekSlow(ctx context.Context) ([]byte, error) {
	count(&r.st.Waits, 1)
	r.w.start()
	defer r.w.finish()
	for {
		if err := r.w.pause(ctx); err != nil {
			if errors.Is(err, ErrPeerGone) {
				// The sender may have published its last messages after our
				// last look and then died: deliver them before the error.
				if msg, err := r.tryPeek(); err != ErrEmpty {
					return msg, err
				}
			}
			return nil, wrap("receive", r.ch.Name(), err)
		}
		// STEP(park.3) After a pause that armed (park.1–2), this retry is the re-check.
		msg, err := r.tryPeek()
		if err != ErrEmpty {
			return msg, err
		}
	}
}

// RecvBatch receives up to len(msgs) messages, waiting, as Recv does, while
// the channel is empty: the i-th is appended to msgs[i][:0] (a msgs[i] with
// the capacity for it takes it without allocation), and the space of all of
// them is handed back with one store of head and at most one wakeup of the
// sender (docs/layout.md, "Receive a batch"). It returns how many it
// received, at least 1 unless it fails; any sender's messages can be read
// this way, whether it sent them one by one or in batches. After the sender
// has closed and every message has been read it returns 0 and io.EOF; its
// other errors are Recv's. A message peeked and not released is received
// again, as the first. An empty msgs receives nothing.
//
// RecvBatch into large enough buffers makes no allocation, no cgo call, and
// no system call unless the sender is parked. The messages count one by one
// in Stats.
func (r *Receiver) RecvBatch(msgs [][]byte) (int, error) {
	return r.RecvBatchContext(context.Background(), msgs)
}

// RecvBatchContext is RecvBatch with a context, as RecvContext.
func (r *Receiver) RecvBatchContext(ctx context.Context, msgs [][]byte) (n int, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	if n, err = r.tryRecvBatch(msgs); err != ErrEmpty {
		return n, err
	}
	count(&r.st.Waits, 1)
	r.w.start()
	defer r.w.finish()
	for {
		if err := r.w.pause(ctx); err != nil {
			if errors.Is(err, ErrPeerGone) {
				// As peekSlow: deliver what the dead sender published last.
				if n, rerr := r.tryRecvBatch(msgs); rerr != ErrEmpty {
					return n, rerr
				}
			}
			return 0, wrap("receive", r.ch.Name(), err)
		}
		// STEP(park.3) After a pause that armed (park.1–2), this retry is the re-check.
		if n, err = r.tryRecvBatch(msgs); err != ErrEmpty {
			return n, err
		}
	}
}

// TryRecvBatch is RecvBatch without waiting: 0 and ErrEmpty if there is no
// message now.
func (r *Receiver) TryRecvBatch(msgs [][]byte) (n int, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return r.tryRecvBatch(msgs)
}

func (r *Receiver) tryRecvBatch(msgs [][]byte) (int, error) {
	if r.closed {
		return 0, wrap("receive", r.ch.Name(), ErrClosed)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	n, bytes, err := r.c.TryReadBatch(msgs)
	if err == ring.ErrEmpty {
		// STEP(recv.2) SYNC(tx_closed): seq_cst load after finding the ring empty; pairs with
		// the store in Sender.close, which follows the sender's last record.
		if atomic.LoadUint32(&r.h.TxClosed) == 0 {
			return 0, ErrEmpty
		}
		// Closed: anything published before the close is visible now.
		if n, bytes, err = r.c.TryReadBatch(msgs); err == ring.ErrEmpty {
			return 0, io.EOF
		}
	}
	if err != nil {
		return 0, wrap("receive", r.ch.Name(), lift(err))
	}
	count(&r.st.Messages, uint64(n))
	count(&r.st.Bytes, uint64(bytes))
	// STEP(recv_batch.5) notify.1–3 with tx_parked, space_seq: once for the batch, after
	// the one store of head (recv_batch.4), as release.2 follows release.1.
	notify(&r.h.TxParked, &r.h.SpaceSeq, r.ch.spaceWord, r.st)
	return n, nil
}

// Release frees the message returned by the last Peek, letting the sender
// reuse its space, and wakes the sender if it is parked.
func (r *Receiver) Release() (err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return r.release()
}

func (r *Receiver) release() error {
	if r.closed {
		return wrap("release", r.ch.Name(), ErrClosed)
	}
	if err := r.c.Release(); err != nil {
		return wrap("release", r.ch.Name(), lift(err))
	}
	count(&r.st.Messages, 1)
	count(&r.st.Bytes, uint64(r.peeked))
	// STEP(release.2) notify.1–3 with tx_parked, space_seq.
	notify(&r.h.TxParked, &r.h.SpaceSeq, r.ch.spaceWord, r.st)
	return nil
}

// Close closes the receiving end: the sender's next Send returns ErrClosed.
// Messages still in the ring are discarded. Close is idempotent.
func (r *Receiver) Close() error {
	r.ch.mu.Lock()
	defer r.ch.mu.Unlock()
	return r.close()
}

func (r *Receiver) close() (err error) {
	if r.closed {
		return nil
	}
	r.closed = true
	defer guard(&err, debug.SetPanicOnFault(true))
	// STEP(close.1) SYNC(rx_closed): seq_cst; pairs with the load in Sender.TryReserve.
	atomic.StoreUint32(&r.h.RxClosed, 1)
	// STEP(close.2) Wake the sender: increment space_seq and wake it,
	// parked or not, as docs/layout.md says (and C does).
	bump(&r.h.SpaceSeq, r.ch.spaceWord)
	r.ch.rxRole.release()
	return nil
}
