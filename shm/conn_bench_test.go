package shm_test

import (
	"io"
	"testing"
)

// BenchmarkConnCost measures the in-process cost of a 64-byte round trip
// with no waiting, both ends in the benchmark's goroutine (so the ring never
// fills nor empties while a side waits): what a Conn adds to its channels.
// It is the loop to count instructions on (valgrind --tool=callgrind), which
// do not depend on the machine's load.
//
//   - path=conn: client Write, server io.ReadFull, server Write, client
//     io.ReadFull (the stream API, as the echo of BenchmarkConnRoundTrip).
//   - path=channel: the same Conns' Sender().TrySend and Receiver().TryRecv
//     (the raw channel).
func BenchmarkConnCost(b *testing.B) {
	const size = 64
	l := listen(b)
	c, s := pipe(b, l)
	b.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	msg := pattern(size, 1)
	buf := make([]byte, size)
	b.Run("path=conn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=channel", func(b *testing.B) {
		b.ReportAllocs()
		dst := buf[:0]
		for b.Loop() {
			if err := c.Sender().TrySend(msg); err != nil {
				b.Fatal(err)
			}
			var err error
			if dst, err = s.Receiver().TryRecv(dst[:0]); err != nil {
				b.Fatal(err)
			}
			if err := s.Sender().TrySend(dst); err != nil {
				b.Fatal(err)
			}
			if dst, err = c.Receiver().TryRecv(dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
