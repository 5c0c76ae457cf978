package shm_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
	"github.com/shmchan/shmchan/shm"
)

func init() {
	// net-http-server NAME: serve HTTP on a listener until stdin closes.
	testproc.Register("net-http-server", func(args []string) int {
		l, err := shm.Listen(args[0])
		if err != nil {
			return fail("Listen: %v", err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %d", r.URL.Path, len(body))
		})}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			return fail("Serve: %v", err)
		}
		return 0
	})
}

// net/http over Listen/Dial in two processes: 20,000 requests from 8
// goroutines through a Transport whose DialContext is shm.DialContext.
func TestConnHTTP(t *testing.T) {
	requireLinux(t, "net-http-server")
	name := newName(t)
	cmd := testproc.Command(t, "net-http-server", name)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return shm.DialContext(ctx, name)
		},
		MaxIdleConnsPerHost: 8,
	}
	client := &http.Client{Transport: tr}
	total := 20000
	if testing.Short() {
		total = 2000
	}
	const par = 8
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for g := range par {
		wg.Go(func() {
			for i := g; i < total; i += par {
				path := "/r" + strconv.Itoa(i)
				resp, err := client.Get("http://shm" + path)
				if err != nil {
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != path+" 0" {
					errs <- fmt.Errorf("request %d: body %q, %v", i, body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr.CloseIdleConnections()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
	checkNoConnLeft(t, os.Getpid())
}
