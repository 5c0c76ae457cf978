package shm_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/shmchan/shmchan/shm"
)

// benchStream times a stream of b.N messages of size bytes: send runs in a
// new goroutine and recv in the benchmark's, both started after the timer is
// reset; the timer stops when recv returns, before the wait for send.
func benchStream(b *testing.B, size int64, send, recv func()) {
	b.SetBytes(size)
	b.ReportAllocs()
	var wg sync.WaitGroup
	wg.Add(1)
	b.ResetTimer()
	go func() {
		defer wg.Done()
		send()
	}()
	recv()
	b.StopTimer()
	wg.Wait()
}

// BenchmarkChannel measures the in-process cost of a message: ns/op is the
// time per message and MB/s the payload throughput.
//
//   - wait=spin|block|adaptive: one goroutine Sends, the benchmark's
//     goroutine Recvs into a reused buffer, through a 64 KiB ring, with
//     both ends in that wait strategy. It includes the wakeups and
//     cache-line transfers between the two cores (or the scheduling, when
//     both goroutines share one).
//   - wait=none: TrySend then TryRecv in one goroutine, so the ring never
//     fills nor empties while the other side waits: the ring's own cost.
func BenchmarkChannel(b *testing.B) {
	const size = 64
	for _, w := range []shm.WaitStrategy{shm.Spin, shm.Block, shm.Adaptive} {
		b.Run(fmt.Sprintf("wait=%s/size=%d", w, size), func(b *testing.B) {
			_, _, tx, rx := chanEnds(b, 1<<16, shm.WithWait(w))
			msg := make([]byte, size)
			dst := make([]byte, 0, size)
			benchStream(b, size, func() {
				for range b.N {
					if err := tx.Send(msg); err != nil {
						b.Error(err)
						return
					}
				}
			}, func() {
				dst := dst
				for range b.N {
					var err error
					if dst, err = rx.Recv(dst[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run(fmt.Sprintf("wait=none/size=%d", size), func(b *testing.B) {
		_, _, tx, rx := chanEnds(b, 1<<16)
		msg := make([]byte, size)
		dst := make([]byte, 0, size)
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tx.TrySend(msg); err != nil {
				b.Fatal(err)
			}
			var err error
			if dst, err = rx.TryRecv(dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChannelBatch is BenchmarkChannel through SendBatch and RecvBatch,
// batch=32 messages a call: ns/op is the time per message.
//
//   - wait=spin: one goroutine sends batches, the benchmark's goroutine
//     receives up to 32 at a time, through a 64 KiB ring.
//   - wait=none: TrySendBatch then TryRecvBatch in one goroutine: the cost
//     of the calls and copies without cache-line transfers.
func BenchmarkChannelBatch(b *testing.B) {
	const size, batch = 64, 32
	newBatch := func() (msgs, bufs [][]byte) {
		msgs, bufs = make([][]byte, batch), make([][]byte, batch)
		for i := range msgs {
			msgs[i], bufs[i] = make([]byte, size), make([]byte, 0, size)
		}
		return msgs, bufs
	}
	b.Run(fmt.Sprintf("wait=spin/size=%d/batch=%d", size, batch), func(b *testing.B) {
		_, _, tx, rx := chanEnds(b, 1<<16, shm.WithWait(shm.Spin))
		msgs, bufs := newBatch()
		benchStream(b, size, func() {
			for i := 0; i < b.N; {
				n, err := tx.SendBatch(msgs[:min(batch, b.N-i)])
				if err != nil {
					b.Error(err)
					return
				}
				i += n
			}
		}, func() {
			for i := 0; i < b.N; {
				n, err := rx.RecvBatch(bufs)
				if err != nil {
					b.Fatal(err)
				}
				i += n
			}
		})
	})
	b.Run(fmt.Sprintf("wait=none/size=%d/batch=%d", size, batch), func(b *testing.B) {
		_, _, tx, rx := chanEnds(b, 1<<16)
		msgs, bufs := newBatch()
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			if _, err := tx.TrySendBatch(msgs); err != nil {
				b.Fatal(err)
			}
			if _, err := rx.TryRecvBatch(bufs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
