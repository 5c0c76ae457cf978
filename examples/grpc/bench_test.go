package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shmchan/shmchan/shm"
)

// Benchmarks, server in a child process, client in the benchmark, in one
// run so that the transports are compared on the same machine state:
//
//	cd examples/grpc && go test -run '^$' -bench . -count 5 | benchstat
//
// They live in this module because gRPC is not a dependency of the library;
// bench/ may adopt them once it is a module of its own.

// BenchmarkGRPCUnary measures unary calls of the health service. Custom
// units: p50-ns and p99-ns are the median and 99th percentile of the call
// latencies, in nanoseconds.
func BenchmarkGRPCUnary(b *testing.B) {
	for _, network := range []string{"shm", "unix"} {
		b.Run("transport="+network, func(b *testing.B) {
			a := addr(b, network)
			startServer(b, "grpc-server", network, a)
			hc := healthpb.NewHealthClient(dial(b, network, a))
			req := &healthpb.HealthCheckRequest{}
			for range 100 { // warm up: connection, HTTP/2 settings, buffers
				if _, err := hc.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := hc.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkConnRoundTrip measures a write of size bytes and the read of its
// echo: over an shm.Conn as a stream, over the same Conn's channels as
// messages (the raw channel round trip, Send then Recv), and over a
// unix-socket net.Conn. ns/op is one round trip; p50-ns and p99-ns as above.
func BenchmarkConnRoundTrip(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, tc := range []struct{ network, mode string }{
			{"shm", "stream"}, {"shm", "message"}, {"unix", "stream"},
		} {
			b.Run(fmt.Sprintf("transport=%s/mode=%s/size=%d", tc.network, tc.mode, size), func(b *testing.B) {
				a := addr(b, tc.network)
				startServer(b, "echo-server", tc.network, a, tc.mode)
				var c net.Conn
				var err error
				if tc.network == "shm" {
					c, err = shm.Dial(a)
				} else {
					c, err = net.Dial(tc.network, a)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				msg := make([]byte, size)
				buf := make([]byte, size)
				rt := func() {
					if sc, ok := c.(*shm.Conn); ok && tc.mode == "message" {
						if err := sc.Sender().Send(msg); err != nil {
							b.Fatal(err)
						}
						if buf, err = sc.Receiver().Recv(buf[:0]); err != nil || len(buf) != size {
							b.Fatal(err)
						}
						return
					}
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, buf[:size]); err != nil {
						b.Fatal(err)
					}
				}
				for range 1000 {
					rt()
				}
				lat := make([]time.Duration, 0, b.N)
				b.SetBytes(int64(2 * size))
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					rt()
					lat = append(lat, time.Since(t0))
				}
				b.StopTimer()
				reportPercentiles(b, lat)
			})
		}
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
