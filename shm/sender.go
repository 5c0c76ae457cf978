package shm

import (
	"context"
	"runtime/debug"
	"sync/atomic"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/sync/ring"
)

// Sender is the sending end of a channel. Its methods must not be called
// concurrently with each other (one goroutine sends); Channel.Close must not
// run concurrently with them either.
//
// Send, TrySend, SendBatch, Reserve and Commit make no allocation, no cgo call, and no
// system call unless the receiver is parked.
type Sender struct {
	ch     *Channel
	h      *layout.ChanHeader
	p      *ring.Producer
	w      waiter
	st     *layout.Stats // the sender's counter line, or a process-local one
	closed bool
}

// Send copies msg into the channel as one message, waiting while the ring is
// full. It returns ErrTooLarge (before writing anything) if msg exceeds
// MaxMessage, ErrClosed if the receiver has closed the channel or the Sender
// is closed, and ErrPeerGone if the receiver's process died while Send waited.
func (s *Sender) Send(msg []byte) error {
	return s.SendContext(context.Background(), msg)
}

// SendContext is Send with a context: when ctx is done it returns ctx.Err()
// (an expired deadline also matches os.ErrDeadlineExceeded) and sends nothing.
func (s *Sender) SendContext(ctx context.Context, msg []byte) (err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	// As ReserveContext: the try, then the wait only if full.
	buf, err := s.tryReserve(len(msg))
	if err == ErrFull {
		buf, err = s.reserveSlow(ctx, len(msg))
	}
	if err != nil {
		return err
	}
	// STEP(send.3)
	copy(buf, msg)
	return s.commit(len(msg))
}

// TrySend is Send without waiting: it returns ErrFull at once if there is no
// room now.
func (s *Sender) TrySend(msg []byte) (err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	buf, err := s.tryReserve(len(msg))
	if err != nil {
		return err
	}
	// STEP(send.3)
	copy(buf, msg)
	return s.commit(len(msg))
}

// Reserve returns n bytes of the ring for the caller to fill in place (zero
// copy), waiting while the ring is full. Commit then publishes them. Reserving
// again before Commit abandons the earlier reservation. It is not safe to use
// the slice after Commit, Close or Channel.Close.
func (s *Sender) Reserve(n int) ([]byte, error) {
	return s.ReserveContext(context.Background(), n)
}

// ReserveContext is Reserve with a context, as SendContext.
func (s *Sender) ReserveContext(ctx context.Context, n int) (buf []byte, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	// The try, then the wait only if full, written out in each blocking call
	// (here and in SendContext) rather than in a shared helper: one call
	// fewer per message (docs/design.md, "Per-call cost").
	if buf, err = s.tryReserve(n); err == ErrFull {
		buf, err = s.reserveSlow(ctx, n)
	}
	return buf, err
}

// TryReserve is Reserve without waiting: ErrFull if there is no room now.
func (s *Sender) TryReserve(n int) (buf []byte, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return s.tryReserve(n)
}

func (s *Sender) tryReserve(n int) ([]byte, error) {
	if s.closed {
		return nil, wrap("send", s.ch.Name(), ErrClosed)
	}
	// STEP(send.1) SYNC(rx_closed): seq_cst load; pairs with the store in Receiver.close.
	// It shares the signal line with rx_parked, which notify loads anyway.
	if atomic.LoadUint32(&s.h.RxClosed) != 0 {
		return nil, wrap("send", s.ch.Name(), errReceiverClosed)
	}
	buf, err := s.p.TryReserve(n)
	if err == ring.ErrFull {
		return nil, ErrFull
	}
	if err != nil {
		return nil, wrap("send", s.ch.Name(), lift(err))
	}
	return buf, nil
}

// errReceiverClosed is what a send to a channel the receiver closed returns.
var errReceiverClosed = &closedError{"receiver closed the channel"}

// closedError says which end closed; it matches ErrClosed.
type closedError struct{ msg string }

// Error says which end closed the channel.
func (e *closedError) Error() string { return e.msg }

// Is makes the error match ErrClosed.
func (e *closedError) Is(target error) bool { return target == ErrClosed }

func (s *Sender) reserveSlow(ctx context.Context, n int) ([]byte, error) {
	count(&s.st.Waits, 1)
	s.w.start()
	defer s.w.finish()
	for {
		if err := s.w.pause(ctx); err != nil {
			return nil, wrap("send", s.ch.Name(), err)
		}
		// STEP(park.3) After a pause that armed (park.1–2), this retry is the re-check.
		buf, err := s.tryReserve(n)
		if err != ErrFull {
			return buf, err
		}
	}
}

// Commit publishes the first m bytes of the pending reservation as one
// message (m may be less than the n reserved) and wakes the receiver if it is
// parked. It returns an error matching ErrTooLarge if m exceeds the
// reservation.
func (s *Sender) Commit(m int) (err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return s.commit(m)
}

func (s *Sender) commit(m int) error {
	if s.closed {
		return wrap("commit", s.ch.Name(), ErrClosed)
	}
	if err := s.p.Commit(m); err != nil {
		return wrap("commit", s.ch.Name(), lift(err))
	}
	count(&s.st.Messages, 1)
	count(&s.st.Bytes, uint64(m))
	// STEP(send.7) notify.1–3 with rx_parked, data_seq.
	notify(&s.h.RxParked, &s.h.DataSeq, s.ch.dataWord, s.st)
	return nil
}

// SendBatch copies as many of msgs as fit into the channel, in order, and
// publishes them with one store and at most one wakeup of the receiver
// (docs/layout.md, "Send a batch"; the layout is unchanged, so any receiver
// reads them). It waits, as Send does, only while not even msgs[0] fits, and
// returns how many it sent: fewer than len(msgs) when the ring filled up,
// and the caller sends the rest with another call. It returns 0 and an error
// matching ErrTooLarge if msgs[0] exceeds MaxMessage (a later message that
// is too large ends the batch before it, and the next call reports it), and
// Send's other errors. An empty msgs sends nothing.
//
// SendBatch makes no allocation, no cgo call, and no system call unless the
// receiver is parked. The messages count one by one in Stats.
func (s *Sender) SendBatch(msgs [][]byte) (int, error) {
	return s.SendBatchContext(context.Background(), msgs)
}

// SendBatchContext is SendBatch with a context, as SendContext: when ctx is
// done before msgs[0] fits, it returns 0 and ctx.Err().
func (s *Sender) SendBatchContext(ctx context.Context, msgs [][]byte) (n int, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	n, err = s.trySendBatch(msgs)
	if err != ErrFull {
		return n, err
	}
	count(&s.st.Waits, 1)
	s.w.start()
	defer s.w.finish()
	for {
		if err := s.w.pause(ctx); err != nil {
			return 0, wrap("send", s.ch.Name(), err)
		}
		// STEP(park.3) After a pause that armed (park.1–2), this retry is the re-check.
		if n, err = s.trySendBatch(msgs); err != ErrFull {
			return n, err
		}
	}
}

// TrySendBatch is SendBatch without waiting: it returns 0 and ErrFull at
// once if not even msgs[0] fits now.
func (s *Sender) TrySendBatch(msgs [][]byte) (n int, err error) {
	defer guard(&err, debug.SetPanicOnFault(true))
	return s.trySendBatch(msgs)
}

func (s *Sender) trySendBatch(msgs [][]byte) (int, error) {
	if s.closed {
		return 0, wrap("send", s.ch.Name(), ErrClosed)
	}
	// STEP(send.1) SYNC(rx_closed): seq_cst load; pairs with the store in Receiver.close.
	if atomic.LoadUint32(&s.h.RxClosed) != 0 {
		return 0, wrap("send", s.ch.Name(), errReceiverClosed)
	}
	n, bytes, err := s.p.TryWriteBatch(msgs)
	if err == ring.ErrFull {
		return 0, ErrFull
	}
	if err != nil {
		return 0, wrap("send", s.ch.Name(), lift(err))
	}
	if n == 0 {
		return 0, nil
	}
	count(&s.st.Messages, uint64(n))
	count(&s.st.Bytes, uint64(bytes))
	// STEP(send_batch.7) notify.1–3 with rx_parked, data_seq: once for the batch.
	notify(&s.h.RxParked, &s.h.DataSeq, s.ch.dataWord, s.st)
	return n, nil
}

// Free returns the bytes free in the ring as far as the sender knows (a
// lower bound), and 0 once the Sender or its Channel is closed (the ring may
// be unmapped then).
func (s *Sender) Free() (n int) {
	if s.closed {
		return 0
	}
	var err error
	defer func() {
		if err != nil {
			n = 0 // a fault: the ring is gone
		}
	}()
	defer guard(&err, debug.SetPanicOnFault(true))
	return s.p.Free()
}

// Close closes the sending end: the receiver reads what is left and then gets
// io.EOF. A pending reservation is abandoned. The role is released, and no
// sender can claim the channel again. Close is idempotent.
func (s *Sender) Close() error {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.close()
}

func (s *Sender) close() (err error) {
	if s.closed {
		return nil
	}
	s.closed = true
	defer guard(&err, debug.SetPanicOnFault(true))
	// STEP(close.1) SYNC(tx_closed): seq_cst store after our last record header; pairs with
	// the load in Receiver.TryPeek, which looks again after seeing it.
	atomic.StoreUint32(&s.h.TxClosed, 1)
	// STEP(close.2) Wake the receiver: increment data_seq and wake it,
	// parked or not, as docs/layout.md says (and C does; the golden images
	// of shm/c/interop compare the two).
	bump(&s.h.DataSeq, s.ch.dataWord)
	s.ch.txRole.release()
	return nil
}
