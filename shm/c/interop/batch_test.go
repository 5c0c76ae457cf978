package interop_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// The batch calls across languages (docs/layout.md, "Send a batch",
// "Receive a batch"): a Go SendBatch stream read by a C receiver with
// shmchan_recv_batch and with plain shmchan_recv/peek, and a C
// shmchan_send_batch stream read by Go's RecvBatch and Recv. Messages are
// makeMessage's, checked one by one; batches are 1..32 messages, cycling.

const batchMax = 32

// TestBatchGoToC streams Go batches to a C receiver, batched or not.
func TestBatchGoToC(t *testing.T) {
	for _, m := range modes {
		for _, mode := range []string{"recv-batch", "recv"} {
			t.Run("wait="+m.name+"/c="+mode, func(t *testing.T) {
				name := newName(t)
				count := streamCount()
				ch, tx := createEnd(t, name, streamCapacity, m.wait, (*shm.Channel).Sender)
				defer ch.Close()
				p := startPeer(t, false, mode, name, strconv.Itoa(count), m.name)

				ctx := testContext(t, 5*time.Minute)
				r := rand.New(rand.NewPCG(1, 2))
				bufs := make([][]byte, batchMax)
				for i := range bufs {
					bufs[i] = make([]byte, streamMaxLen)
				}
				msgs := make([][]byte, batchMax)
				start := time.Now()
				for i, calls := 0, 0; i < count; calls++ {
					k := min(1+calls%batchMax, count-i)
					for j := range k {
						msgs[j] = bufs[j][:16+r.IntN(streamMaxLen-16+1)]
						makeMessage(msgs[j], uint64(i+j), r)
					}
					for batch := msgs[:k]; len(batch) > 0; {
						n, err := tx.SendBatchContext(ctx, batch)
						if err != nil {
							t.Fatalf("SendBatch at %d: %v", i, err)
						}
						batch = batch[n:]
					}
					i += k
				}
				if err := tx.Close(); err != nil {
					t.Fatalf("Sender.Close: %v", err)
				}
				waitCReceiver(t, p, count, start)
				checkStats(t, ch, uint64(count))
			})
		}
	}
}

// TestBatchCToGo streams C batches to a Go receiver that alternates
// RecvBatch (1..32 buffers) with Recv.
func TestBatchCToGo(t *testing.T) {
	for _, m := range modes {
		t.Run("wait="+m.name, func(t *testing.T) {
			name := newName(t)
			count := streamCount()
			ch, rx := createEnd(t, name, streamCapacity, m.wait, (*shm.Channel).Receiver)
			defer ch.Close()
			p := startPeer(t, false, "send-batch", name, strconv.Itoa(count), strconv.Itoa(streamMaxLen), m.name)

			ctx := testContext(t, 5*time.Minute)
			bufs := make([][]byte, batchMax)
			for i := range bufs {
				bufs[i] = make([]byte, 0, streamMaxLen)
			}
			start := time.Now()
			got := 0
			for calls := 0; ; calls++ {
				var n int
				var err error
				if calls%4 == 3 {
					var msg []byte
					if msg, err = rx.RecvContext(ctx, bufs[0][:0]); err == nil {
						bufs[0], n = msg, 1
					}
				} else {
					n, err = rx.RecvBatchContext(ctx, bufs[:1+calls%batchMax])
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("receive %d: %v", got, err)
				}
				for _, msg := range bufs[:n] {
					if err := checkMessage(msg, uint64(got)); err != nil {
						t.Fatal(err)
					}
					got++
				}
			}
			waitCSender(t, p, got, count, start)
			checkStats(t, ch, uint64(count))
		})
	}
}
