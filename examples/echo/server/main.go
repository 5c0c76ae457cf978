// Command server is an echo server on a shmchan listener, for the C client
// in ../client.c (or any shm.Dial client): every connection gets back what
// it sends.
//
//	go run ./examples/echo/server -name echo-demo &
//	make -C shm/c && shm/c/build/echo-client echo-demo 1000
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/shmchan/shmchan/shm"
)

func main() {
	name := flag.String("name", "echo-demo", "listener name")
	flag.Parse()
	l, err := shm.Listen(*name)
	if err != nil {
		log.Fatal(err)
	}
	// On SIGINT or SIGTERM, close the listener: that removes its name.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Printf("echo server on shm listener %q", *name)
	done := make(chan error, 1)
	go func() { done <- serve(l) }()
	select {
	case err := <-done:
		log.Fatal(err)
	case <-ctx.Done():
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}
	if err := <-done; !errors.Is(err, shm.ErrClosed) {
		log.Fatal(err)
	}
}

// serve echoes every connection that l accepts, until Accept fails.
func serve(l *shm.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}
