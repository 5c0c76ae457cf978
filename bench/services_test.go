//go:build unix

package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// The services benchmarks (issue 13): shm.Conn and gRPC over shm.Listen and
// shm.Dial against a unix socket, server in a child process, in one run.
//
//	BenchmarkConnRoundTrip/transport=T/size=N  write N bytes, read the echo. T:
//	    shm-conn     a byte stream over an shm.Conn (Write, then io.ReadFull)
//	    shm-channel  the same Conn's channels as messages (Sender().Send, then
//	                 Receiver().Recv): the raw channel round trip
//	    shm-conn-block  shm-conn with WithWait(shm.Block) on Listen and
//	                 Dial: each side parks for every answer (the parked
//	                 round trip: two wakeups, through the poller)
//	    shm-conn-direct  shm-conn-block with WithDirectPark: each end
//	                 parks on its own futex (one thread hop per wakeup)
//	    unix-conn    a unix-socket net.Conn as a byte stream
//	BenchmarkGRPCUnary/transport=T  a unary call of grpc-go's health service
//	    over an shm listener with the default wait (T shm), with
//	    WithWait(shm.Block) on Listen and Dial (T shm-block, the setting
//	    docs/services.md recommends for gRPC), a unix socket (T unix), or
//	    grpc-go's in-memory bufconn listener, server in the benchmark's own
//	    process (T bufconn): no transport to speak of, so its p50 is gRPC's
//	    own cost per call, and unix/bufconn bounds the speedup any transport
//	    could show over the socket.
//
// Custom units: p50-ns and p99-ns are the median and the 99th percentile of
// every timed round trip or call, in nanoseconds.

func init() {
	// svc-grpc-server NETWORK ADDR: serve the health service, print
	// "ready", stop when stdin closes.
	testproc.Register("svc-grpc-server", func(args []string) int {
		l, err := svcListen(args[0], args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, health.NewServer())
		go func() { _ = s.Serve(l) }()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		s.Stop()
		return 0
	})
	// svc-echo-server TRANSPORT ADDR: echo every connection as a byte
	// stream, or message by message over the Conn's channels (shm-channel).
	testproc.Register("svc-echo-server", func(args []string) int {
		l, err := svcListen(svcEchoNetwork(args[0]), args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					if sc, ok := c.(*shm.Conn); ok && args[0] == "shm-channel" {
						var buf []byte
						for {
							var err error
							if buf, err = sc.Receiver().Recv(buf[:0]); err != nil {
								return
							}
							if err := sc.Sender().Send(buf); err != nil {
								return
							}
						}
					}
					_, _ = io.Copy(c, c)
				}()
			}
		}()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = l.Close()
		return 0
	})
}

// svcEchoNetwork is the network of a BenchmarkConnRoundTrip transport.
func svcEchoNetwork(transport string) string {
	switch transport {
	case "unix-conn":
		return "unix"
	case "shm-conn-block":
		return "shm-block"
	case "shm-conn-direct":
		return "shm-direct"
	}
	return "shm"
}

// svcListen listens on addr: network "shm", "shm-block" (shm with
// WithWait(shm.Block)), "shm-direct" (shm-block with WithDirectPark) or
// "unix".
func svcListen(network, addr string) (net.Listener, error) {
	if o, ok := svcShm(network); ok {
		return shm.Listen(addr, o...)
	}
	return net.Listen(network, addr)
}

// svcShm reports whether network is shm, and its options.
func svcShm(network string) ([]shm.Option, bool) {
	switch network {
	case "shm":
		return nil, true
	case "shm-block":
		return []shm.Option{shm.WithWait(shm.Block)}, true
	case "shm-direct":
		return []shm.Option{shm.WithWait(shm.Block), shm.WithDirectPark()}, true
	}
	return nil, false
}

// svcServer runs role in a child process and waits for its "ready".
func svcServer(tb testing.TB, role string, args ...string) (pid int) {
	tb.Helper()
	cmd := testproc.Command(tb, role, args...)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		tb.Fatalf("%s did not start: %v", role, err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// svcAddr returns a listener name (shm) or a socket path (unix).
func svcAddr(tb testing.TB, network string) string {
	tb.Helper()
	if _, ok := svcShm(network); !ok {
		return filepath.Join(tb.TempDir(), "s")
	}
	name := testproc.Name(tb, "bench")
	tb.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name
}

// svcGRPCClient starts the health server of network (in a child process,
// or in this one for bufconn) and returns a client of it and the server's
// pid (0: this process).
func svcGRPCClient(tb testing.TB, network string) (healthpb.HealthClient, int) {
	tb.Helper()
	if network == "bufconn" {
		l := bufconn.Listen(1 << 20)
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, health.NewServer())
		go func() { _ = s.Serve(l) }()
		tb.Cleanup(s.Stop)
		return svcGRPC(tb, network, "bufconn", func(ctx context.Context, _ string) (net.Conn, error) {
			return l.DialContext(ctx)
		}), 0
	}
	a := svcAddr(tb, network)
	pid := svcServer(tb, "svc-grpc-server", network, a)
	return svcGRPC(tb, network, a, nil), pid
}

// svcGRPC returns a client of the health service at address, dialled with
// dial, or else over network.
func svcGRPC(tb testing.TB, network, address string, dial func(context.Context, string) (net.Conn, error)) healthpb.HealthClient {
	tb.Helper()
	cc, err := grpc.NewClient("passthrough:///"+address,
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			if dial != nil {
				return dial(ctx, a)
			}
			if o, ok := svcShm(network); ok {
				return shm.DialContext(ctx, a, o...)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	return healthpb.NewHealthClient(cc)
}

// svcEcho dials the echo server of transport and returns one round trip.
func svcEcho(tb testing.TB, transport string, size int) func() error {
	tb.Helper()
	network := svcEchoNetwork(transport)
	a := svcAddr(tb, network)
	svcServer(tb, "svc-echo-server", transport, a)
	var c net.Conn
	var err error
	if o, ok := svcShm(network); ok {
		c, err = shm.Dial(a, o...)
	} else {
		c, err = net.Dial(network, a)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	msg, buf := make([]byte, size), make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	if sc, ok := c.(*shm.Conn); ok && transport == "shm-channel" {
		return func() error {
			if err := sc.Sender().Send(msg); err != nil {
				return err
			}
			var err error
			if buf, err = sc.Receiver().Recv(buf[:0]); err != nil {
				return err
			}
			if len(buf) != size {
				return fmt.Errorf("echo of %d bytes, want %d", len(buf), size)
			}
			return nil
		}
	}
	return func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, buf[:size])
		return err
	}
}

// BenchmarkConnRoundTrip measures a write of size bytes and the read of its
// echo, per ServiceConnTransports. ns/op is one round trip.
func BenchmarkConnRoundTrip(b *testing.B) {
	for _, tr := range ServiceConnTransports {
		b.Run("transport="+tr, func(b *testing.B) {
			for _, size := range []int{64, 4096} {
				b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
					rt := svcEcho(b, tr, size)
					for range 1000 {
						if err := rt(); err != nil {
							b.Fatal(err)
						}
					}
					lat := make([]time.Duration, 0, b.N)
					b.SetBytes(int64(2 * size))
					b.ResetTimer()
					for b.Loop() {
						t0 := time.Now()
						if err := rt(); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t0))
					}
					b.StopTimer()
					svcPercentiles(b, lat)
				})
			}
		})
	}
}

// BenchmarkGRPCUnary measures unary calls of the health service over shm
// and over a unix socket. ns/op is one call.
func BenchmarkGRPCUnary(b *testing.B) {
	for _, network := range GRPCTransports {
		b.Run("transport="+network, func(b *testing.B) {
			hc, server := svcGRPCClient(b, network)
			req := &healthpb.HealthCheckRequest{}
			for range 100 { // warm up: connection, HTTP/2 settings, buffers
				if _, err := hc.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			pids := []int{os.Getpid()}
			if server != 0 {
				pids = append(pids, server)
			}
			cs0, csOK := ctxSwitches(pids...)
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := hc.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			if cs1, ok := ctxSwitches(pids...); ok && csOK {
				b.ReportMetric(float64(cs1-cs0)/float64(len(lat)), "cs/op")
			}
			svcPercentiles(b, lat)
		})
	}
}

func svcPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// TestServiceServers runs each services benchmark's server once: an echo
// per transport and 100 gRPC calls per network.
func TestServiceServers(t *testing.T) {
	for _, tr := range ServiceConnTransports {
		t.Run(tr, func(t *testing.T) {
			rt := svcEcho(t, tr, 100)
			for range 10 {
				if err := rt(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	for _, network := range GRPCTransports {
		t.Run("grpc-"+network, func(t *testing.T) {
			hc, _ := svcGRPCClient(t, network)
			for i := range 100 {
				resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if resp.Status != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("call %d: status %v", i, resp.Status)
				}
			}
		})
	}
}
