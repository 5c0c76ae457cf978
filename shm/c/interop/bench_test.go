package interop_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shmchan/shmchan/shm"
)

// The benchmarks compare a C peer with a Go peer in the same run: the Go
// benchmark process is one end, and the peer (peer=c: testdata/peer.c,
// peer=go: a child copy of this test binary) is the other.
//
//	go test -run '^$' -bench . ./shm/c/interop
//
// Custom units:
//   - p50-ns, p99-ns: the median and 99th percentile of one round trip (Go
//     sends 64 bytes on one channel, the peer sends them back on another),
//     in nanoseconds, from an HDR histogram of every round trip of the run.
//     ns/op is the mean round trip.
//   - MB/s (from b.SetBytes) and msgs/s: one-way throughput of 64-byte
//     messages, from the first send until the peer has received the last one
//     and exited.

const benchMsg = 64

var benchPeers = []string{"c", "go"}

var benchWaits = []struct {
	name string
	wait shm.WaitStrategy
}{
	{"spin", shm.Spin},
	{"adaptive", shm.Adaptive},
	{"block", shm.Block},
}

// startEcho starts an echo peer that sends back on pong what it receives on ping.
func startEcho(tb testing.TB, peerKind, ping, pong, wait string) func() {
	tb.Helper()
	if peerKind == "c" {
		p := startPeer(tb, false, "echo", ping, pong, wait)
		p.expect("ready")
		return func() { p.wait() }
	}
	g := startGo(tb, "go-echo", ping, pong, wait)
	g.expect(tb, "ready")
	return func() {
		if err := g.cmd.Wait(); err != nil {
			tb.Errorf("go-echo: %v", err)
		}
	}
}

// startSink starts a sink peer on name and returns a function that waits for
// it to exit and returns its output ("sink COUNT BYTES"). A batch sink
// receives with RecvBatch (shmchan_recv_batch in C), up to 32 at a time.
func startSink(tb testing.TB, peerKind, name, wait string, batch bool) func() []string {
	tb.Helper()
	cmode, gorole := "sink", "go-sink"
	if batch {
		cmode, gorole = "sink-batch", "go-sink-batch"
	}
	if peerKind == "c" {
		p := startPeer(tb, false, cmode, name, wait)
		p.expect("ready")
		return func() []string { return p.wait()[1:] }
	}
	g := startGo(tb, gorole, name, wait)
	g.expect(tb, "ready")
	return func() []string {
		var l []string
		for g.out.Scan() {
			l = append(l, g.out.Text())
		}
		if err := g.cmd.Wait(); err != nil {
			tb.Errorf("go-sink: %v", err)
		}
		return l
	}
}

// roundTrips opens ping and pong, starts the echo peer, and returns the
// sending and receiving ends and a function that closes everything.
func roundTrips(tb testing.TB, peerKind string, w shm.WaitStrategy, wname string) (*shm.Sender, *shm.Receiver, func()) {
	tb.Helper()
	ping, pong := newName(tb), newName(tb)
	pingCh, err := shm.CreateChannel(ping, 1<<16, shm.WithWait(w))
	if err != nil {
		tb.Fatal(err)
	}
	pongCh, err := shm.CreateChannel(pong, 1<<16, shm.WithWait(w))
	if err != nil {
		tb.Fatal(err)
	}
	tx, err := pingCh.Sender()
	if err != nil {
		tb.Fatal(err)
	}
	rx, err := pongCh.Receiver()
	if err != nil {
		tb.Fatal(err)
	}
	wait := startEcho(tb, peerKind, ping, pong, wname)
	return tx, rx, func() {
		if err := tx.Close(); err != nil {
			tb.Error(err)
		}
		// The echo sees EOF, closes its sender, and we see EOF in turn.
		if _, err := rx.Recv(nil); !errors.Is(err, io.EOF) {
			tb.Errorf("Recv after close: %v, want io.EOF", err)
		}
		wait()
		pingCh.Close()
		pongCh.Close()
	}
}

// BenchmarkRoundTrip measures 64-byte round trips between Go and a C peer,
// and between Go and a Go peer.
func BenchmarkRoundTrip(b *testing.B) {
	for _, pk := range benchPeers {
		for _, w := range benchWaits {
			b.Run(fmt.Sprintf("peer=%s/wait=%s/size=%d", pk, w.name, benchMsg), func(b *testing.B) {
				tx, rx, done := roundTrips(b, pk, w.wait, w.name)
				defer done()
				msg := bytes.Repeat([]byte{0xA5}, benchMsg)
				buf := make([]byte, 0, benchMsg)
				for range 1000 { // warm up both processes
					if err := tx.Send(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := rx.Recv(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				h := hdrhistogram.New(1, int64(10*time.Second), 3)
				b.ResetTimer()
				for range b.N {
					t0 := time.Now()
					if err := tx.Send(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := rx.Recv(buf[:0]); err != nil {
						b.Fatal(err)
					}
					_ = h.RecordValue(int64(time.Since(t0)))
				}
				b.StopTimer()
				b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")
				b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")
			})
		}
	}
}

// BenchmarkThroughput measures one-way 64-byte messages from Go to a C sink
// and to a Go sink.
func BenchmarkThroughput(b *testing.B) {
	for _, pk := range benchPeers {
		for _, w := range benchWaits {
			b.Run(fmt.Sprintf("peer=%s/wait=%s/size=%d", pk, w.name, benchMsg), func(b *testing.B) {
				name := newName(b)
				ch, tx := createEnd(b, name, 1<<20, w.wait, (*shm.Channel).Sender)
				defer ch.Close()
				lines := startSink(b, pk, name, w.name, false)
				msg := bytes.Repeat([]byte{0x5A}, benchMsg)
				b.SetBytes(benchMsg)
				b.ResetTimer()
				for range b.N {
					if err := tx.Send(msg); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Close(); err != nil {
					b.Fatal(err)
				}
				out := lines() // the sink has received everything when it exits
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				if st, err := ch.Stats(); err == nil {
					b.ReportMetric(float64(st.Receiver.Parks)/float64(b.N), "rx-parks/msg")
					b.ReportMetric(float64(st.Receiver.Waits)/float64(b.N), "rx-waits/msg")
					b.ReportMetric(float64(st.Sender.Wakes)/float64(b.N), "tx-wakes/msg")
					b.ReportMetric(float64(st.Sender.Parks)/float64(b.N), "tx-parks/msg")
				}
				checkSink(b, out)
			})
		}
	}
}

// checkSink checks that a sink's output out begins with its count of the
// b.N benchMsg-byte messages and their bytes.
func checkSink(b *testing.B, out []string) {
	b.Helper()
	want := fmt.Sprintf("sink %d %d", b.N, b.N*benchMsg)
	if len(out) == 0 || !strings.HasPrefix(strings.Join(out, "\n"), want) {
		b.Fatalf("sink said %q, want %q", out, want)
	}
}

// BenchmarkThroughputBatch is BenchmarkThroughput through the batch calls:
// Go's SendBatch, 32 messages a call, into a sink that receives with
// shmchan_recv_batch (peer=c) or RecvBatch (peer=go), up to 32 a call, both
// ends spinning. msgs/s as in BenchmarkThroughput.
func BenchmarkThroughputBatch(b *testing.B) {
	for _, pk := range benchPeers {
		b.Run(fmt.Sprintf("peer=%s/wait=spin/size=%d/batch=%d", pk, benchMsg, batchMax), func(b *testing.B) {
			name := newName(b)
			ch, tx := createEnd(b, name, 1<<20, shm.Spin, (*shm.Channel).Sender)
			defer ch.Close()
			lines := startSink(b, pk, name, "spin", true)
			msgs := make([][]byte, batchMax)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte{0x5A}, benchMsg)
			}
			b.SetBytes(benchMsg)
			b.ResetTimer()
			for i := 0; i < b.N; {
				n, err := tx.SendBatch(msgs[:min(batchMax, b.N-i)])
				if err != nil {
					b.Fatal(err)
				}
				i += n
			}
			if err := tx.Close(); err != nil {
				b.Fatal(err)
			}
			out := lines()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			checkSink(b, out)
		})
	}
}

// TestEchoAndSink runs the benchmarks' peers briefly, checking the bytes
// that come back, so that a plain test run covers them.
func TestEchoAndSink(t *testing.T) {
	for _, pk := range benchPeers {
		t.Run("peer="+pk, func(t *testing.T) {
			tx, rx, done := roundTrips(t, pk, shm.Adaptive, "adaptive")
			for i := range 1000 {
				msg := fmt.Appendf(nil, "round trip %d", i)
				if err := tx.Send(msg); err != nil {
					t.Fatal(err)
				}
				got, err := rx.Recv(nil)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo %d = %q, %v; want %q", i, got, err, msg)
				}
			}
			done()

			name := newName(t)
			ch, sink := createEnd(t, name, 1<<12, shm.Adaptive, (*shm.Channel).Sender) // Adaptive: the default
			defer ch.Close()
			out := startSink(t, pk, name, "block", false)
			for range 10000 {
				if err := sink.Send(make([]byte, benchMsg)); err != nil {
					t.Fatal(err)
				}
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			if l := out(); len(l) == 0 || l[0] != fmt.Sprintf("sink %d %d", 10000, 10000*benchMsg) {
				t.Fatalf("sink said %q", l)
			}

			// The batch sink, fed by batches.
			bname := newName(t)
			bch, btx := createEnd(t, bname, 1<<12, shm.Adaptive, (*shm.Channel).Sender) // Adaptive: the default
			defer bch.Close()
			out = startSink(t, pk, bname, "block", true)
			msgs := make([][]byte, batchMax)
			for i := range msgs {
				msgs[i] = make([]byte, benchMsg)
			}
			for sent := 0; sent < 10000; {
				n, err := btx.SendBatch(msgs[:min(batchMax, 10000-sent)])
				if err != nil {
					t.Fatal(err)
				}
				sent += n
			}
			if err := btx.Close(); err != nil {
				t.Fatal(err)
			}
			if l := out(); len(l) == 0 || l[0] != fmt.Sprintf("sink %d %d", 10000, 10000*benchMsg) {
				t.Fatalf("batch sink said %q", l)
			}
		})
	}
}
