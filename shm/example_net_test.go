package shm_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/shmchan/shmchan/shm"
)

// Listen serves a name; Dial connects to it, here from the same process,
// usually from another one. The connection is a net.Conn.
func ExampleListen() {
	l, err := shm.Listen(exampleName("listen"))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close() // also removes the name
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "echo: %s", line)
	}()

	c, err := shm.Dial(exampleName("listen"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(reply)
	fmt.Println(c.RemoteAddr().Network())
	// Output:
	// echo: hello
	// shm
}

// net/http runs over Listen and Dial: the server serves the Listener, the
// client's Transport dials with DialContext.
func ExampleDialContext_http() {
	l, err := shm.Listen(exampleName("http"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	})}
	go srv.Serve(l)
	defer srv.Close() // closes l

	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return shm.DialContext(ctx, exampleName("http"))
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://any/shm")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(strings.TrimSpace(string(body)))
	// Output: hello from /shm
}
