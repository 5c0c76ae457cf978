package main_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

// gRPC over shmchan in two processes: the server is this test binary
// re-executed (testproc), the client is the test.

func init() {
	// grpc-server NETWORK ADDR: serve the health service on an shm listener
	// (NETWORK "shm") or a unix socket, print "ready", and stop when stdin
	// closes.
	testproc.Register("grpc-server", func(args []string) int {
		l, err := listen(args[0], args[1])
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
	// echo-server NETWORK ADDR MODE: echo every connection, as a byte stream
	// (MODE "stream") or message by message over the Conn's channels (MODE
	// "message", shm only).
	testproc.Register("echo-server", func(args []string) int {
		l, err := listen(args[0], args[1])
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
					if sc, ok := c.(*shm.Conn); ok && args[2] == "message" {
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

func TestMain(m *testing.M) { testproc.Main(m) }

func listen(network, addr string) (net.Listener, error) {
	if network == "shm" {
		return shm.Listen(addr)
	}
	return net.Listen(network, addr)
}

// startServer runs role in a child process and waits for its "ready".
func startServer(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := testproc.Command(t, role, args...)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("%s did not start: %v", role, err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	return cmd
}

// addr returns a listener name (shm) or socket path (unix) for the test.
func addr(t testing.TB, network string) string {
	t.Helper()
	if network == "unix" {
		return filepath.Join(t.TempDir(), "s")
	}
	name := testproc.Name(t, "grpctest")
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Remove(%q): %v", name, err)
		}
	})
	return name
}

func dial(t testing.TB, network, address string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+address,
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			if network == "shm" {
				return shm.DialContext(ctx, a)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// 20,000 unary calls over shm with no error.
func TestGRPCUnary(t *testing.T) {
	name := addr(t, "shm")
	startServer(t, "grpc-server", "shm", name)
	hc := healthpb.NewHealthClient(dial(t, "shm", name))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("call %d: status %v", i, resp.Status)
		}
	}
}

// The benchmarks' echo server, checked once per transport and mode.
func TestEchoServer(t *testing.T) {
	for _, tc := range []struct{ network, mode string }{{"shm", "stream"}, {"shm", "message"}, {"unix", "stream"}} {
		t.Run(tc.network+"/"+tc.mode, func(t *testing.T) {
			a := addr(t, tc.network)
			startServer(t, "echo-server", tc.network, a, tc.mode)
			var c net.Conn
			var err error
			if tc.network == "shm" {
				c, err = shm.Dial(a)
			} else {
				c, err = net.Dial(tc.network, a)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := []byte("round trip")
			got := make([]byte, len(msg))
			if sc, ok := c.(*shm.Conn); ok && tc.mode == "message" {
				if err := sc.Sender().Send(msg); err != nil {
					t.Fatal(err)
				}
				if got, err = sc.Receiver().Recv(got[:0]); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != string(msg) {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		})
	}
}

// TestNothingLeft runs last in file order: no connection channel of this
// process is left in /dev/shm.
func TestNothingLeft(t *testing.T) {
	des, err := os.ReadDir("/dev/shm")
	if err != nil {
		t.Skip(err)
	}
	prefix := fmt.Sprintf("shmc-%d-", os.Getpid())
	for _, de := range des {
		if strings.HasPrefix(de.Name(), prefix) {
			t.Errorf("left in /dev/shm: %s", de.Name())
		}
	}
}
