package shm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// The batch calls: SendBatch publishes several messages with one store,
// RecvBatch releases several with one store of head (docs/layout.md, "Send a
// batch", "Receive a batch").

// batchOf returns k messages of n bytes, the i-th seeded with first+i.
func batchOf(k, n, first int) [][]byte {
	msgs := make([][]byte, k)
	for i := range msgs {
		msgs[i] = pattern(n, byte(first+i))
	}
	return msgs
}

// TestChannelBatch streams messages between two goroutines in each wait
// strategy: the sender mixes SendBatch with Send, the receiver RecvBatch
// with Recv, so that a batch is read one by one and single messages in a
// batch. Every message arrives whole and in order, and the counters count
// each message of a batch. Run it with -race.
func TestChannelBatch(t *testing.T) {
	for _, w := range waitStrategies {
		t.Run("wait="+w.String(), func(t *testing.T) {
			count := streamCount(w)
			a, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(w))
			max := a.MaxMessage()
			size := func(i int) int { return i * 7919 % (max/4 + 1) }
			msg := func(i int) []byte { return pattern(size(i), byte(i)) }
			var sentBytes uint64
			for i := range count {
				sentBytes += uint64(size(i))
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := make([][]byte, 0, 16)
				for i := 0; i < count; {
					if i%5 == 4 {
						if err := tx.Send(msg(i)); err != nil {
							t.Errorf("send %d: %v", i, err)
							return
						}
						i++
						continue
					}
					batch = batch[:0]
					for j := i; j < min(count, i+1+i%16); j++ {
						batch = append(batch, msg(j))
					}
					n, err := tx.SendBatch(batch)
					if err != nil || n < 1 {
						t.Errorf("SendBatch at %d: %d, %v", i, n, err)
						return
					}
					i += n
				}
				if err := tx.Close(); err != nil {
					t.Errorf("Sender.Close: %v", err)
				}
			}()
			defer func() {
				rx.Close()
				wg.Wait()
			}()
			bufs := make([][]byte, 8)
			for i := range bufs {
				bufs[i] = make([]byte, 0, max)
			}
			for i := 0; ; {
				var got [][]byte
				if i%3 == 2 {
					m, err := rx.Recv(bufs[0][:0])
					if err == io.EOF {
						if i != count {
							t.Fatalf("io.EOF after %d of %d messages", i, count)
						}
						break
					}
					if err != nil {
						t.Fatalf("Recv %d: %v", i, err)
					}
					got = [][]byte{m}
				} else {
					n, err := rx.RecvBatch(bufs[:1+i%len(bufs)])
					if err == io.EOF {
						if i != count || n != 0 {
							t.Fatalf("io.EOF (%d) after %d of %d messages", n, i, count)
						}
						break
					}
					if err != nil || n < 1 {
						t.Fatalf("RecvBatch at %d: %d, %v", i, n, err)
					}
					got = bufs[:n]
				}
				for _, m := range got {
					if want := msg(i); !bytes.Equal(m, want) {
						t.Fatalf("message %d: %d bytes, want %d (or corrupt)", i, len(m), len(want))
					}
					i++
				}
			}
			wg.Wait()
			st, err := a.Stats()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []struct {
				end string
				got shm.Stats
			}{{"sender", st.Sender}, {"receiver", st.Receiver}} {
				if s.got.Messages != uint64(count) || s.got.Bytes != sentBytes {
					t.Errorf("%s counted %d messages, %d bytes; want %d, %d", s.end, s.got.Messages, s.got.Bytes, count, sentBytes)
				}
			}
		})
	}
}

// TestChannelBatchPartial: SendBatch sends what fits and says how many;
// TrySendBatch on a full ring sends nothing.
func TestChannelBatchPartial(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<10)
	// 1 KiB holds 15 records of 64 bytes (the 8-byte terminator is kept free).
	n, err := tx.SendBatch(batchOf(20, 56, 0))
	if err != nil || n != 15 {
		t.Fatalf("SendBatch(20 of 56 bytes) into 1 KiB = %d, %v; want 15, nil", n, err)
	}
	n, err = tx.TrySendBatch(batchOf(3, 56, 0))
	if n != 0 || err != shm.ErrFull {
		t.Fatalf("TrySendBatch on a full ring = %d, %v; want 0, ErrFull", n, err)
	}
	bufs := make([][]byte, 4)
	n, err = rx.TryRecvBatch(bufs)
	if err != nil || n != 4 {
		t.Fatalf("TryRecvBatch(4) = %d, %v; want 4", n, err)
	}
	for i, b := range bufs {
		if !bytes.Equal(b, pattern(56, byte(i))) {
			t.Fatalf("message %d differs", i)
		}
	}
	n, err = tx.TrySendBatch(batchOf(5, 56, 20))
	if err != nil || n != 4 {
		t.Fatalf("TrySendBatch(5) after 4 were read = %d, %v; want 4", n, err)
	}
	// Empty batches do nothing.
	if n, err := tx.SendBatch(nil); n != 0 || err != nil {
		t.Fatalf("SendBatch(nil) = %d, %v", n, err)
	}
	if n, err := rx.RecvBatch(nil); n != 0 || err != nil {
		t.Fatalf("RecvBatch(nil) = %d, %v", n, err)
	}
}

// TestChannelBatchErrors: a first message that is too large fails the batch
// before anything is written; a later one ends the batch before it; closed
// ends give the errors of Send and Recv.
func TestChannelBatchErrors(t *testing.T) {
	a, _, tx, rx := chanEnds(t, 1<<10)
	big := make([]byte, a.MaxMessage()+1)
	n, err := tx.SendBatch([][]byte{big, {1}})
	if n != 0 {
		t.Errorf("SendBatch(too large first) sent %d", n)
	}
	wantErr(t, "SendBatch(too large first)", err, shm.ErrTooLarge)
	n, err = tx.SendBatch([][]byte{{1}, {2}, big, {3}})
	if n != 2 || err != nil {
		t.Fatalf("SendBatch(too large third) = %d, %v; want 2, nil", n, err)
	}
	n, err = tx.SendBatch([][]byte{big})
	if n != 0 {
		t.Errorf("SendBatch(too large) again sent %d", n)
	}
	wantErr(t, "SendBatch(too large) again", err, shm.ErrTooLarge)
	bufs := make([][]byte, 4)
	if n, err = rx.TryRecvBatch(bufs); n != 2 || err != nil {
		t.Fatalf("TryRecvBatch = %d, %v; want 2", n, err)
	}
	if n, err = rx.TryRecvBatch(bufs); n != 0 || err != shm.ErrEmpty {
		t.Fatalf("TryRecvBatch on empty = %d, %v; want 0, ErrEmpty", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	n, err = rx.RecvBatchContext(ctx, bufs)
	if n != 0 {
		t.Errorf("RecvBatchContext past its deadline received %d", n)
	}
	wantErr(t, "RecvBatchContext past its deadline", err, context.DeadlineExceeded)

	if _, err := tx.SendBatch(batchOf(3, 8, 0)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = tx.SendBatch(batchOf(1, 8, 0))
	wantErr(t, "SendBatch after Close", err, shm.ErrClosed)
	if n, err = rx.RecvBatch(bufs); n != 3 || err != nil {
		t.Fatalf("RecvBatch after the sender closed = %d, %v; want the 3 sent", n, err)
	}
	if n, err = rx.RecvBatch(bufs); n != 0 || err != io.EOF {
		t.Fatalf("RecvBatch at the end = %d, %v; want 0, io.EOF", n, err)
	}
	rx.Close()
	_, err = rx.RecvBatch(bufs)
	wantErr(t, "RecvBatch after Close", err, shm.ErrClosed)

	_, _, tx2, rx2 := chanEnds(t, 1<<10)
	rx2.Close()
	_, err = tx2.SendBatch(batchOf(1, 8, 0))
	wantErr(t, "SendBatch after the receiver closed", err, shm.ErrClosed)
}

// TestChannelBatchWakesParkedSender: a Block sender parks in SendBatch on a
// full ring; one RecvBatch, one store of head and one wakeup, lets it go on.
// And a Block receiver parked in RecvBatch is woken by one SendBatch.
func TestChannelBatchWakesParkedSender(t *testing.T) {
	a, _, tx, rx := chanEnds(t, 1<<10, shm.WithWait(shm.Block))
	if n, err := tx.SendBatch(batchOf(15, 56, 0)); n != 15 || err != nil {
		t.Fatalf("filling: %d, %v", n, err)
	}
	done := blocked(t, func() error {
		n, err := tx.SendBatch(batchOf(2, 56, 15))
		if err == nil && n != 2 {
			err = fmt.Errorf("sent %d of 2", n)
		}
		return err
	})
	// blocked waited 100 ms: the sender has parked. A wakeup lost would
	// leave it to its 50 ms sleep bound.
	bufs := make([][]byte, 15)
	since := time.Now()
	if n, err := rx.RecvBatch(bufs); n != 15 || err != nil {
		t.Fatalf("RecvBatch = %d, %v", n, err)
	}
	if err := returns(t, done, since, 40*time.Millisecond); err != nil {
		t.Fatalf("the parked SendBatch: %v", err)
	}
	if n, err := rx.RecvBatch(bufs); n != 2 || err != nil {
		t.Fatalf("RecvBatch = %d, %v", n, err)
	}

	done = blocked(t, func() error {
		n, err := rx.RecvBatch(bufs)
		if err == nil && n != 3 {
			err = fmt.Errorf("received %d of 3", n)
		}
		return err
	})
	since = time.Now()
	if n, err := tx.SendBatch(batchOf(3, 8, 0)); n != 3 || err != nil {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	if err := returns(t, done, since, 40*time.Millisecond); err != nil {
		t.Fatalf("the parked RecvBatch: %v", err)
	}
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The promptness above is the protocol's promise; whether a batch found
	// its peer's flag up is not: a parked end wakes on its own every 50 ms
	// (and on Windows a semaphore's leftover count wakes it early), and a
	// batch that comes while it re-checks finds it awake. Under Wine the
	// receiver's count was 0 once, the parked sender having returned in
	// time. So the counts are logged, not asserted.
	t.Logf("wakes: sender %d, receiver %d", st.Sender.Wakes, st.Receiver.Wakes)
}

// batchCase is the allocCase "send/recv": send(msgs) then recv(bufs), each
// wanting all len(msgs) messages.
func batchCase(sendName string, send func([][]byte) (int, error), recvName string, recv func([][]byte) (int, error), msgs, bufs [][]byte) allocCase {
	return allocCase{sendName + "/" + recvName, func() error {
		if n, err := send(msgs); n != len(msgs) || err != nil {
			return fmt.Errorf("%s = %d, %v", sendName, n, err)
		}
		if n, err := recv(bufs); n != len(msgs) || err != nil {
			return fmt.Errorf("%s = %d, %v", recvName, n, err)
		}
		return nil
	}}
}

// TestChannelBatchAllocs: SendBatch and RecvBatch into buffers with room
// allocate nothing.
func TestChannelBatchAllocs(t *testing.T) {
	_, _, tx, rx := chanEnds(t, 1<<14)
	msgs := batchOf(32, 64, 0)
	bufs := make([][]byte, 32)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 64)
	}
	ctx := context.Background()
	wantNoAllocs(t, []allocCase{
		batchCase("SendBatch", tx.SendBatch, "RecvBatch", rx.RecvBatch, msgs, bufs),
		batchCase("SendBatchContext", func(m [][]byte) (int, error) { return tx.SendBatchContext(ctx, m) },
			"RecvBatchContext", func(m [][]byte) (int, error) { return rx.RecvBatchContext(ctx, m) }, msgs, bufs),
		batchCase("TrySendBatch", tx.TrySendBatch, "TryRecvBatch", rx.TryRecvBatch, msgs, bufs),
		{"TryRecvBatch/ErrEmpty", func() error {
			if _, err := rx.TryRecvBatch(bufs); err != shm.ErrEmpty {
				return fmt.Errorf("TryRecvBatch = %v, want ErrEmpty", err)
			}
			return nil
		}},
	})
}
